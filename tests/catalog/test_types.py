from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sparkglue.catalog.types import HiveType, is_numeric, normalize_type, parse_type
from sparkglue.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("bigint", "bigint"),
        ("BIGINT", "bigint"),
        ("integer", "int"),
        ("decimal", "decimal(10,0)"),
        ("decimal( 12 , 3 )", "decimal(12,3)"),
        ("varchar(20)", "varchar(20)"),
        ("array<string>", "array<string>"),
        ("array < array<int> >", "array<array<int>>"),
        ("map<string,double>", "map<string,double>"),
        ("struct<a:int,b:string>", "struct<a:int,b:string>"),
        (
            "struct<a:int, `b c`:array<struct<d:timestamp>>>",
            "struct<a:int,`b c`:array<struct<d:timestamp>>>",
        ),
    ],
)
def test_valid_types_normalise(text: str, normal: str) -> None:
    assert normalize_type(text) == normal


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("strin", "unknown type 'strin'"),
        ("array<strin>", "unknown type 'strin' at position 6"),
        ("array<string", "expected '>'"),
        ("map<array<int>,string>", "map keys must be a primitive"),
        ("struct<a:int,a:string>", "duplicate struct field"),
        ("decimal(40,2)", "precision <= 38"),
        ("varchar(0)", "length must be"),
        ("bigint bigint", "unexpected 'bigint'"),
        ("int;", "unexpected character ';'"),
    ],
)
def test_invalid_types_say_why(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match="invalid type string") as info:
        parse_type(text)
    assert problem in str(info.value)


def test_numeric_types() -> None:
    assert is_numeric("bigint") and is_numeric("decimal(5,2)") and is_numeric("double")
    assert not is_numeric("string") and not is_numeric("date")


_primitives = st.sampled_from(
    [
        "tinyint",
        "smallint",
        "int",
        "bigint",
        "float",
        "double",
        "string",
        "boolean",
        "binary",
        "date",
        "timestamp",
        "decimal(10,2)",
        "char(5)",
        "varchar(100)",
    ]
)
_field = st.from_regex(r"[a-z_][a-z0-9_]{0,6}|[a-z ]{1,5}", fullmatch=True)


def _types() -> st.SearchStrategy[str]:
    return st.recursive(
        _primitives,
        lambda inner: st.one_of(
            inner.map(lambda t: f"array<{t}>"),
            st.tuples(_primitives, inner).map(lambda kv: f"map<{kv[0]},{kv[1]}>"),
            st.lists(
                st.tuples(_field, inner), min_size=1, max_size=3, unique_by=lambda f: f[0]
            ).map(lambda fs: "struct<" + ",".join(f"`{n}`:{t}" for n, t in fs) + ">"),
        ),
        max_leaves=8,
    )


@given(_types())
def test_normal_form_is_a_fixed_point(text: str) -> None:
    normal = normalize_type(text)
    assert normalize_type(normal) == normal
    assert isinstance(parse_type(normal), HiveType)


@given(st.text(max_size=30))
def test_arbitrary_text_never_escapes_as_another_error(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        normalize_type(text)
