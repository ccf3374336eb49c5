from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkglue.catalog.expressions import compile_filter
from sparkglue.errors import InvalidInput

KEYS = {"year": "int", "island": "string", "month": "string"}
ROWS = [
    {"year": y, "island": i, "month": m}
    for y in ("2007", "2008", "2009", None)
    for i in ("Biscoe", "Dream", "Torgersen", None)
    for m in ("01", "11", "9")
]


def _select(expr: str) -> list[dict[str, str | None]]:
    f = compile_filter(expr, KEYS)
    return [r for r in ROWS if f.matches(r)]


def test_glue_example() -> None:
    got = _select("year >= '2008' AND island = 'Dream'")
    assert {(r["year"], r["island"]) for r in got} == {("2008", "Dream"), ("2009", "Dream")}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("year = 2008", 12),
        ("year <> 2008", 24),  # nulls never match
        ("year != 2008", 24),
        ("year < 2008", 12),
        ("year BETWEEN 2008 AND 2009", 24),
        ("year NOT BETWEEN 2008 AND 2009", 12),
        ("island IN ('Dream', 'Biscoe')", 24),
        ("island NOT IN ('Dream')", 24),
        ("island LIKE 'T%'", 12),
        ("island LIKE '_ream'", 12),
        ("island NOT LIKE '%e%'", 0),
        ("island IS NULL", 12),
        ("island IS NOT NULL", 36),
        ("NOT (year = 2007 OR year = 2008)", 12),
        ("(year = 2007 OR island = 'Dream') AND month = '11'", 7),
        ("month > '10'", 32),  # text comparison: '11' and '9' are > '10'
        ("2008 <= year", 24),
        ("`Year` = 2009", 12),
    ],
)
def test_operators(expr: str, expected: int) -> None:
    assert len(_select(expr)) == expected


def test_numeric_keys_compare_as_numbers() -> None:
    f = compile_filter("n > 9", {"n": "bigint"})
    assert f.matches({"n": "10"}) and not f.matches({"n": "9"})
    t = compile_filter("n > '9'", {"n": "string"})
    assert not t.matches({"n": "10"})  # text: '10' < '9'


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("", "empty"),
        ("colour = 'x'", "'colour' is not a partition key (partition keys: year, island, month)"),
        ("year >= 'abc'", "'abc' is not a number"),
        ("year >=", "expected a partition key or a literal"),
        ("year = 1 AND", "expected a partition key or a literal"),
        ("(year = 1", "expected )"),
        ("year = 1 year", "unexpected 'year'"),
        ("island LIKE 3", "LIKE needs a quoted pattern"),
        ("year ~ 3", "unexpected character '~'"),
        ("island", "expected a comparison"),
    ],
)
def test_malformed_filters_say_why(expr: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match="invalid partition filter") as info:
        compile_filter(expr, KEYS)
    assert problem in str(info.value)


# ---- property test: our parser + evaluator against a direct Python evaluation ----------------

Ref = Callable[[dict[str, str | None]], bool | None]
_years = st.sampled_from(["2007", "2008", "2009", "2010"])
_islands = st.sampled_from(["Biscoe", "Dream", "Torgersen", "Dre"])


def _cmp(op: str, a: object, b: object) -> bool:
    return {"=": a == b, "<>": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]  # type: ignore[operator]


def _atom_year() -> st.SearchStrategy[tuple[str, Ref]]:
    def build(op: str, y: str, quoted: bool) -> tuple[str, Ref]:
        lit = f"'{y}'" if quoted else y
        return (
            f"year {op} {lit}",
            lambda r: None if r["year"] is None else _cmp(op, Decimal(r["year"]), Decimal(y)),
        )

    return st.builds(
        build, st.sampled_from(["=", "<>", "<", ">", "<=", ">="]), _years, st.booleans()
    )


def _atom_island() -> st.SearchStrategy[tuple[str, Ref]]:
    def cmp(op: str, v: str) -> tuple[str, Ref]:
        return (
            f"island {op} '{v}'",
            lambda r: None if r["island"] is None else _cmp(op, r["island"], v),
        )

    def in_list(vs: list[str]) -> tuple[str, Ref]:
        text = ", ".join(f"'{v}'" for v in vs)
        return f"island IN ({text})", lambda r: None if r["island"] is None else r["island"] in vs

    def like(prefix: str) -> tuple[str, Ref]:
        return (
            f"island LIKE '{prefix}%'",
            lambda r: None if r["island"] is None else r["island"].startswith(prefix),
        )

    def is_null(neg: bool) -> tuple[str, Ref]:
        return (f"island IS {'NOT ' if neg else ''}NULL", lambda r: (r["island"] is None) != neg)

    return st.one_of(
        st.builds(cmp, st.sampled_from(["=", "<>", "<", ">="]), _islands),
        st.builds(in_list, st.lists(_islands, min_size=1, max_size=3)),
        st.builds(like, st.sampled_from(["D", "T", "Bis", ""])),
        st.builds(is_null, st.booleans()),
    )


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _exprs() -> st.SearchStrategy[tuple[str, Ref]]:
    def combine(children: st.SearchStrategy[tuple[str, Ref]]) -> st.SearchStrategy[tuple[str, Ref]]:
        def both(op: str, left: tuple[str, Ref], right: tuple[str, Ref]) -> tuple[str, Ref]:
            f = _and if op == "AND" else _or
            return f"({left[0]}) {op} ({right[0]})", lambda r: f(left[1](r), right[1](r))

        def neg(inner: tuple[str, Ref]) -> tuple[str, Ref]:
            return f"NOT ({inner[0]})", lambda r: None if (v := inner[1](r)) is None else not v

        return st.one_of(
            st.builds(both, st.sampled_from(["AND", "OR"]), children, children),
            st.builds(neg, children),
        )

    return st.recursive(st.one_of(_atom_year(), _atom_island()), combine, max_leaves=6)


_rows = st.lists(
    st.fixed_dictionaries(
        {
            "year": st.one_of(st.none(), _years),
            "island": st.one_of(st.none(), _islands),
            "month": st.just("01"),
        }
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=300)
@given(_exprs(), _rows)
def test_filter_matches_python_evaluation(
    expr: tuple[str, Ref], rows: list[dict[str, str | None]]
) -> None:
    text, reference = expr
    compiled = compile_filter(text, KEYS)
    got = [r for r in rows if compiled.matches(r)]
    want = [r for r in rows if reference(r) is True]
    assert got == want, text


@given(st.text(max_size=40))
def test_arbitrary_text_raises_only_invalid_input(text: str) -> None:
    try:
        compile_filter(text, KEYS)
    except InvalidInput as exc:
        assert re.match(r"invalid partition filter", str(exc))
