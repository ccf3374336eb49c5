"""XML: records are the elements named by the row tag.

The built-in classifier finds the row tag itself: the most frequent child element of the root.
A custom classifier names it (``RowTag``). Child elements become columns, attributes become
``_name`` columns (Spark's XML reader uses the same prefix), repeated children become arrays.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections import Counter

from sparkglue.crawler.classifiers.base import (
    Inferred,
    Verdict,
    infer_text_type,
    merge_types,
    unknown,
)
from sparkglue.crawler.sample import FileSample

__all__ = ["XmlClassifier"]

XML_SERDE = "com.ibm.spss.hive.serde2.xml.XmlSerDe"
_MAX_RECORDS = 1000


def _local(tag: str) -> str:
    """``{namespace}name`` → ``name``: Spark's XML reader and catalog columns use local names."""
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


def _element_type(element: ET.Element) -> str | None:
    children = list(element)
    if not children and not element.attrib:
        return infer_text_type(element.text or "")
    fields: dict[str, str | None] = {}
    counts = Counter(_local(child.tag) for child in children)
    for name, value in element.attrib.items():
        key = f"_{_local(name)}"
        fields[key] = merge_types(fields.get(key), infer_text_type(value))
    for child in children:
        tag = _local(child.tag)
        child_type = _element_type(child)
        if counts[tag] > 1:
            child_type = f"array<{child_type or 'string'}>"
        fields[tag] = merge_types(fields.get(tag), child_type)
    if children == [] and (element.text or "").strip():
        fields["_VALUE"] = infer_text_type(element.text or "")
    if not fields:
        return None
    from sparkglue.catalog.types import HiveType, parse_type

    return str(
        HiveType(
            "struct",
            children=tuple(parse_type(t or "string") for t in fields.values()),
            field_names=tuple(fields),
        )
    )


class XmlClassifier:
    def __init__(
        self, name: str = "xml", row_tag: str | None = None, classification: str = "xml"
    ) -> None:
        self.name = name
        self.row_tag = row_tag
        self.classification = classification

    def classify(self, sample: FileSample) -> Verdict:
        raw = sample.head()
        if sample.head_error:
            return unknown(self.name, self.classification, sample.head_error)
        if not raw.lstrip().startswith(b"<"):
            return unknown(self.name, self.classification, "does not start with '<'")
        depth = 0
        root_children: Counter[str] = Counter()
        rows: list[ET.Element] = []
        try:
            for event, element in ET.iterparse(io.BytesIO(raw), events=("start", "end")):
                if event == "start":
                    depth += 1
                    continue
                depth -= 1
                tag = _local(element.tag)
                if self.row_tag is not None:
                    if tag == self.row_tag:
                        rows.append(element)
                elif depth == 1:
                    root_children[tag] += 1
                    rows.append(element)
                if len(rows) >= _MAX_RECORDS:
                    break
        except ET.ParseError as exc:
            if sample.head_is_whole_file and not rows:
                return unknown(self.name, self.classification, f"not well-formed XML: {exc}")
            if sample.head_is_whole_file and depth > 0:
                return unknown(self.name, self.classification, f"not well-formed XML: {exc}")
        row_tag = self.row_tag or (root_children.most_common(1)[0][0] if root_children else None)
        rows = [r for r in rows if _local(r.tag) == row_tag]
        if not row_tag or not rows:
            why = (
                f"no <{self.row_tag}> elements"
                if self.row_tag
                else "no repeated row element under the root"
            )
            return unknown(self.name, self.classification, why)
        fields: dict[str, str | None] = {}
        for row in rows:
            row_type = _element_type(row)
            if row_type is None or not row_type.startswith("struct<"):
                fields["_VALUE"] = merge_types(fields.get("_VALUE"), row_type)
                continue
            from sparkglue.catalog.types import parse_type

            parsed = parse_type(row_type)
            for name, child in zip(parsed.field_names, parsed.children, strict=True):
                fields[name] = merge_types(fields.get(name), str(child))
        return Verdict(
            self.name,
            self.classification,
            1.0,
            f"row tag <{row_tag}>{'' if self.row_tag else ' (found)'}: {len(rows)} rows sampled",
            Inferred(
                columns=[(k, t or "string") for k, t in fields.items()],
                serde_library=XML_SERDE,
                serde_parameters={"rowTag": row_tag},
                parameters={"typeOfData": "file", "rowTag": row_tag},
                records=max(
                    len(rows),
                    len(re.findall(rb"<" + re.escape(row_tag.encode()) + rb"[\s/>]", raw)),
                ),
                sampled_bytes=len(raw),
            ),
        )
