"""Glue's exclusion glob semantics, from the examples of the Glue developer guide."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sparkglue.crawler.globs import ExclusionSet, compile_glob
from sparkglue.errors import InvalidInput


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.csv", "data.csv", True),
        ("*.csv", "sub/data.csv", False),  # * stays within a folder
        ("**.csv", "sub/deeper/data.csv", True),
        ("*.*", "a.b", True),
        ("*.*", "ab", False),
        ("*.{csv,avro}", "x.avro", True),
        ("*.{csv,avro}", "x.json", False),
        ("foo.?", "foo.1", True),
        ("foo.?", "foo.12", False),
        ("myfolder/*", "myfolder/mysource", True),
        ("myfolder/*", "myfolder/a/b", False),
        ("myfolder/*/*", "myfolder/a/b", True),
        ("myfolder/**", "myfolder/a/b/c.txt", True),
        ("myfolder**", "myfolder", True),
        ("myfolder**", "myfolder/mydata.txt", True),
        ("Market*", "Market_us", True),
        ("Market*", "market_us", False),
        ("[a-c]*.log", "b1.log", True),
        ("[a-c]*.log", "d1.log", False),
        ("[!a-c]*.log", "d1.log", True),
        ("[!a-c]*.log", "a1.log", False),
        ("\\*.csv", "*.csv", True),
        ("\\*.csv", "x.csv", False),
        ("year=2007/**", "year=2007/part-0.csv", True),
        ("/year=2007/**", "year=2007/part-0.csv", True),
        ("?", "/", False),
        ("[/]", "/", False),
    ],
)
def test_glue_examples(pattern: str, path: str, matches: bool) -> None:
    assert bool(compile_glob(pattern).fullmatch(path)) is matches


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("", "is empty"),
        ("a{b,{c}}", "nests"),
        ("a{b", "without a closing"),
        ("a}", "without an opening"),
        ("[abc", "without a closing ']'"),
        ("abc\\", "lone backslash"),
    ],
)
def test_malformed_patterns(pattern: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        compile_glob(pattern)


def test_folder_pruning_only_when_everything_below_is_excluded() -> None:
    excl = ExclusionSet(["tmp/**", "logs/*", "**/_SUCCESS"])
    assert excl.excludes_folder("tmp")
    assert not excl.excludes_folder("logs")  # only one level of logs/ is excluded
    assert excl.excludes("logs/a.txt") and not excl.excludes("logs/x/a.txt")
    assert not excl.excludes_folder("data")
    assert excl.excludes("data/year=1/_SUCCESS")


_names = st.text(alphabet="abc.-_=0", min_size=1, max_size=6)


@given(st.lists(_names, min_size=1, max_size=4))
def test_literal_patterns_match_only_themselves(parts: list[str]) -> None:
    path = "/".join(parts)
    assert compile_glob(path).fullmatch(path)
    assert not compile_glob(path).fullmatch(path + "x")


@given(_names, st.lists(_names, min_size=2, max_size=4))
def test_star_never_crosses_a_folder(prefix: str, parts: list[str]) -> None:
    path = "/".join(parts)
    assert not compile_glob("*").fullmatch(path)
    assert compile_glob("**").fullmatch(path)


@given(st.text(max_size=20))
def test_arbitrary_patterns_compile_or_raise_invalid_input(pattern: str) -> None:
    with contextlib.suppress(InvalidInput):
        compile_glob(pattern)
