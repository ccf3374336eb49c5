"""Where progress and messages go: a terminal, JSON for machines, or nowhere (tests).

Library code never prints; it talks to a :class:`Console`. The CLI picks the implementation
(rich in a terminal, JSON for ``--output json``); tests and embedded use get :class:`NullConsole`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

__all__ = ["Console", "JsonConsole", "NullConsole", "TerminalConsole"]


class Console(Protocol):
    """What library code may say to the user."""

    def message(self, text: str) -> None:
        """A line of information (goes to stderr in JSON mode)."""

    def step(self, text: str) -> None:
        """A finished step of a longer piece of work (``✓ text``)."""

    def warning(self, text: str) -> None:
        """Something the user should know but that did not stop the work."""

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """A listing: rows of values under named columns."""

    def record(self, data: dict[str, Any]) -> None:
        """One object shown in full (``show`` commands)."""

    def status(self, text: str) -> Any:
        """A context manager showing ``text`` with a spinner while work runs."""

    def progress(self, text: str, total: int) -> Any:
        """A context manager yielding ``advance(n)``, showing a bar of ``total`` steps."""


def _ignore(_steps: int) -> None:
    pass


class NullConsole:
    """Says nothing: for tests and library use."""

    def message(self, text: str) -> None:
        pass

    def step(self, text: str) -> None:
        pass

    def warning(self, text: str) -> None:
        pass

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        pass

    def record(self, data: dict[str, Any]) -> None:
        pass

    @contextmanager
    def status(self, text: str) -> Iterator[None]:
        yield

    @contextmanager
    def progress(self, text: str, total: int) -> Iterator[Callable[[int], None]]:
        yield _ignore


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


class TerminalConsole:
    """Rich output for people: tables, check marks, spinners on stderr."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        from rich.console import Console as RichConsole

        self._out = RichConsole(file=out or sys.stdout, highlight=False, soft_wrap=True)
        self._err = RichConsole(file=err or sys.stderr, highlight=False, soft_wrap=True)

    def message(self, text: str) -> None:
        self._out.print(text, markup=False)

    def step(self, text: str) -> None:
        self._out.print(f"[green]✓[/green] {_escape(text)}")

    def warning(self, text: str) -> None:
        self._err.print(f"[yellow]Warning:[/yellow] {_escape(text)}")

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        from rich.table import Table

        table = Table(title=title or None, title_justify="left", show_lines=False)
        for column in columns:
            table.add_column(_escape(column), overflow="fold")
        for row in rows:
            table.add_row(*(_escape(_cell(v)) for v in row))
        self._out.print(table)

    def record(self, data: dict[str, Any]) -> None:
        import yaml

        self._out.print(
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).rstrip(),
            markup=False,
        )

    @contextmanager
    def status(self, text: str) -> Iterator[None]:
        if self._err.is_terminal:
            with self._err.status(_escape(text)):
                yield
        else:
            self._err.print(_escape(text) + " …")
            yield

    @contextmanager
    def progress(self, text: str, total: int) -> Iterator[Callable[[int], None]]:
        if not self._err.is_terminal or total < 200:
            yield _ignore
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self._err,
            transient=True,
        ) as bar:
            task = bar.add_task(_escape(text), total=total)
            yield lambda steps: bar.advance(task, steps)


class JsonConsole:
    """Machine output: listings and records as JSON on stdout, everything else on stderr."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self._out = out or sys.stdout
        self._err = err or sys.stderr

    def _emit(self, payload: Any) -> None:
        self._out.write(json.dumps(payload, default=str, ensure_ascii=False) + "\n")
        self._out.flush()

    def message(self, text: str) -> None:
        self._err.write(text + "\n")

    def step(self, text: str) -> None:
        self._err.write(text + "\n")

    def warning(self, text: str) -> None:
        self._err.write(f"Warning: {text}\n")

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        names = _unique(columns)
        self._emit([dict(zip(names, row, strict=True)) for row in rows])

    def record(self, data: dict[str, Any]) -> None:
        self._emit(data)

    @contextmanager
    def status(self, text: str) -> Iterator[None]:
        yield

    @contextmanager
    def progress(self, text: str, total: int) -> Iterator[Callable[[int], None]]:
        yield _ignore


def _unique(columns: Sequence[str]) -> list[str]:
    """Column names as JSON keys: a repeated name gets ``_2``, ``_3`` … (SQL allows repeats)."""
    seen: dict[str, int] = {}
    names = []
    for column in columns:
        seen[column] = seen.get(column, 0) + 1
        names.append(column if seen[column] == 1 else f"{column}_{seen[column]}")
    return names


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
