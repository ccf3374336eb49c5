"""Glue's CSV classifier, built-in and custom.

Built-in rules (Glue's): delimiters ``,`` ``|`` tab ``;`` and Ctrl-A; at least two columns and
two rows; a header row is recognised only when every cell of it is a string shorter than 150
characters that is a valid column name AND the data differs from it (at least one data column
is not a string); otherwise columns are named ``col0, col1, …``.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sparkglue.crawler.classifiers.base import (
    Inferred,
    Verdict,
    infer_column_type,
    infer_text_type,
    merge_types,
    unknown,
)
from sparkglue.crawler.native import active_typer
from sparkglue.crawler.sample import FileSample

__all__ = ["CsvClassifier", "CsvOptions"]

BUILTIN_DELIMITERS = (",", "|", "\t", ";", "\u0001")
_MAX_ROWS = 1000  # Glue reads the first 1,000 records (or 1 MB) of a file
LAZY_SIMPLE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV = "org.apache.hadoop.hive.serde2.OpenCSVSerde"


@dataclass(frozen=True)
class CsvOptions:
    """A custom CSV classifier's settings (Glue's CsvClassifier fields)."""

    delimiter: str | None = None  # None: try the built-in delimiters
    quote_symbol: str = '"'
    contains_header: str = "UNKNOWN"  # UNKNOWN | PRESENT | ABSENT
    header: tuple[str, ...] = ()
    disable_value_trimming: bool = False
    allow_single_column: bool = False


def _valid_name(cell: str) -> bool:
    return 0 < len(cell) < 150 and not any(ord(c) < 32 for c in cell)


def _column_name(cell: str) -> str:
    return cell.strip().lower()


class CsvClassifier:
    """The CSV classifier; with ``options`` it is a custom one."""

    classification = "csv"

    def __init__(
        self, name: str = "csv", options: CsvOptions | None = None, classification: str = "csv"
    ) -> None:
        self.name = name
        self.options = options or CsvOptions()
        self.classification = classification

    def classify(self, sample: FileSample) -> Verdict:
        opts = self.options
        text = sample.text()
        if sample.head_error or sample.text_error:
            why = sample.head_error or sample.text_error or ""
            return unknown(self.name, self.classification, why)
        if not text:
            return unknown(self.name, self.classification, "the file is empty")
        if "\x00" in text:
            return unknown(self.name, self.classification, "binary content (NUL bytes)")
        complete = sample.head_is_whole_file
        lines_text = text if complete else text[: text.rfind("\n") + 1]
        delimiters = (opts.delimiter,) if opts.delimiter else BUILTIN_DELIMITERS
        min_columns = 1 if opts.allow_single_column else 2

        native = active_typer()
        data = lines_text.encode("utf-8") if native is not None else b""
        best: tuple[str, list[list[str]] | None, int, int] | None = None
        for delimiter in delimiters:
            detected = None  # rows, when Python read them
            widths = None
            if native is not None:
                widths = native.csv_widths(data, delimiter, opts.quote_symbol, _DETECT_ROWS)
            if widths is None:
                detected = _parse(lines_text, delimiter, opts.quote_symbol, _DETECT_ROWS)
                widths = list(map(len, detected))
            if len(widths) < 2:
                continue
            counts = Counter(widths)
            width, hits = counts.most_common(1)[0]
            if width < min_columns or hits < 2:
                continue
            if hits / len(widths) < 0.9:
                continue
            if best is None or hits > best[2]:
                best = (delimiter, detected, hits, width)
            if hits == len(widths):
                break
        if best is None:
            return unknown(
                self.name,
                self.classification,
                f"no delimiter of {_show(delimiters)} gives {min_columns}+ consistent columns "
                "in 2+ rows",
            )
        delimiter, detected, _, width = best
        typed = (
            native.csv_types(data, delimiter, opts.quote_symbol, width, _MAX_ROWS + 1)
            if native is not None
            else None
        )
        types: list[str | None] | None = None
        if typed is not None:  # compiled: every type read, the first record aside
            types, ragged = typed.types, typed.ragged
            first = _parse(typed.first_record, delimiter, opts.quote_symbol, 1)[0]
            data_rows: list[list[str]] = []
        else:
            rows = detected or _parse(lines_text, delimiter, opts.quote_symbol, _DETECT_ROWS)
            if _arrow_loaded() and (
                opts.disable_value_trimming
                or not _has_padding(lines_text, delimiter, opts.quote_symbol)
            ):
                types = _arrow_types(lines_text, delimiter, opts.quote_symbol, width)
            if types is None:  # the exact, slower way: every sampled row in Python
                rows = _parse(lines_text, delimiter, opts.quote_symbol, _MAX_ROWS + 1)
            ragged = sum(1 for r in rows if len(r) != width)
            rows = [r for r in rows if len(r) == width]
            if not rows:
                return unknown(self.name, self.classification, "no rows could be read")
            first, data_rows = rows[0], rows[1:]
        if not opts.disable_value_trimming:
            first = [c.strip() for c in first]  # values are trimmed as they are typed

        header: list[str] | None
        if opts.header:
            header, has_header_row = list(opts.header), opts.contains_header == "PRESENT"
        elif opts.contains_header == "PRESENT":
            header, has_header_row = first, True
        elif opts.contains_header == "ABSENT":
            header, has_header_row = None, False
        else:
            has_header_row = None  # decided from the column types below
            header = None
        if types is None:
            sampled = data_rows[:_MAX_ROWS]
            types = [infer_column_type([row[i] for row in sampled]) for i in range(width)]
        if has_header_row is None:
            has_header_row = _looks_like_header(first, types)
            header = first if has_header_row else None
        if not has_header_row:  # the first row is data too
            types = [merge_types(t, infer_text_type(c)) for t, c in zip(types, first, strict=True)]
        if header is not None and len(header) != width:
            return unknown(
                self.name,
                self.classification,
                f"the header has {len(header)} names but rows have {width} columns",
            )
        names = (
            [_column_name(h) for h in header]
            if header is not None
            else [f"col{i}" for i in range(width)]
        )
        names = _dedupe(names)
        quoted = opts.quote_symbol in lines_text
        serde = OPEN_CSV if quoted else LAZY_SIMPLE
        serde_params = (
            {"separatorChar": delimiter, "quoteChar": opts.quote_symbol}
            if quoted
            else {"field.delim": delimiter}
        )
        params = {
            "delimiter": delimiter,
            "typeOfData": "file",
            "columnsOrdered": "true",
            "areColumnsQuoted": "true" if quoted else "false",
        }
        if has_header_row:
            params["skip.header.line.count"] = "1"
        # Records in the whole sampled head (rows are parsed for types from the first 1,000).
        if opts.quote_symbol in lines_text:
            # Quoted values may hold line breaks: count records, not lines.
            reader = csv.reader(
                io.StringIO(lines_text), delimiter=delimiter, quotechar=opts.quote_symbol
            )
            lines = sum(1 for row in reader if row)
        else:
            lines = lines_text.count("\n") + (0 if lines_text.endswith("\n") else 1)
        records = max(lines - (1 if has_header_row else 0), 0)
        reason = (
            f"delimiter {_show((delimiter,))}, {width} columns, "
            f"{'header row detected' if has_header_row else 'no header row'}"
            + (f", {ragged} ragged row(s) ignored for the schema" if ragged else "")
        )
        return Verdict(
            self.name,
            self.classification,
            1.0,
            reason,
            Inferred(
                columns=[(n, t or "string") for n, t in zip(names, types, strict=True)],
                serde_library=serde,
                serde_parameters=serde_params,
                parameters=params,
                records=records,
                sampled_bytes=len(lines_text.encode("utf-8")),
            ),
        )


def _parse(text: str, delimiter: str, quote: str, limit: int) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quote, strict=False)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if row:
                rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error:
        return []
    return rows


_DETECT_ROWS = 100  # enough rows to tell the delimiter and the column count


def _arrow_loaded() -> bool:
    """Whether Arrow's CSV reader is loaded. A crawl of many files loads it up front (see
    ``crawler.engine``); for a few files, loading it would cost more than typing them in
    Python, which gives the same types (a test compares the two)."""
    return "pyarrow.csv" in sys.modules


# What str.strip() trims besides space, tab and line breaks (every other Unicode blank).
OTHER_BLANKS = (
    "\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _has_padding(text: str, delimiter: str, quote: str) -> bool:
    """Whether a value, quoted or not, may start or end with blanks (Glue trims them; Arrow
    would not), or the text holds blanks other than space and tab anywhere."""
    if any(c in text for c in OTHER_BLANKS):  # one fast scan per character
        return True
    if " " not in text and "\t" not in text:
        return False
    if text[:1] in (" ", "\t") or text.rstrip("\r\n")[-1:] in (" ", "\t"):
        return True
    edges = (delimiter, "\n", "\r", quote)
    return any(f"{e}{b}" in text or f"{b}{e}" in text for e in edges for b in (" ", "\t"))


_ARROW_TYPES = {"int64": "bigint", "double": "double", "bool": "boolean", "null": None}
_NOT_BLANK = re.compile(r"\S")  # what str.strip() keeps
_HEXADECIMAL = re.compile(rb"0[xX]")
_arrow_options: dict[tuple[str, str], tuple[Any, Any, Any]] = {}


def _arrow_options_for(delimiter: str, quote: str) -> tuple[Any, Any, Any]:
    """Arrow's reader options for a delimiter and quote, made once per process."""
    options = _arrow_options.get((delimiter, quote))
    if options is None:
        import pyarrow.csv as pcsv

        options = _arrow_options[delimiter, quote] = (
            pcsv.ReadOptions(autogenerate_column_names=True, use_threads=False),
            pcsv.ParseOptions(delimiter=delimiter, quote_char=quote, newlines_in_values=True),
            pcsv.ConvertOptions(
                null_values=[""],
                # Glue's booleans are true and false in any case: the rows are lower-cased
                # (ASCII letters only) before Arrow reads them, so one spelling each is enough.
                true_values=["true"],
                false_values=["false"],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                timestamp_parsers=[],
            ),
        )
    return options


def _arrow_types(text: str, delimiter: str, quote: str, width: int) -> list[str | None] | None:
    """Types of the data rows (after the first) of up to 1,000 rows by Arrow's C++ CSV reader,
    mapped to Glue's rules (those ``infer_column_type`` applies in Python): dates and
    timestamps stay strings, only true/false (in any case) are booleans, only empty values are
    null. None when Arrow cannot read them the same way, and the rows are then typed in
    Python: ragged rows; and what Arrow's number parsers take more liberally than Glue's rules
    (hexadecimal ``0x1F``, NaN and infinities, ``+1`` which Arrow makes a double).

    The rows go to Arrow lower-cased, ASCII letters only, which changes no type Arrow gives
    here besides making ``TRUE`` and ``tRuE`` the one spelling of true it is told about."""
    try:
        import numpy as np
        import pyarrow as pa
        import pyarrow.csv as pcsv
    except ImportError:
        return None
    first_break = text.find("\n")
    if first_break < 0 or _NOT_BLANK.search(text, first_break + 1) is None:
        return None  # no data row
    data = text.encode("utf-8")
    start = data.find(b"\n") + 1
    breaks = np.flatnonzero(np.frombuffer(data, np.uint8, offset=start) == 10)
    end = start + int(breaks[_MAX_ROWS - 1]) + 1 if len(breaks) >= _MAX_ROWS else len(data)
    read, parse, convert = _arrow_options_for(delimiter, quote)
    try:
        table = pcsv.read_csv(
            pa.py_buffer(data[start:end].lower()),
            read_options=read,
            parse_options=parse,
            convert_options=convert,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_columns != width:
        return None
    types = [_ARROW_TYPES.get(str(field.type), "string") for field in table.schema]
    if (
        "bigint" in types
        and (data.find(b"x", start) >= 0 or data.find(b"X", start) >= 0)  # memchr: quick
        and _HEXADECIMAL.search(data, start) is not None
    ):
        return None  # hexadecimal is text to Glue, a whole number to Arrow
    if "double" in types and data.find(b"+", start) >= 0:
        return None  # "+1" is a whole number to Glue, a double to Arrow
    for kind, column in zip(types, table.columns, strict=True):
        if kind == "double" and not all(map(_finite, column.chunks)):
            return None  # NaN and infinities are text to Glue
    return types


def _finite(chunk: Any) -> bool:
    """Whether every value of a chunk of doubles is a finite number (nulls aside), read from
    its buffers (Arrow's compute functions cost more to load than to use here)."""
    import numpy as np

    validity, data = chunk.buffers()
    values = np.frombuffer(data, dtype=np.float64, count=chunk.offset + len(chunk))
    values = values[chunk.offset :]
    if validity is not None and chunk.null_count:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
        values = values[bits[chunk.offset : chunk.offset + len(chunk)].astype(bool)]
    return bool(np.isfinite(values).all())


def _looks_like_header(first: list[str], data_types: list[str | None]) -> bool:
    cells = [c.strip() for c in first]
    if not all(infer_text_type(c) == "string" and _valid_name(c) for c in cells):
        return False
    # The header must differ from the data: some data column is not a string column.
    return any(t not in (None, "string") for t in data_types)


def _dedupe(names: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for i, name in enumerate(names):
        base = name or f"col{i}"
        seen[base] += 1
        out.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return out


def _show(delimiters: tuple[str, ...]) -> str:
    shown = {",": "','", "|": "'|'", "\t": "tab", ";": "';'", "\u0001": "Ctrl-A"}
    return ", ".join(shown.get(d, repr(d)) for d in delimiters)
