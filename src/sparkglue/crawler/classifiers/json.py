"""JSON: JSON Lines (one object per line) or a top-level array of objects.

A top-level array's elements are the records (what Spark's JSON reader does, and what Glue
gives with a ``$[*]`` JsonPath). A custom classifier's JsonPath picks the records: ``$``
(the document or each line), ``$[*]`` (array elements) or ``$.a.b[*]`` (elements under a key).
"""

from __future__ import annotations

import json
from typing import Any

from sparkglue.crawler.classifiers.base import Inferred, Verdict, merge_types, unknown
from sparkglue.crawler.sample import FileSample
from sparkglue.formats.jsonpath import parse_json_path, select

__all__ = ["JsonClassifier", "json_value_type"]

JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
_MAX_RECORDS = 1000
_DECODER = json.JSONDecoder()


def json_value_type(value: Any) -> str | None:
    """The Hive type of a decoded JSON value (None for null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint" if -(2**63) <= value < 2**63 else "double"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        inner: str | None = None
        for item in value:
            inner = merge_types(inner, json_value_type(item))
        return f"array<{inner or 'string'}>"
    if isinstance(value, dict):
        if not value:
            return "string"
        from sparkglue.catalog.types import HiveType, parse_type

        names = tuple(value)
        children = tuple(parse_type(json_value_type(v) or "string") for v in value.values())
        return str(HiveType("struct", children=children, field_names=names))
    return "string"


_SCALAR = {bool: "boolean", float: "double", str: "string"}


def _record_types(objects: list[dict[str, Any]]) -> dict[str, str | None]:
    """Each key's type over many records; scalar columns are typed by the set of Python types
    seen (cheap), nested values by merging their types."""
    keys: dict[str, None] = {}
    for record in objects:
        keys.update(dict.fromkeys(record))
    columns: dict[str, str | None] = {}
    for key in keys:
        values = [r[key] for r in objects if key in r]
        kinds = {type(v) for v in values} - {type(None)}
        if not kinds:
            columns[key] = None
        elif kinds == {int}:
            ints = [v for v in values if v is not None]
            columns[key] = "bigint" if min(ints) >= -(2**63) and max(ints) < 2**63 else "double"
        elif kinds <= {int, float}:
            columns[key] = "double"
        elif len(kinds) == 1 and next(iter(kinds)) in _SCALAR:
            columns[key] = _SCALAR[next(iter(kinds))]
        else:
            merged: str | None = None
            for value in values:
                merged = merge_types(merged, json_value_type(value))
            columns[key] = merged
    return columns


def _count_array_elements(text: str, start: int) -> int:
    """How many complete elements the (possibly cut) array from ``text[start]`` holds."""
    count, pos, n = 0, start, len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n or text[pos] == "]":
            return count
        try:
            _, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError:
            return count
        count += 1


def _records_from_array(text: str, start: int, complete: bool) -> tuple[list[Any], bool]:
    """Decode array elements one by one from ``text[start]`` (just after ``[``)."""
    records: list[Any] = []
    pos, n = start, len(text)
    while len(records) < _MAX_RECORDS:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n:
            return records, not complete  # the sample ended inside the array
        if text[pos] == "]":
            return records, True
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError:
            if not complete:
                return records, True  # an element cut by the end of the sample
            raise
        records.append(value)
    return records, True


class JsonClassifier:
    """Built-in JSON classifier, or a custom one with a JsonPath."""

    def __init__(
        self, name: str = "json", json_path: str | None = None, classification: str = "json"
    ) -> None:
        self.name = name
        self.classification = classification
        self.json_path = json_path
        self._steps = parse_json_path(json_path) if json_path else None

    def classify(self, sample: FileSample) -> Verdict:
        raw = sample.head()
        if sample.head_error:
            return unknown(self.name, self.classification, sample.head_error)
        try:
            text = raw.decode("utf-8").lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            if sample.head_is_whole_file or exc.start < len(raw) - 4:
                return unknown(self.name, self.classification, f"not UTF-8 text (byte {exc.start})")
            text = raw[: exc.start].decode("utf-8").lstrip("\ufeff")
        stripped = text.lstrip()
        if not stripped or stripped[0] not in "[{":
            return unknown(self.name, self.classification, "does not start with '{' or '['")
        complete = sample.head_is_whole_file
        multi_line = False
        try:
            if stripped[0] == "[":
                records, _ = _records_from_array(stripped, 1, complete)
                multi_line = True
                how = "a top-level array"
            else:
                records, multi_line = self._lines_or_document(stripped, complete)
                how = "a multi-line document" if multi_line else "JSON Lines"
        except (json.JSONDecodeError, ValueError) as exc:
            return unknown(self.name, self.classification, f"not valid JSON: {exc}")
        if self._steps is not None:
            selected: list[Any] = []
            for record in records:
                selected.extend(select(record, self._steps))
            records, how = selected, f"{how}, records at {self.json_path}"
        objects = [r for r in records if isinstance(r, dict)]
        if not objects:
            return unknown(self.name, self.classification, f"{how} with no JSON objects")
        columns = _record_types(objects)
        params = {"typeOfData": "file"}
        if multi_line:
            params["multiLine"] = "true"
        if self.json_path:
            params["jsonPath"] = self.json_path
        sampled = len(raw)
        records_in_head = len(objects)
        if stripped[0] == "[" and self._steps is None:
            records_in_head = _count_array_elements(stripped, 1)
        if not multi_line and self._steps is None:
            records_in_head = sum(
                1 for line in text.splitlines()[: None if complete else -1] if line.strip()
            )
        return Verdict(
            self.name,
            self.classification,
            1.0,
            f"{how}: {len(objects)} object(s) sampled, {len(columns)} fields",
            Inferred(
                columns=[(k, t or "string") for k, t in columns.items()],
                serde_library=JSON_SERDE,
                serde_parameters={"paths": ",".join(columns)},
                parameters=params,
                records=records_in_head,
                sampled_bytes=sampled,
            ),
        )

    @staticmethod
    def _lines_or_document(text: str, complete: bool) -> tuple[list[Any], bool]:
        lines = text.splitlines()
        if not complete and lines:
            lines = lines[:-1]
        present = [line for line in lines[: _MAX_RECORDS * 2] if line.strip()][:_MAX_RECORDS]
        if len(present) > 1:
            try:  # one C-speed parse for the common case: every line a JSON value
                return json.loads("[" + ",".join(present) + "]"), False
            except json.JSONDecodeError:
                pass  # find the line at fault below
        records: list[Any] = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if number == 1:
                    # one object over several lines
                    value, _ = _DECODER.raw_decode(text)
                    return [value], True
                if not any(rest.strip() for rest in lines[number:]) and records:
                    break  # a last line cut short (a file still being written): ignore it
                raise ValueError(f"line {number} is not a JSON value") from None
            if len(records) >= _MAX_RECORDS:
                break
        return records, False
