"""Schedules of SCHEDULED triggers: Glue's ``cron(…)`` and a ``rate(N unit)`` form.

``cron(Minutes Hours Day-of-month Month Day-of-week Year)`` is what Glue accepts. ``rate(N
seconds|minutes|hours|days)`` is sparkglue's own (EventBridge's form, plus seconds): it fires at
the multiples of its period since the Unix epoch, so every process computes the same fire times
and a fire time names one tick for good.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sparkglue.scheduler.cron import CronError, CronExpression

__all__ = ["Rate", "Schedule", "parse_schedule"]

_RATE = re.compile(r"rate\(\s*(\d+)\s+([a-z]+)\s*\)", re.IGNORECASE)
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


class Schedule(Protocol):
    @property
    def text(self) -> str: ...

    def next_after(self, moment: datetime) -> datetime | None: ...

    def next_times(self, after: datetime, count: int) -> list[datetime]: ...


@dataclass(frozen=True)
class Rate:
    """Every ``seconds`` seconds, at multiples of the period since the epoch (UTC)."""

    text: str
    seconds: int

    def next_after(self, moment: datetime) -> datetime | None:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        epoch = moment.timestamp()
        return datetime.fromtimestamp((int(epoch // self.seconds) + 1) * self.seconds, UTC)

    def next_times(self, after: datetime, count: int) -> list[datetime]:
        first = self.next_after(after)
        assert first is not None
        return [first + timedelta(seconds=self.seconds * i) for i in range(count)]


def parse_schedule(text: str) -> Schedule:
    """A ``cron(…)`` or ``rate(…)`` schedule.

    Raises:
        ValueError: the expression is not valid (the message says which part and why).
    """
    stripped = text.strip()
    match = _RATE.fullmatch(stripped)
    if match:
        value, unit = int(match.group(1)), match.group(2).lower()
        base = unit[:-1] if unit.endswith("s") else unit
        if base not in _UNITS:
            raise ValueError(
                f"schedule '{text}': unit '{unit}' is not one of seconds, minutes, hours, days"
            )
        if value < 1:
            raise ValueError(f"schedule '{text}': the rate must be at least 1 {base}")
        return Rate(f"rate({value} {unit})", value * _UNITS[base])
    if stripped.lower().startswith("rate("):
        raise ValueError(
            f"schedule '{text}' is not valid; write rate(N seconds|minutes|hours|days)"
        )
    try:
        return CronExpression.parse(stripped)
    except CronError as exc:
        raise ValueError(str(exc)) from None
