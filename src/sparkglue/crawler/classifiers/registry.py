"""Choosing a classification for a file, as Glue does.

Custom classifiers run first, in the crawler's order; then the built-ins in Glue's order: avro,
orc, parquet, json, xml, the log formats, csv. A certainty of 1.0 wins at once; otherwise the
highest certainty above 0.0 wins; nothing above 0.0 gives ``UNKNOWN``. Every verdict is kept so
a crawl can explain its choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sparkglue.crawler.classifiers.base import Classifier, Verdict
from sparkglue.crawler.classifiers.columnar import AvroClassifier, OrcClassifier, ParquetClassifier
from sparkglue.crawler.classifiers.csv import CsvClassifier, CsvOptions
from sparkglue.crawler.classifiers.grok import BUILTIN_LOG_CLASSIFIERS, GrokClassifier
from sparkglue.crawler.classifiers.json import JsonClassifier
from sparkglue.crawler.classifiers.xml import XmlClassifier
from sparkglue.crawler.sample import FileSample

__all__ = ["UNKNOWN", "builtin_classifiers", "classify", "custom_classifier"]

UNKNOWN = "UNKNOWN"


@cache
def builtin_classifiers() -> tuple[Classifier, ...]:
    logs: list[Classifier] = [
        GrokClassifier(name, name, pattern, builtin=True)
        for name, pattern in BUILTIN_LOG_CLASSIFIERS
    ]
    return (
        AvroClassifier(),
        OrcClassifier(),
        ParquetClassifier(),
        JsonClassifier(),
        XmlClassifier(),
        *logs,
        CsvClassifier(),
    )


def custom_classifier(name: str, kind: str, definition: dict[str, Any]) -> Classifier:
    """A classifier from its stored definition (see ``crawler.specs``)."""
    classification = str(definition.get("classification") or kind)
    if kind == "grok":
        return GrokClassifier(
            name, classification, definition["grok_pattern"], definition.get("custom_patterns")
        )
    if kind == "csv":
        return CsvClassifier(
            name,
            CsvOptions(
                delimiter=definition.get("delimiter"),
                quote_symbol=definition.get("quote_symbol") or '"',
                contains_header=definition.get("contains_header") or "UNKNOWN",
                header=tuple(definition.get("header") or ()),
                disable_value_trimming=bool(definition.get("disable_value_trimming")),
                allow_single_column=bool(definition.get("allow_single_column")),
            ),
            classification=classification,
        )
    if kind == "json":
        return JsonClassifier(name, definition["json_path"], classification=classification)
    if kind == "xml":
        return XmlClassifier(name, definition["row_tag"], classification=classification)
    raise ValueError(f"unknown classifier kind {kind}")


def classify(
    sample: FileSample, custom: Sequence[Classifier] = ()
) -> tuple[Verdict | None, list[Verdict]]:
    """The winning verdict (None for UNKNOWN) and every verdict tried, in order."""
    tried: list[Verdict] = []
    best: Verdict | None = None
    for classifier in (*custom, *builtin_classifiers()):
        try:
            verdict = classifier.classify(sample)
        except Exception as exc:  # a classifier must never fail the crawl; record why
            verdict = Verdict(
                classifier.name,
                classifier.classification,
                0.0,
                f"classifier failed: {type(exc).__name__}: {exc}",
            )
        tried.append(verdict)
        if verdict.certainty >= 1.0:
            return verdict, tried
        if verdict.certainty > 0.0 and (best is None or verdict.certainty > best.certainty):
            best = verdict
    return best, tried
