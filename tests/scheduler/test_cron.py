"""Glue cron expressions: exact fire times for the tricky wildcards, every error path, and a
property test against a naive minute-by-minute evaluator built from the same random spec."""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkglue.scheduler.cron import CronError, CronExpression, parse_cron


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def first(expression: str, after: datetime) -> datetime | None:
    return parse_cron(expression).next_after(after)


# --- parsing and normalisation -----------------------------------------------------------


def test_text_is_normalised_and_equality_follows_it() -> None:
    expr = parse_cron("  cron( 0   10 ?  *  mon-fri * )  ")
    assert expr.text == "cron(0 10 ? * MON-FRI *)"
    assert str(expr) == expr.text
    assert (
        expr == parse_cron("0 10 ? * MON-FRI *") == CronExpression.parse("CRON(0 10 ? * mon-fri *)")
    )
    assert hash(expr) == hash(parse_cron(expr.text))
    assert expr != parse_cron("cron(0 11 ? * MON-FRI *)")
    assert pickle.loads(pickle.dumps(expr)) == expr
    assert repr(expr) == "CronExpression(text='cron(0 10 ? * MON-FRI *)')"


def test_the_constructor_validates_too() -> None:
    assert CronExpression("0 10 * * ? *").text == "cron(0 10 * * ? *)"
    with pytest.raises(CronError, match="day-of-month"):
        CronExpression("0 10 * * * *")


def test_cron_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_cron("cron(0 10 * *)")


# --- exact fire times --------------------------------------------------------------------


def test_seconds_of_the_start_are_ignored() -> None:
    every = parse_cron("cron(* * * * ? *)")
    assert every.next_after(datetime(2026, 5, 9, 10, 0, 30, 123)) == at(2026, 5, 9, 10, 1)
    assert every.next_after(at(2026, 5, 9, 10, 0)) == at(2026, 5, 9, 10, 1)
    assert every.next_after(datetime(2026, 12, 31, 23, 59, 59, 999999)) == at(2027, 1, 1)


def test_naive_is_utc_and_other_zones_are_converted() -> None:
    daily = parse_cron("cron(0 10 * * ? *)")
    assert daily.next_after(datetime(2026, 5, 9, 9, 0)) == at(2026, 5, 9, 10)
    plus_two = timezone(timedelta(hours=2))
    # 11:30 at +02:00 is 09:30 UTC, so 10:00 UTC the same day is next.
    assert daily.next_after(datetime(2026, 5, 9, 11, 30, tzinfo=plus_two)) == at(2026, 5, 9, 10)
    result = daily.next_after(datetime(2026, 5, 9, 12, 30, tzinfo=plus_two))
    assert result == at(2026, 5, 10, 10)
    assert result is not None and result.tzinfo is UTC
    assert daily.matches(datetime(2026, 5, 9, 12, 0, 45, tzinfo=plus_two))
    assert daily.matches(datetime(2026, 5, 9, 10, 0, 59))
    assert not daily.matches(datetime(2026, 5, 9, 10, 1))


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(*/15 * * * ? *)", at(2026, 5, 9, 10, 7), at(2026, 5, 9, 10, 15)),
        ("cron(*/15 * * * ? *)", at(2026, 5, 9, 10, 45), at(2026, 5, 9, 11, 0)),
        ("cron(0/20 * * * ? *)", at(2026, 5, 9, 10, 40), at(2026, 5, 9, 11, 0)),
        ("cron(0/20 * * * ? *)", at(2026, 5, 9, 10, 0), at(2026, 5, 9, 10, 20)),
        ("cron(5-40/5 * * * ? *)", at(2026, 5, 9, 10, 40), at(2026, 5, 9, 11, 5)),
        ("cron(5/25 * * * ? *)", at(2026, 5, 9, 10, 31), at(2026, 5, 9, 10, 55)),
        ("cron(0 9,17 * * ? *)", at(2026, 5, 9, 9, 0), at(2026, 5, 9, 17, 0)),
        ("cron(0 9,17 * * ? *)", at(2026, 5, 9, 17, 0), at(2026, 5, 10, 9, 0)),
        ("cron(30 23 * * ? *)", at(2026, 12, 31, 23, 30), at(2027, 1, 1, 23, 30)),
        # day-of-month increments: 3, 7, 11, ... 31
        ("cron(0 0 3/4 * ? *)", at(2026, 1, 28), at(2026, 1, 31)),
        ("cron(0 0 3/4 * ? *)", at(2026, 1, 31), at(2026, 2, 3)),
        # names
        ("cron(0 8 ? * MON-FRI *)", at(2026, 5, 8, 9), at(2026, 5, 11, 8)),  # Fri -> Mon
        ("cron(0 8 1 JAN,JUL ? *)", at(2026, 1, 1, 8), at(2026, 7, 1, 8)),
        ("cron(0 8 1 jan,jul ? *)", at(2026, 7, 1, 8), at(2027, 1, 1, 8)),
        ("cron(0 0 1 FEB-APR/2 ? *)", at(2026, 2, 1), at(2026, 4, 1)),
        # L in day-of-month: February of a leap year and of a common year
        ("cron(0 0 L 2 ? *)", at(2028, 2, 1), at(2028, 2, 29)),
        ("cron(0 0 L 2 ? *)", at(2027, 2, 1), at(2027, 2, 28)),
        ("cron(0 0 L * ? *)", at(2026, 4, 30), at(2026, 5, 31)),
        ("cron(0 0 L-3 2 ? *)", at(2027, 1, 1), at(2027, 2, 25)),
        ("cron(0 0 L-3 2 ? *)", at(2028, 1, 1), at(2028, 2, 26)),
        # W: 2026-08-15 is a Saturday, 2026-03-15 a Sunday, 2026-08-01 a Saturday
        ("cron(0 9 15W * ? *)", at(2026, 8, 1), at(2026, 8, 14, 9)),
        ("cron(0 9 15W * ? *)", at(2026, 3, 1), at(2026, 3, 16, 9)),
        ("cron(0 9 15W * ? *)", at(2026, 7, 1), at(2026, 7, 15, 9)),  # a Wednesday
        ("cron(0 9 1W * ? *)", at(2026, 7, 31), at(2026, 8, 3, 9)),
        ("cron(0 9 1W * ? *)", at(2026, 2, 28), at(2026, 3, 2, 9)),  # Sunday -> Monday 2nd
        ("cron(0 9 31W * ? *)", at(2026, 5, 1), at(2026, 5, 29, 9)),  # Sunday 31st -> Fri 29th
        ("cron(0 9 31W * ? *)", at(2026, 4, 1), at(2026, 5, 29, 9)),  # April has no 31st
        # LW: 2026-01-31 is a Saturday, 2026-05-31 a Sunday, 2026-06-30 a Tuesday
        ("cron(0 18 LW * ? *)", at(2026, 1, 1), at(2026, 1, 30, 18)),
        ("cron(0 18 LW * ? *)", at(2026, 5, 1), at(2026, 5, 29, 18)),
        ("cron(0 18 LW * ? *)", at(2026, 6, 1), at(2026, 6, 30, 18)),
        # day-of-week: 1 is Sunday, 2 Monday, 7 Saturday
        ("cron(0 9 ? * 2 *)", at(2026, 5, 9), at(2026, 5, 11, 9)),
        ("cron(0 9 ? * 1 *)", at(2026, 5, 9), at(2026, 5, 10, 9)),
        ("cron(0 9 ? * 7 *)", at(2026, 5, 4), at(2026, 5, 9, 9)),
        ("cron(0 9 ? * L *)", at(2026, 5, 4), at(2026, 5, 9, 9)),
        ("cron(0 9 ? * */3 *)", at(2026, 5, 10, 9), at(2026, 5, 13, 9)),  # 1,4,7: Sun,Wed,Sat
        # last Friday: January 2026 has Fridays 2, 9, 16, 23, 30
        ("cron(0 9 ? * 6L *)", at(2026, 1, 1), at(2026, 1, 30, 9)),
        ("cron(0 9 ? * FRIL *)", at(2026, 1, 30, 9), at(2026, 2, 27, 9)),
        ("cron(0 9 ? * friL *)", at(2026, 1, 1), at(2026, 1, 30, 9)),
        # first Monday: 2026-02-01 is a Sunday
        ("cron(0 9 ? * 2#1 *)", at(2026, 1, 31), at(2026, 2, 2, 9)),
        ("cron(0 9 ? * MON#1 *)", at(2026, 2, 2, 9), at(2026, 3, 2, 9)),
        ("cron(0 9 ? * 3#2 *)", at(2026, 5, 1), at(2026, 5, 12, 9)),  # second Tuesday
        # fifth Thursday: January 2026 has one, February and March do not, April does
        ("cron(0 9 ? * 5#5 *)", at(2026, 1, 1), at(2026, 1, 29, 9)),
        ("cron(0 9 ? * 5#5 *)", at(2026, 2, 1), at(2026, 4, 30, 9)),
        # leap day
        ("cron(0 12 29 2 ? *)", at(2025, 1, 1), at(2028, 2, 29, 12)),
        ("cron(0 12 29 2 ? *)", at(2028, 2, 29, 12), at(2032, 2, 29, 12)),
        # a fifth Monday in February needs a leap year whose February starts on a Monday
        ("cron(0 0 ? 2 2#5 *)", at(2026, 1, 1), at(2044, 2, 29)),
        # years
        ("cron(0 0 1 1 ? 2027-2028)", at(2026, 6, 1), at(2027, 1, 1)),
        ("cron(0 0 1 1 ? 2027-2028)", at(2027, 1, 1), at(2028, 1, 1)),
        ("cron(0 0 1 1 ? 2027-2028)", at(2028, 1, 1), None),
        ("cron(0 0 1 1 ? 2020-2025)", at(2026, 1, 1), None),
        ("cron(0 0 1 1 ? 2030,2026)", at(2026, 1, 1), at(2030, 1, 1)),
        ("cron(0 0 1 1 ? 2026/4)", at(2026, 1, 1), at(2030, 1, 1)),
        ("cron(0 0 1 1 ? *)", at(1960, 1, 1), at(1970, 1, 1)),
        ("cron(59 23 31 12 ? *)", at(2199, 12, 31, 23, 59), None),
        ("cron(0 0 1 1 ? *)", datetime.max.replace(tzinfo=UTC), None),
        # dates that never exist
        ("cron(0 0 30 2 ? *)", at(2026, 1, 1), None),
        ("cron(0 0 31 4,6,9,11 ? *)", at(2026, 1, 1), None),
        ("cron(0 0 ? 2 2#5 2027)", at(2026, 1, 1), None),
    ],
)
def test_next_after(expression: str, after: datetime, expected: datetime | None) -> None:
    expr = parse_cron(expression)
    result = expr.next_after(after)
    assert result == expected
    if result is not None:
        assert result.tzinfo is UTC
        assert expr.matches(result)


def test_weekday_numbering_starts_on_sunday() -> None:
    mondays = parse_cron("cron(0 9 ? * 2 *)").next_times(at(2026, 1, 1), 20)
    assert len(mondays) == 20
    assert all(t.weekday() == 0 and (t.hour, t.minute) == (9, 0) for t in mondays)
    assert all(b - a == timedelta(days=7) for a, b in pairwise(mondays))
    weekdays = parse_cron("cron(0 9 ? * MON-FRI *)").next_times(at(2026, 1, 1), 30)
    assert {t.weekday() for t in weekdays} == {0, 1, 2, 3, 4}
    assert parse_cron("cron(0 9 ? * SUN *)") != parse_cron("cron(0 9 ? * 1 *)")  # text differs
    assert parse_cron("cron(0 9 ? * SUN *)").next_times(at(2026, 1, 1), 5) == parse_cron(
        "cron(0 9 ? * 1 *)"
    ).next_times(at(2026, 1, 1), 5)


def test_last_weekday_and_nth_weekday_in_lists() -> None:
    expr = parse_cron("cron(0 9 ? * 2#1,6L *)")  # first Monday and last Friday
    assert expr.next_times(at(2026, 1, 1), 4) == [
        at(2026, 1, 5, 9),
        at(2026, 1, 30, 9),
        at(2026, 2, 2, 9),
        at(2026, 2, 27, 9),
    ]
    assert parse_cron("cron(0 9 1,15,L * ? *)").next_times(at(2026, 2, 2), 3) == [
        at(2026, 2, 15, 9),
        at(2026, 2, 28, 9),
        at(2026, 3, 1, 9),
    ]


def test_next_times() -> None:
    expr = parse_cron("cron(0 0 1 1 ? 2026-2028)")
    assert expr.next_times(at(2025, 6, 1), 5) == [at(2026, 1, 1), at(2027, 1, 1), at(2028, 1, 1)]
    assert expr.next_times(at(2025, 6, 1), 0) == []
    assert parse_cron("cron(0/30 * * * ? *)").next_times(at(2026, 1, 1, 0, 10), 3) == [
        at(2026, 1, 1, 0, 30),
        at(2026, 1, 1, 1, 0),
        at(2026, 1, 1, 1, 30),
    ]
    with pytest.raises(ValueError, match="count"):
        expr.next_times(at(2025, 6, 1), -1)


def test_impossible_expressions_end_quickly() -> None:
    began = time.perf_counter()
    for expression in (
        "cron(0 0 30 2 ? *)",
        "cron(0 0 ? 2 2#5 2027)",
        "cron(0 0 31 2,4,6,9,11 ? *)",
        "cron(0 0 31W 2 ? *)",
    ):
        assert first(expression, at(1970, 1, 1)) is None
    assert time.perf_counter() - began < 2


def test_a_thousand_triggers_are_cheap() -> None:
    expressions = [
        parse_cron(f"cron({i % 60} {i % 24} ? * {1 + i % 7}#{1 + i % 4} *)") for i in range(1000)
    ]
    began = time.perf_counter()
    results = [e.next_after(at(2026, 5, 9, 12, 30)) for e in expressions]
    assert all(r is not None for r in results)
    assert time.perf_counter() - began < 2


# --- errors ------------------------------------------------------------------------------


def test_wrong_number_of_fields() -> None:
    with pytest.raises(CronError) as caught:
        parse_cron("cron(0 10 * *)")
    assert str(caught.value) == (
        "cron expression 'cron(0 10 * *)' has 4 fields; Glue needs 6: "
        "Minutes Hours Day-of-month Month Day-of-week Year"
    )
    with pytest.raises(CronError, match="has 7 fields"):
        parse_cron("0 10 * * ? * 2026")
    with pytest.raises(CronError, match="has 0 fields"):
        parse_cron("   ")


def test_both_day_fields() -> None:
    with pytest.raises(CronError) as caught:
        parse_cron("cron(0 10 * * * *)")
    assert str(caught.value) == (
        "cron(0 10 * * * *): day-of-month and day-of-week cannot both be set; put ? in one of them"
    )
    with pytest.raises(CronError, match=r"day-of-month and day-of-week cannot both be \?"):
        parse_cron("cron(0 10 ? * ? *)")
    with pytest.raises(CronError, match="cannot both be set"):
        parse_cron("cron(0 10 1 * MON *)")
    assert parse_cron("cron(0 10 * * ? *)").matches(at(2026, 5, 9, 10))
    assert parse_cron("cron(0 10 ? * * *)").matches(at(2026, 5, 9, 10))


@pytest.mark.parametrize(
    ("expression", "field", "detail"),
    [
        ("cron(60 10 * * ? *)", "minutes", "0-59"),
        ("cron(0 24 * * ? *)", "hours", "0-23"),
        ("cron(0 10 0 * ? *)", "day-of-month", "1-31"),
        ("cron(0 10 32 * ? *)", "day-of-month", "1-31"),
        ("cron(0 10 * 13 ? *)", "month", "1-12 or JAN-DEC"),
        ("cron(0 10 * 0 ? *)", "month", "1-12 or JAN-DEC"),
        ("cron(0 10 ? * 0 *)", "day-of-week", "1-7"),
        ("cron(0 10 ? * 8 *)", "day-of-week", "1-7"),
        ("cron(0 10 * * ? 1969)", "year", "1970-2199"),
        ("cron(0 10 * * ? 2200)", "year", "1970-2199"),
        ("cron(0 10 * * ? 2026-2300)", "year", "1970-2199"),
        ("cron(0 10 32W * ? *)", "day-of-month", "1-31"),
        ("cron(0 10 ? * 8L *)", "day-of-week", "1-7"),
        ("cron(0 10 ? * 0#2 *)", "day-of-week", "1-7"),
    ],
)
def test_values_out_of_range(expression: str, field: str, detail: str) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(expression)
    message = str(caught.value)
    assert f": {field} value" in message
    assert "out of range" in message
    assert detail in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("expression", "field", "detail"),
    [
        # unknown names and junk
        ("cron(0 10 * JANUARY ? *)", "month", "unknown value 'JANUARY'"),
        ("cron(0 10 ? * FUN *)", "day-of-week", "unknown value 'FUN'"),
        ("cron(0 10 ? MON * *)", "month", "unknown value 'MON'"),
        ("cron(0 10 ? * JAN *)", "day-of-week", "unknown value 'JAN'"),
        ("cron(x 10 * * ? *)", "minutes", "'X' is not a number"),
        ("cron(0 MON * * ? *)", "hours", "'MON' is not a number"),
        ("cron(0 10 * * ? twenty)", "year", "'TWENTY' is not a number"),
        ("cron(-5 10 * * ? *)", "minutes", "empty value"),
        ("cron(0 10,,11 * * ? *)", "hours", "empty value"),
        # ? outside the day fields, or not alone
        ("cron(? 10 * * ? *)", "minutes", "only in day-of-month or day-of-week"),
        ("cron(0 10 * ? ? *)", "month", "only in day-of-month or day-of-week"),
        ("cron(0 10 1,? * ? *)", "day-of-month", "stands alone"),
        # L, W and # in the wrong field
        ("cron(L 10 * * ? *)", "minutes", "L is only valid in day-of-month or day-of-week"),
        ("cron(0 10 * * ? L)", "year", "L is only valid"),
        ("cron(0 10 * 5L ? *)", "month", "L is only valid"),
        ("cron(0 10 15W * ? *)", None, None),  # valid: checked below it does not raise
        ("cron(0 10 ? * 15W *)", "day-of-week", "W is only valid in day-of-month"),
        ("cron(0 10 ? * LW *)", "day-of-week", "W is only valid in day-of-month"),
        ("cron(0 15W * * ? *)", "hours", "W is only valid in day-of-month"),
        ("cron(0 10 3#2 * ? *)", "day-of-month", "# is only valid in day-of-week"),
        ("cron(3#2 10 * * ? *)", "minutes", "# is only valid in day-of-week"),
        # malformed specials in their own field
        ("cron(0 10 5L * ? *)", "day-of-month", "use L alone, L-3 or LW"),
        ("cron(0 10 1-15W * ? *)", "day-of-month", "W follows a single day"),
        ("cron(0 10 W * ? *)", "day-of-month", "W follows a single day"),
        ("cron(0 10 L-31 * ? *)", "day-of-month", "L-0 to L-30"),
        ("cron(0 10 ? * L-2 *)", "day-of-week", "after a weekday"),
        ("cron(0 10 ? * 3#6 *)", "day-of-week", "#1 to #5"),
        ("cron(0 10 ? * 3#0 *)", "day-of-week", "#1 to #5"),
        ("cron(0 10 ? * 3# *)", "day-of-week", "a weekday and a count"),
        # ranges and increments
        ("cron(0 10 ? * FRI-MON *)", "day-of-week", "range 'FRI-MON' runs backwards"),
        ("cron(50-10 10 * * ? *)", "minutes", "range '50-10' runs backwards"),
        ("cron(0 10 * NOV-FEB ? *)", "month", "runs backwards"),
        ("cron(0 10 * * ? 2030-2026)", "year", "runs backwards"),
        ("cron(*/0 10 * * ? *)", "minutes", "increment '0'"),
        ("cron(0 */x * * ? *)", "hours", "increment 'X'"),
        ("cron(0 10 1/ * ? *)", "day-of-month", "increment ''"),
    ],
)
def test_field_errors_name_the_field(
    expression: str, field: str | None, detail: str | None
) -> None:
    if field is None:
        parse_cron(expression)
        return
    with pytest.raises(CronError) as caught:
        parse_cron(expression)
    message = str(caught.value)
    assert message.startswith("cron(")
    assert f": {field} " in message
    assert detail is not None and detail in message
    assert "\n" not in message and "; " in message


def test_malformed_wrappers() -> None:
    with pytest.raises(CronError, match="no closing parenthesis"):
        parse_cron("cron(0 10 * * ? *")
    with pytest.raises(CronError, match=r"not a cron\(...\) schedule"):
        parse_cron("rate(5 minutes)")
    with pytest.raises(CronError, match="must be text"):
        parse_cron(42)  # type: ignore[arg-type]


# --- a naive reference evaluator and random expressions ---------------------------------
#
# The strategy draws a structured spec and renders it to text; the reference never parses
# text, it reads the spec and tests one minute at a time.

Part = tuple[Any, ...]


@dataclass(frozen=True)
class Spec:
    text: str
    minutes: list[Part]
    hours: list[Part]
    dom: list[Part] | None  # None is ?
    months: list[Part]
    dow: list[Part] | None
    years: list[Part]


MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def in_parts(parts: list[Part], x: int, lo: int, hi: int) -> bool:
    for part in parts:
        kind = part[0]
        if kind == "*":
            return True
        if kind == "v" and x == part[1]:
            return True
        if kind == "r" and part[1] <= x <= part[2]:
            return True
        if kind == "s":
            start = lo if part[1] is None else part[1]
            end = hi if part[2] is None else part[2]
            if start <= x <= end and (x - start) % part[3] == 0:
                return True
    return False


@lru_cache(maxsize=4096)
def month_of(year: int, month: int) -> tuple[date, ...]:
    days = []
    day = date(year, month, 1)
    while day.month == month:
        days.append(day)
        day += timedelta(days=1)
    return tuple(days)


def aws_weekday(day: date) -> int:
    return int(day.strftime("%w")) + 1  # %w: 0 is Sunday


def ref_dom(parts: list[Part], day: date) -> bool:
    whole = month_of(day.year, day.month)
    for part in parts:
        kind = part[0]
        if kind == "L" and (day + timedelta(days=1)).month != day.month:
            return True
        if kind == "L-":
            n = part[1]
            if (day + timedelta(days=n)).month == day.month != (day + timedelta(days=n + 1)).month:
                return True
        if (
            kind == "LW"
            and day.weekday() < 5
            and all(other.weekday() >= 5 for other in whole if other > day)
        ):
            return True
        if kind == "W":
            n = part[1]
            if n <= len(whole):
                workdays = [d for d in whole if d.weekday() < 5]
                if min(workdays, key=lambda d: abs(d.day - n)) == day:
                    return True
        if kind in ("*", "v", "r", "s") and in_parts([part], day.day, 1, 31):
            return True
    return False


def ref_dow(parts: list[Part], day: date) -> bool:
    weekday = aws_weekday(day)
    for part in parts:
        kind = part[0]
        if kind == "L" and weekday == 7:
            return True
        if kind == "nL" and weekday == part[1] and (day + timedelta(days=7)).month != day.month:
            return True
        if kind == "#" and weekday == part[1]:
            seen = [d for d in month_of(day.year, day.month) if d <= day]
            if sum(1 for d in seen if aws_weekday(d) == weekday) == part[2]:
                return True
        if kind in ("*", "v", "r", "s") and in_parts([part], weekday, 1, 7):
            return True
    return False


def ref_date(spec: Spec, day: date) -> bool:
    if not in_parts(spec.years, day.year, 1970, 2199):
        return False
    if not in_parts(spec.months, day.month, 1, 12):
        return False
    if spec.dom is not None:
        return ref_dom(spec.dom, day)
    assert spec.dow is not None
    return ref_dow(spec.dow, day)


def ref_matches(spec: Spec, moment: datetime) -> bool:
    return (
        ref_date(spec, moment.date())
        and in_parts(spec.hours, moment.hour, 0, 23)
        and in_parts(spec.minutes, moment.minute, 0, 59)
    )


REFERENCE_YEARS = 8


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def ref_next(spec: Spec, after: datetime) -> tuple[datetime | None, datetime]:
    """The first matching minute after ``after`` within the cap, and the cap itself."""
    moment = as_utc(after).replace(second=0, microsecond=0) + timedelta(minutes=1)
    cap = moment + timedelta(days=366 * REFERENCE_YEARS)
    while moment <= cap:
        if not in_parts(spec.years, moment.year, 1970, 2199):
            moment = datetime(moment.year + 1, 1, 1, tzinfo=UTC)
        elif not ref_date(spec, moment.date()):
            moment = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), UTC)
        elif ref_matches(spec, moment):
            return moment, cap
        else:
            moment += timedelta(minutes=1)
    return None, cap


@st.composite
def number_parts(
    draw: st.DrawFn, lo: int, hi: int, names: list[str] | None = None
) -> tuple[str, list[Part]]:
    def show(value: int) -> str:
        if names and draw(st.booleans()):
            name = names[value - lo]
            return draw(st.sampled_from([name, name.lower(), name.title()]))
        return str(value)

    count = draw(st.integers(1, 3))
    texts: list[str] = []
    parts: list[Part] = []
    for _ in range(count):
        kind = draw(st.sampled_from(["*", "v", "v", "r", "s", "s"]))
        if kind == "*":
            texts.append("*")
            parts.append(("*",))
        elif kind == "v":
            value = draw(st.integers(lo, hi))
            texts.append(show(value))
            parts.append(("v", value))
        elif kind == "r":
            a = draw(st.integers(lo, hi))
            b = draw(st.integers(a, hi))
            texts.append(f"{show(a)}-{show(b)}")
            parts.append(("r", a, b))
        else:
            step = draw(st.integers(1, max(1, (hi - lo) // 2 + 1)))
            form = draw(st.sampled_from(["star", "start", "range"]))
            if form == "star":
                texts.append(f"*/{step}")
                parts.append(("s", None, None, step))
            elif form == "start":
                a = draw(st.integers(lo, hi))
                texts.append(f"{show(a)}/{step}")
                parts.append(("s", a, None, step))
            else:
                a = draw(st.integers(lo, hi))
                b = draw(st.integers(a, hi))
                texts.append(f"{show(a)}-{show(b)}/{step}")
                parts.append(("s", a, b, step))
    return ",".join(texts), parts


@st.composite
def dom_field(draw: st.DrawFn) -> tuple[str, list[Part]]:
    kind = draw(st.sampled_from(["plain", "plain", "L", "L-", "LW", "W"]))
    if kind == "plain":
        return draw(number_parts(1, 31))
    if kind == "L":
        return "L", [("L",)]
    if kind == "LW":
        return "LW", [("LW",)]
    if kind == "L-":
        n = draw(st.integers(0, 30))
        return f"L-{n}", [("L-", n)]
    n = draw(st.integers(1, 31))
    return f"{n}W", [("W", n)]


@st.composite
def dow_field(draw: st.DrawFn) -> tuple[str, list[Part]]:
    kind = draw(st.sampled_from(["plain", "plain", "L", "nL", "#"]))
    if kind == "plain":
        return draw(number_parts(1, 7, DAYS))
    if kind == "L":
        return "L", [("L",)]
    weekday = draw(st.integers(1, 7))
    shown = draw(st.sampled_from([str(weekday), DAYS[weekday - 1]]))
    if kind == "nL":
        return f"{shown}L", [("nL", weekday)]
    k = draw(st.integers(1, 5))
    return f"{shown}#{k}", [("#", weekday, k)]


@st.composite
def year_field(draw: st.DrawFn) -> tuple[str, list[Part]]:
    kind = draw(st.sampled_from(["*", "*", "v", "r", "list", "s"]))
    if kind == "*":
        return "*", [("*",)]
    if kind == "v":
        year = draw(st.integers(2024, 2034))
        return str(year), [("v", year)]
    if kind == "r":
        a = draw(st.integers(2024, 2032))
        b = draw(st.integers(a, 2034))
        return f"{a}-{b}", [("r", a, b)]
    if kind == "s":
        a = draw(st.integers(2024, 2030))
        step = draw(st.integers(1, 3))
        return f"{a}/{step}", [("s", a, None, step)]
    years = draw(st.lists(st.integers(2024, 2034), min_size=1, max_size=3))
    return ",".join(map(str, years)), [("v", y) for y in years]


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    minutes = draw(number_parts(0, 59))
    hours = draw(number_parts(0, 23))
    months = draw(number_parts(1, 12, MONTHS))
    years = draw(year_field())
    dom: tuple[str, list[Part] | None] = ("?", None)
    dow: tuple[str, list[Part] | None] = ("?", None)
    if draw(st.booleans()):
        dom = draw(st.one_of(st.just(("*", [("*",)])), dom_field()))
    else:
        dow = draw(st.one_of(st.just(("*", [("*",)])), dow_field()))
    fields = [minutes[0], hours[0], dom[0], months[0], dow[0], years[0]]
    text = " ".join(fields)
    if draw(st.booleans()):
        text = f"cron({text})"
    return Spec(text, minutes[1], hours[1], dom[1], months[1], dow[1], years[1])


ZONES = [None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
starts = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31, 23, 59)),
    st.sampled_from(ZONES),
)


@settings(max_examples=150, deadline=None)
@given(spec=specs(), after=starts)
def test_next_after_agrees_with_the_reference(spec: Spec, after: datetime) -> None:
    expr = parse_cron(spec.text)
    ours = expr.next_after(after)
    expected, cap = ref_next(spec, after)
    if expected is not None:
        assert ours == expected, spec.text
    else:
        # Nothing within the reference's reach: ours is later still, or there is none.
        assert ours is None or ours > cap, spec.text
    if ours is not None:
        assert ours > as_utc(after)
        assert (ours.second, ours.microsecond, ours.tzinfo) == (0, 0, UTC)
        assert expr.matches(ours)
        assert ref_matches(spec, ours), spec.text
        following = expr.next_times(ours, 2)
        assert all(t > ours for t in following)
        assert following == sorted(following)


@settings(max_examples=150, deadline=None)
@given(spec=specs(), moment=starts)
def test_matches_agrees_with_the_reference(spec: Spec, moment: datetime) -> None:
    expr = parse_cron(spec.text)
    assert expr.matches(moment) == ref_matches(spec, as_utc(moment)), spec.text
    # Random minutes rarely match; the days around a fire time test the day rules harder.
    fire = expr.next_after(moment)
    if fire is not None:
        for delta in (timedelta(minutes=-1), timedelta(days=-1), timedelta(days=1)):
            near = fire + delta
            if 1970 <= near.year <= 2199:
                assert expr.matches(near) == ref_matches(spec, near), (spec.text, near)


@settings(max_examples=100, deadline=None)
@given(spec=specs())
def test_normalised_text_parses_to_the_same_expression(spec: Spec) -> None:
    expr = parse_cron(spec.text)
    assert expr.text.startswith("cron(") and expr.text.endswith(")")
    assert parse_cron(expr.text) == expr
    assert parse_cron(expr.text[5:-1].lower()) == expr
