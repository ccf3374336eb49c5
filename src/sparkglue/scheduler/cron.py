"""AWS Glue / EventBridge cron expressions, evaluated in UTC.

An expression is ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``:

=============  ===========  =====================================
Field          Values       Wildcards
=============  ===========  =====================================
Minutes        0-59         ``, - * /``
Hours          0-23         ``, - * /``
Day-of-month   1-31         ``, - * / ? L W`` (``L``, ``L-n``, ``nW``, ``LW``)
Month          1-12         ``, - * /`` and ``JAN``-``DEC``
Day-of-week    1-7          ``, - * / ? L #`` and ``SUN``-``SAT`` (1 is Sunday)
Year           1970-2199    ``, - * /``
=============  ===========  =====================================

Exactly one of day-of-month and day-of-week is ``?``. ``nW`` is the weekday nearest to day
``n`` without leaving the month (no match when the month has no day ``n``); ``nL`` in
day-of-week is the last such weekday of the month and ``n#k`` the k-th (k from 1 to 5).
Ranges do not wrap around: ``FRI-MON`` is an error rather than a guess.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["CronError", "CronExpression", "parse_cron"]

_SHAPE = "Minutes Hours Day-of-month Month Day-of-week Year"
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_NUMBER = re.compile(r"[0-9]+")
_DOW_LAST = re.compile(r"([0-9]+|[A-Z]+)L")
_DOW_NTH = re.compile(r"([0-9]+|[A-Z]+)#([0-9]+)")
_DOM_LAST_MINUS = re.compile(r"L-([0-9]+)")
_DOM_WEEKDAY = re.compile(r"([0-9]+)W")


class CronError(ValueError):
    """A cron expression that Glue would reject; the message says which field and how to fix it."""


@dataclass(frozen=True)
class _Field:
    name: str
    lo: int
    hi: int
    names: Mapping[str, int]
    hint: str


_MINUTES = _Field("minutes", 0, 59, {}, "0-59")
_HOURS = _Field("hours", 0, 23, {}, "0-23")
_DOM = _Field("day-of-month", 1, 31, {}, "1-31")
_MONTH = _Field(
    "month",
    1,
    12,
    {name: i for i, name in enumerate(_MONTH_NAMES, start=1)},
    "1-12 or JAN-DEC",
)
_DOW = _Field(
    "day-of-week",
    1,
    7,
    {name: i for i, name in enumerate(_DAY_NAMES, start=1)},
    "1-7 (1=SUN) or SUN-SAT",
)
_YEAR = _Field("year", 1970, 2199, {}, "1970-2199")


# A day rule turns (weekday of the 1st as Monday=0, days in the month) into the days it selects.
# Both day fields depend on nothing else, so a month's days are cached under those two numbers.
@dataclass(frozen=True)
class _DaySet:
    days: frozenset[int]

    def select(self, first: int, size: int) -> set[int]:
        return {d for d in self.days if d <= size}


@dataclass(frozen=True)
class _LastDay:
    offset: int

    def select(self, first: int, size: int) -> set[int]:
        day = size - self.offset
        return {day} if day >= 1 else set()


@dataclass(frozen=True)
class _NearestWeekday:
    day: int  # 0 for LW: the last day of the month

    def select(self, first: int, size: int) -> set[int]:
        day = self.day or size
        if day > size:
            return set()
        weekday = (first + day - 1) % 7
        if weekday == 5:  # Saturday: Friday before, unless that is in the previous month
            return {day - 1 if day > 1 else day + 2}
        if weekday == 6:  # Sunday: Monday after, unless that is in the next month
            return {day + 1 if day < size else day - 2}
        return {day}


@dataclass(frozen=True)
class _Weekdays:
    weekdays: frozenset[int]  # Monday=0

    def select(self, first: int, size: int) -> set[int]:
        return {d for d in range(1, size + 1) if (first + d - 1) % 7 in self.weekdays}


@dataclass(frozen=True)
class _NthWeekday:
    weekday: int  # Monday=0
    nth: int  # 0 for the last one of the month

    def select(self, first: int, size: int) -> set[int]:
        first_match = 1 + (self.weekday - first) % 7
        if self.nth == 0:
            return {first_match + 7 * ((size - first_match) // 7)}
        day = first_match + 7 * (self.nth - 1)
        return {day} if day <= size else set()


_DayRule = _DaySet | _LastDay | _NearestWeekday | _Weekdays | _NthWeekday


def _special(token: str) -> str | None:
    """Which of Glue's special characters a token that is not a plain value is trying to use."""
    if "#" in token:
        return "#"
    stem = token[:-1]
    if token.endswith("W") and (stem == "L" or _NUMBER.fullmatch(stem) or stem == ""):
        return "W"
    if token == "L" or token.startswith("L-"):
        return "L"
    if token.endswith("L") and (_NUMBER.fullmatch(stem) or stem in _DAY_NAMES):
        return "L"
    return None


def _python_weekday(aws_day: int) -> int:
    # AWS counts 1=Sunday .. 7=Saturday; Python 0=Monday .. 6=Sunday.
    return (aws_day + 5) % 7


@dataclass(frozen=True)
class _Compiled:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...]
    day_rules: tuple[_DayRule, ...]
    cache: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict, compare=False)

    def days(self, year: int, month: int) -> tuple[int, ...]:
        first, size = calendar.monthrange(year, month)
        key = (first, size)
        found = self.cache.get(key)
        if found is None:
            chosen: set[int] = set()
            for rule in self.day_rules:
                chosen |= rule.select(first, size)
            found = self.cache[key] = tuple(sorted(chosen))
        return found

    def first_time(self, hour: int, minute: int) -> tuple[int, int] | None:
        """The earliest (hour, minute) of a matching day at or after ``hour:minute``."""
        for h in self.hours[bisect_left(self.hours, hour) :]:
            if h != hour:
                return h, self.minutes[0]
            i = bisect_left(self.minutes, minute)
            if i < len(self.minutes):
                return h, self.minutes[i]
        return None


class _Parser:
    def __init__(self, shown: str) -> None:
        self.shown = shown

    def error(self, spec: _Field, problem: str, fix: str) -> CronError:
        return CronError(f"{self.shown}: {spec.name} {problem}; {fix}")

    def value(self, spec: _Field, token: str) -> int:
        if _NUMBER.fullmatch(token):
            number = int(token)
            if not spec.lo <= number <= spec.hi:
                raise self.error(spec, f"value {number} is out of range", f"use {spec.hint}")
            return number
        if token in spec.names:
            return spec.names[token]
        raise self.misplaced(spec, token)

    def misplaced(self, spec: _Field, token: str) -> CronError:
        """Explain a token that is neither a number nor a name of this field."""
        if token == "":
            return self.error(spec, "has an empty value", f"use {spec.hint}")
        if token == "?":
            return self.error(
                spec,
                "does not accept ? here",
                "? stands alone and only in day-of-month or day-of-week",
            )
        kind = _special(token)
        if kind == "#":
            if spec is _DOW:
                return self.error(spec, f"has {token!r}", "write a weekday and a count, e.g. 3#2")
            return self.error(
                spec, f"has {token!r}: # is only valid in day-of-week", "e.g. 3#2 (second Tuesday)"
            )
        if kind == "W":
            if spec is _DOM:
                return self.error(spec, f"has {token!r}", "W follows a single day, e.g. 15W or LW")
            return self.error(
                spec, f"has {token!r}: W is only valid in day-of-month", "e.g. 15W or LW"
            )
        if kind == "L":
            if spec is _DOM:
                return self.error(spec, f"has {token!r}", "use L alone, L-3 or LW")
            if spec is _DOW:
                return self.error(
                    spec, f"has {token!r}", "use L alone or after a weekday, e.g. 6L or FRIL"
                )
            return self.error(
                spec,
                f"has {token!r}: L is only valid in day-of-month or day-of-week",
                "e.g. L or LW in day-of-month, 6L in day-of-week",
            )
        if spec.names:
            return self.error(spec, f"has unknown value {token!r}", f"use {spec.hint}")
        return self.error(spec, f"value {token!r} is not a number", f"use {spec.hint}")

    def numbers(self, spec: _Field, item: str) -> range:
        """``*``, ``n``, ``a-b`` with an optional ``/step``."""
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not _NUMBER.fullmatch(step_text) or int(step_text) == 0:
                raise self.error(
                    spec,
                    f"has increment {step_text!r} in {item!r}",
                    "write a positive whole number after /, e.g. */5",
                )
            step = int(step_text)
        if base == "*":
            return range(spec.lo, spec.hi + 1, step)
        start_text, dash, end_text = base.partition("-")
        start = self.value(spec, start_text)
        if not dash:
            return range(start, (spec.hi if slash else start) + 1, step)
        end = self.value(spec, end_text)
        if start > end:
            raise self.error(
                spec,
                f"range {base!r} runs backwards",
                "ranges do not wrap around; put the smaller value first or join two ranges "
                "with a comma",
            )
        return range(start, end + 1, step)

    def number_field(self, spec: _Field, text: str) -> tuple[int, ...]:
        chosen: set[int] = set()
        for item in text.split(","):
            chosen.update(self.numbers(spec, item))
        return tuple(sorted(chosen))

    def day_of_month(self, text: str) -> tuple[_DayRule, ...]:
        rules: list[_DayRule] = []
        plain: set[int] = set()
        for item in text.split(","):
            if item == "L":
                rules.append(_LastDay(0))
            elif item == "LW":
                rules.append(_NearestWeekday(0))
            elif match := _DOM_LAST_MINUS.fullmatch(item):
                offset = int(match[1])
                if offset > 30:
                    raise self.error(_DOM, f"offset {item!r} is too large", "use L-0 to L-30")
                rules.append(_LastDay(offset))
            elif match := _DOM_WEEKDAY.fullmatch(item):
                rules.append(_NearestWeekday(self.value(_DOM, match[1])))
            else:
                plain.update(self.numbers(_DOM, item))
        if plain:
            rules.append(_DaySet(frozenset(plain)))
        return tuple(rules)

    def day_of_week(self, text: str) -> tuple[_DayRule, ...]:
        rules: list[_DayRule] = []
        plain: set[int] = set()
        for item in text.split(","):
            if item == "L":
                plain.add(7)  # L alone is the last day of the week: Saturday
            elif match := _DOW_NTH.fullmatch(item):
                nth = int(match[2])
                if not 1 <= nth <= 5:
                    raise self.error(
                        _DOW, f"has {item!r}: a month has at most 5 of a weekday", "use #1 to #5"
                    )
                weekday = _python_weekday(self.value(_DOW, match[1]))
                rules.append(_NthWeekday(weekday, nth))
            elif match := _DOW_LAST.fullmatch(item):
                rules.append(_NthWeekday(_python_weekday(self.value(_DOW, match[1])), 0))
            else:
                plain.update(self.numbers(_DOW, item))
        if plain:
            rules.append(_Weekdays(frozenset(_python_weekday(d) for d in plain)))
        return tuple(rules)

    def compile(self, fields: list[str]) -> _Compiled:
        minutes, hours, dom, month, dow, year = fields
        if dom == "?" and dow == "?":
            raise CronError(
                f"{self.shown}: day-of-month and day-of-week cannot both be ?; "
                "set one of them (e.g. * in day-of-month)"
            )
        if dom != "?" and dow != "?":
            raise CronError(
                f"{self.shown}: day-of-month and day-of-week cannot both be set; "
                "put ? in one of them"
            )
        return _Compiled(
            minutes=self.number_field(_MINUTES, minutes),
            hours=self.number_field(_HOURS, hours),
            months=self.number_field(_MONTH, month),
            years=self.number_field(_YEAR, year),
            day_rules=self.day_of_week(dow) if dom == "?" else self.day_of_month(dom),
        )


def _split(text: str) -> list[str]:
    if not isinstance(text, str):
        raise CronError(
            f"cron expression must be text, not {type(text).__name__}; write cron({_SHAPE})"
        )
    body = text.strip()
    if body[:5].lower() == "cron(":
        if not body.endswith(")"):
            raise CronError(
                f"cron expression {body!r} has no closing parenthesis; write cron({_SHAPE})"
            )
        body = body[5:-1]
    if "(" in body or ")" in body:
        raise CronError(
            f"cron expression {text.strip()!r} is not a cron(...) schedule; "
            f"Glue triggers take cron({_SHAPE})"
        )
    fields = body.split()
    if len(fields) != 6:
        raise CronError(
            f"cron expression {text.strip()!r} has {len(fields)} fields; Glue needs 6: {_SHAPE}"
        )
    return fields


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class CronExpression:
    """A parsed Glue cron expression; compare and hash by its normalised text.

    Attributes:
        text: The expression as ``cron(a b c d e f)``: single spaces, letters upper-cased.
    """

    text: str
    _compiled: _Compiled = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = _split(self.text)
        shown = "cron(" + " ".join(fields) + ")"
        compiled = _Parser(shown).compile([f.upper() for f in fields])
        object.__setattr__(self, "text", shown[:5] + shown[5:].upper())
        object.__setattr__(self, "_compiled", compiled)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.text,))

    def __str__(self) -> str:
        return self.text

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        """Parse ``cron(...)`` or its six bare fields.

        Args:
            text: The expression; surrounding whitespace and letter case do not matter.

        Returns:
            The parsed expression.

        Raises:
            CronError: The expression is malformed; the message names the field at fault.
        """
        return cls(text)

    def matches(self, moment: datetime) -> bool:
        """Whether the expression fires in the minute of ``moment``.

        Args:
            moment: An aware datetime, or a naive one taken as UTC; seconds are ignored.

        Returns:
            True when every field accepts that minute.
        """
        at = _utc(moment)
        c = self._compiled
        return (
            at.minute in c.minutes
            and at.hour in c.hours
            and at.month in c.months
            and at.year in c.years
            and at.day in c.days(at.year, at.month)
        )

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after ``moment``.

        Args:
            moment: An aware datetime, or a naive one taken as UTC.

        Returns:
            An aware UTC datetime on a whole minute, or None when the expression never fires
            again (its years are over, or the dates it names do not exist).
        """
        c = self._compiled
        floor = _utc(moment).replace(second=0, microsecond=0)
        if floor.year > c.years[-1]:
            return None
        start = floor + timedelta(minutes=1)
        for year in c.years[bisect_left(c.years, start.year) :]:
            in_start_year = year == start.year
            for month in c.months:
                if in_start_year and month < start.month:
                    continue
                in_start_month = in_start_year and month == start.month
                days = c.days(year, month)
                lowest = start.day if in_start_month else 1
                for day in days[bisect_left(days, lowest) :]:
                    if in_start_month and day == start.day:
                        time = c.first_time(start.hour, start.minute)
                        if time is None:
                            continue
                    else:
                        time = (c.hours[0], c.minutes[0])
                    return datetime(year, month, day, time[0], time[1], tzinfo=UTC)
        return None

    def next_times(self, after: datetime, count: int) -> list[datetime]:
        """Up to ``count`` consecutive fire times strictly after ``after``.

        Args:
            after: An aware datetime, or a naive one taken as UTC.
            count: How many times to return; fewer come back when the schedule ends.

        Returns:
            Aware UTC datetimes in increasing order.

        Raises:
            ValueError: ``count`` is negative.
        """
        if count < 0:
            raise ValueError(f"count must be 0 or more, got {count}")
        times: list[datetime] = []
        moment: datetime | None = after
        while len(times) < count and moment is not None:
            moment = self.next_after(moment)
            if moment is not None:
                times.append(moment)
        return times


def parse_cron(text: str) -> CronExpression:
    """Parse a Glue cron expression; the same as :meth:`CronExpression.parse`.

    Args:
        text: ``cron(Minutes Hours Day-of-month Month Day-of-week Year)`` or the six fields.

    Returns:
        The parsed expression.

    Raises:
        CronError: The expression is malformed; the message names the field at fault.
    """
    return CronExpression.parse(text)
