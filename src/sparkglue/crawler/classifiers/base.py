"""What a classifier returns, and the type inference the text classifiers share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from sparkglue.crawler.sample import FileSample

__all__ = ["Classifier", "Inferred", "Verdict", "infer_text_type", "merge_types", "unknown"]


@dataclass
class Inferred:
    """A schema a classifier read from a file."""

    columns: list[tuple[str, str]]  # (name, Hive type)
    serde_library: str | None = None
    serde_parameters: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)  # table parameters
    records: int | None = None  # records seen in the sample (or exact, see records_exact)
    records_exact: bool = False
    sampled_bytes: int = 0  # decompressed bytes the records came from
    file_bytes_read: int = 0  # stored bytes the records came from, when not the text head


@dataclass
class Verdict:
    """One classifier's answer for one file."""

    classifier: str
    classification: str
    certainty: float
    reason: str
    schema: Inferred | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "classifier": self.classifier,
            "classification": self.classification,
            "certainty": self.certainty,
            "reason": self.reason,
        }


def unknown(classifier: str, classification: str, reason: str) -> Verdict:
    return Verdict(classifier, classification, 0.0, reason)


class Classifier(Protocol):
    """Reads a file sample and says how sure it is that the file is of its kind."""

    name: str
    classification: str

    def classify(self, sample: FileSample) -> Verdict: ...


_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?")
_BOOL = {"true", "false"}
_INT64 = (-(2**63), 2**63 - 1)

# The widening order of scalar types; anything that does not fit becomes string.
_RANK = {"boolean": 0, "bigint": 1, "double": 2, "string": 3}


def infer_text_type(value: str) -> str | None:
    """The Hive type of one text value (None for an empty value, which fits any type)."""
    text = value.strip()
    if not text:
        return None
    if _INT.fullmatch(text):
        return "bigint" if _INT64[0] <= int(text) <= _INT64[1] else "double"
    if _FLOAT.fullmatch(text):
        return "double"
    if text.lower() in _BOOL:
        return "boolean"
    return "string"


# Whole-column patterns: one value per line, blanks around a value and empty values allowed.
_B = r"[ \t\r\f\v]*"
_EMPTY_OR = r"(?:" + _B + r"(?:{v})?" + _B + r")"
# ASCII digits only, as Spark and Hive parse numbers (Python's \d takes any script's digits).
_NUM_INT = r"[+-]?[0-9]+"
_NUM_FLOAT = r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?"
_WORD_BOOL = r"(?i:true|false)"
_INT_LINES = re.compile(r"(?:{0}\n)*{0}".format(_EMPTY_OR.format(v=_NUM_INT)))
_FLOAT_LINES = re.compile(r"(?:{0}\n)*{0}".format(_EMPTY_OR.format(v=_NUM_FLOAT)))
_BOOL_LINES = re.compile(r"(?:{0}\n)*{0}".format(_EMPTY_OR.format(v=_WORD_BOOL)))
_INT_TOKENS = re.compile(_NUM_INT)


def infer_column_type(values: list[str]) -> str | None:
    """The type of a whole column of text values: a few regex passes over the joined column,
    not one per value (the same answer as merging ``infer_text_type`` of each value)."""
    joined = "\n".join(values)
    if not joined.strip():
        return None
    if joined.count("\n") != len(values) - 1:  # a value holds a line break: text
        return "string"
    if _INT_LINES.fullmatch(joined):
        if max(map(len, values)) < 19:
            return "bigint"
        fits = all(_INT64[0] <= int(v) <= _INT64[1] for v in _INT_TOKENS.findall(joined))
        return "bigint" if fits else "double"
    if _FLOAT_LINES.fullmatch(joined):
        return "double"
    if _BOOL_LINES.fullmatch(joined):
        return "boolean"
    return "string"


def merge_types(a: str | None, b: str | None) -> str | None:
    """The narrowest type both values fit: bigint+double → double; boolean+number → string."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    if {a, b} <= {"bigint", "double"}:
        return "double"
    if a in _RANK and b in _RANK:
        return "string"
    return _merge_complex(a, b)


def _merge_complex(a: str, b: str) -> str:
    from sparkglue.catalog.types import parse_type

    ta, tb = parse_type(a), parse_type(b)
    if ta.name == tb.name == "array":
        inner = merge_types(str(ta.children[0]), str(tb.children[0])) or "string"
        return f"array<{inner}>"
    if ta.name == tb.name == "struct":
        fields: dict[str, str] = {}
        order: list[str] = []
        for names, types in ((ta.field_names, ta.children), (tb.field_names, tb.children)):
            for name, typ in zip(names, types, strict=True):
                if name not in fields:
                    order.append(name)
                    fields[name] = str(typ)
                else:
                    fields[name] = merge_types(fields[name], str(typ)) or "string"
        from sparkglue.catalog.types import HiveType

        return str(
            HiveType(
                "struct",
                children=tuple(parse_type(fields[n]) for n in order),
                field_names=tuple(order),
            )
        )
    return "string"
