"""The compiled typer: built with every compiler at hand, and the same verdicts as Python."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkglue.crawler import native
from sparkglue.crawler.classifiers import csv as csv_module
from sparkglue.crawler.classifiers import json as json_module
from sparkglue.crawler.sample import FileSample


def _verdict(path: Path, compiled: bool, classifier: Any) -> Any:
    """A verdict as a comparable dict, typed by the compiled typer or in Python alone."""
    typer = native.load() if compiled else None
    assert not compiled or typer is not None
    saved = csv_module.active_typer, json_module.active_typer, csv_module._arrow_loaded
    csv_module.active_typer = json_module.active_typer = lambda: typer  # type: ignore[assignment]
    csv_module._arrow_loaded = lambda: False  # type: ignore[assignment]
    try:
        verdict = classifier.classify(FileSample.of(path, path.name))
    finally:
        csv_module.active_typer, json_module.active_typer, csv_module._arrow_loaded = saved
    return {**verdict.as_dict(), "schema": verdict.schema}


@pytest.fixture(scope="module")
def typer() -> native.NativeTyper:
    loaded = native.load()
    assert loaded is not None, "the test set-up installs a C compiler (ziglang)"
    return loaded


# ---- CSV ---------------------------------------------------------------------------------------

_CSV_TEXT = st.text(
    alphabet=("0123456789+-.eExXtrufalsTRUFALS ,;|\t\x01\"'\n\r\x0b\x0c\x1c\xa0\u3000\u00e9\u0662"),
    max_size=400,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_CSV_TEXT, _CSV_TEXT), min_size=1, max_size=40), _CSV_TEXT)
def test_random_csv_gets_the_same_verdict_compiled_and_in_python(
    tmp_path: Path, typer: native.NativeTyper, rows: list[tuple[str, str]], head: str
) -> None:
    """Cells of digits, signs, exponents, booleans, quotes, delimiters, line breaks, lone
    carriage returns, Unicode blanks and letters: the typer reads them as Python does, or
    leaves the sample to Python."""
    path = tmp_path / "r.csv"
    path.write_text(head + "\n" + "".join(f"{a},{b}\n" for a, b in rows), encoding="utf-8")
    classifier = csv_module.CsvClassifier()
    assert _verdict(path, True, classifier) == _verdict(path, False, classifier)


_CELL = st.one_of(
    st.sampled_from(["", " ", "1", "-12", "+7", "007", "1.5", ".5", "5.", "1e5", "1E-3", "e5"]),
    st.sampled_from(["true", "FALSE", "tRuE", "x", "NaN", "0x1F", " 3 ", "\t4", "9" * 19]),
    st.sampled_from(["9223372036854775807", "-9223372036854775808", "9223372036854775808"]),
    st.sampled_from(['"1"', '" 2 "', '"a,b"', '"x\ny"', '"\n"', '"q""q"', '""', '"1"x']),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.lists(_CELL, min_size=3, max_size=3), min_size=1, max_size=30),
    st.sampled_from([",", "|", "\t", ";", "\x01"]),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_csv_values_get_the_same_types_compiled_and_in_python(
    tmp_path: Path,
    typer: native.NativeTyper,
    rows: list[list[str]],
    delimiter: str,
    newline: str,
    header: bool,
) -> None:
    """Every kind of value Glue's rules tell apart, under each built-in delimiter."""
    lines = [delimiter.join(r) for r in rows]
    if header:
        lines.insert(0, delimiter.join(["name", "other", "k"]))
    path = tmp_path / "v.csv"
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    classifier = csv_module.CsvClassifier()
    assert _verdict(path, True, classifier) == _verdict(path, False, classifier)


def test_the_csv_typer_reads_plain_and_quoted_samples(typer: native.NativeTyper) -> None:
    data = b'id,name,score,ok\n1,"a, b",2.5,true\n2,"say ""hi""",3,FALSE\n3,,1e3,\n'
    assert typer.csv_widths(data, ",", '"', 100) == [4, 4, 4, 4]
    typed = typer.csv_types(data, ",", '"', 4, 1001)
    assert typed is not None
    assert typed.types == ["bigint", "string", "double", "boolean"]
    assert typed.first_record == "id,name,score,ok\n"
    assert (typed.ragged, typed.typed_records) == (0, 3)
    ragged = typer.csv_types(b"a,b\n1,2\n3\n4,5\n", ",", '"', 2, 1001)
    assert ragged is not None and ragged.ragged == 1 and ragged.types == ["bigint", "bigint"]


@pytest.mark.parametrize(
    "data",
    [
        b"a,b\n1\r2,3\n",  # a lone carriage return: Python's reader stops there
        b"a,b\n1,\xc2\xa02\n",  # a no-break space: Python strips it
        b"a,b\n1,\x1c2\n",  # an information separator: Python strips it too
        b'a,b\n1,"2"x\n',  # text after a closing quote
        b'a,b\n1,"2\n',  # the data ends inside quotes
        b"a,b\n1," + b"x" * 131073 + b"\n",  # past Python's field size limit
    ],
)
def test_the_csv_typer_leaves_to_python_what_it_reads_otherwise(
    typer: native.NativeTyper, data: bytes
) -> None:
    assert typer.csv_types(data, ",", '"', 2, 1001) is None


def test_the_csv_typer_leaves_odd_delimiters_to_python(typer: native.NativeTyper) -> None:
    data = b"a1b\n1121\n"
    assert typer.csv_widths(data, "1", '"', 100) is None  # a digit as delimiter
    assert typer.csv_widths(data, ",", "a", 100) is None  # a letter as quote
    assert typer.csv_widths(data, "\u00a7", '"', 100) is None  # not one byte


# ---- JSON Lines -------------------------------------------------------------------------------

_VALUE = st.sampled_from(
    [
        "1",
        "-0",
        "0.5",
        "1e5",
        "2E-3",
        "-12.5e+7",
        "9223372036854775807",
        "-9223372036854775808",
        "true",
        "false",
        "null",
        '"x"',
        '"a\\"b\\n\\u00e9\\/"',
        '"\\ud83d\\ude00"',
        '"\u00e9"',
        '""',
    ]
)
_ODD_VALUE = st.sampled_from(
    [
        *("9223372036854775808", "1e400", "01", "1.", '"\\ud800"', '"\\udc00"', '"tab\there"'),
        *("NaN", "tru", "[1]", '{"n": 1}', "-", '"\\x"'),
    ]
)
_KEY = st.sampled_from(['"a"', '"b"', '"c"', '"\u00e9"', '""'])
_ODD_KEY = st.sampled_from(['"a\\u0062"', "a", '"b'])


def _object(pairs: list[tuple[str, str]], spacing: str) -> str:
    return "{" + ",".join(f"{spacing}{k}{spacing}:{spacing}{v}" for k, v in pairs) + spacing + "}"


_OBJECT = st.builds(
    _object,
    st.lists(st.tuples(_KEY, _VALUE), max_size=4, unique_by=lambda pair: pair[0]),
    st.sampled_from(["", " ", "\t"]),
)
_ODD_LINE = st.one_of(
    st.builds(_object, st.lists(st.tuples(_KEY, _ODD_VALUE), min_size=1, max_size=2), st.just("")),
    st.builds(_object, st.lists(st.tuples(_ODD_KEY, _VALUE), min_size=1, max_size=2), st.just("")),
    st.sampled_from(['{"a": 1, "a": 2}', "", " ", "\r", "[1]", "3", "{", '{"a": 1} {"a": 2}']),
)


@st.composite
def _json_lines(draw: st.DrawFn) -> list[str]:
    """Flat records, most samples wholly; some with one odd line (of the kinds the typer
    leaves to Python) somewhere."""
    lines = draw(st.lists(_OBJECT, min_size=1, max_size=12))  # one record goes the long way
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(_ODD_LINE))
    return lines


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    _json_lines(),
    st.sampled_from(["\n", "\r\n"]),
    st.sampled_from(["", "\n", "\n\n", " \n", '{"a": 1']),
)
def test_json_lines_get_the_same_verdict_compiled_and_in_python(
    tmp_path: Path, typer: native.NativeTyper, lines: list[str], newline: str, tail: str
) -> None:
    """Numbers at and past 64 bits, escapes, surrogates, keys twice in a record, nested values,
    blank lines and a last line cut short."""
    path = tmp_path / "r.json"
    path.write_bytes((newline.join(lines) + tail).encode("utf-8"))
    classifier = json_module.JsonClassifier()
    assert repr(_verdict(path, True, classifier)) == repr(_verdict(path, False, classifier))


def test_the_json_typer_reads_flat_records(typer: native.NativeTyper) -> None:
    data = b'{"i": 1, "f": 2, "s": "x", "b": true}\n{"f": 2.5, "n": null, "b": false}\r\n'
    typed = typer.json_lines_types(data, True, 1000)
    assert typed is not None
    assert typed.columns == {"i": "bigint", "f": "double", "s": "string", "b": "boolean", "n": None}
    assert (typed.records, typed.lines) == (2, 2)


def test_a_file_larger_than_the_sample_is_typed_from_whole_lines(
    tmp_path: Path, typer: native.NativeTyper
) -> None:
    """Past the sample (1 MB), the last line is cut: it is neither typed nor counted."""
    line = json.dumps({"id": 1, "text": "x" * 200}) + "\n"
    path = tmp_path / "big.json"
    path.write_text(line * 6000 + '{"id": "late"}\n')
    compiled = _verdict(path, True, json_module.JsonClassifier())
    assert compiled == _verdict(path, False, json_module.JsonClassifier())
    assert compiled["schema"].columns == [("id", "bigint"), ("text", "string")]


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": {"b": 1}}\n{"a": 2}\n',  # nested
        b'{"a": 1, "a": 2}\n{"a": 3}\n',  # a key twice
        b'{"a\\u0062": 1}\n{"a": 2}\n',  # an escape in a key
        b'{"a": 1}\n\n{"a": 2}\n',  # a blank line between records
        b'{"a": 1}\n',  # one record
        b'{"a": 1}\n{"a": 2}\n\n',  # a blank last line
    ],
)
def test_the_json_typer_leaves_to_python_what_it_does_not_read(
    typer: native.NativeTyper, data: bytes
) -> None:
    assert typer.json_lines_types(data, True, 1000) is None


# ---- the build --------------------------------------------------------------------------------


@pytest.fixture
def no_typer() -> Iterator[None]:
    saved = native._loaded, native._tried
    native._loaded, native._tried = None, False
    try:
        yield
    finally:
        native._loaded, native._tried = saved


def test_every_compiler_at_hand_builds_the_same_typer(tmp_path: Path) -> None:
    zig = [sys.executable, "-m", "ziglang", "cc"]
    commands = native.compilers()
    assert zig in commands, "the test set-up installs ziglang"
    data = b"a,b\n1,x\n2.5,y\n"
    for command in commands:
        path = native.build(command, tmp_path)
        assert path.parent == tmp_path
        assert native.build(command, tmp_path) == path  # built once
        typed = native.NativeTyper(path).csv_types(data, ",", '"', 2, 1001)
        assert typed is not None and typed.types == ["double", "string"]
    assert not list(tmp_path.glob("*.part"))
    old = [tmp_path / f"typer-old{i}.so" for i in range(4)]
    for i, path in enumerate(old):
        path.write_bytes(b"")
        os.utime(path, (i, i))
    native.build([*commands[0], "-DAGAIN"], tmp_path)  # a new build keeps the newest three
    assert len(list(tmp_path.glob("typer-*.so"))) == 3 and not old[-1].exists()


def test_a_compiler_that_fails_leaves_nothing_and_says_why(tmp_path: Path) -> None:
    bad = tmp_path / "cc"
    bad.write_text("#!/bin/sh\necho 'cc: error: no such thing' >&2\nexit 1\n")
    bad.chmod(0o755)
    with pytest.raises(RuntimeError, match=r"did not build: .*cc: error: no such thing"):
        native.build([str(bad)], tmp_path / "out")
    assert not list((tmp_path / "out").iterdir())


def test_without_a_compiler_crawls_type_in_python(
    monkeypatch: pytest.MonkeyPatch, no_typer: None, tmp_path: Path
) -> None:
    monkeypatch.setattr(native, "compilers", list)
    monkeypatch.setenv("SPARKGLUE_CACHE_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="no C compiler found"):
        native.build()
    assert native.load() is None and native.active_typer() is None


def test_the_typer_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, no_typer: None) -> None:
    monkeypatch.setenv("SPARKGLUE_NATIVE", "off")
    assert native.load() is None
    monkeypatch.delenv("SPARKGLUE_NATIVE")
    native._tried = False
    assert native.load() is not None and native.active_typer() is native.load()


def test_the_build_command_says_where_the_typer_is(tmp_path: Path) -> None:
    import subprocess

    env = {**os.environ, "SPARKGLUE_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "sparkglue.crawler.native"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    (built,) = tmp_path.glob("typer-*")
    assert f"crawler typer: {built}" in done.stderr
