"""What every command shares: the resolved settings, the console, option parsing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import BaseModel, ValidationError

from sparkglue.config import Settings
from sparkglue.console import Console, JsonConsole, TerminalConsole
from sparkglue.errors import InvalidInput

if TYPE_CHECKING:
    from sparkglue.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)


@dataclass
class CliState:
    """Global flags, resolved into settings when a command needs them."""

    workspace: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    debug: bool = False

    def settings(self) -> Settings:
        return Settings.resolve(self.workspace, overrides=self.overrides)

    def open(self, console: Console) -> Workspace:
        from sparkglue.workspace import Workspace  # every service: only when a command needs it

        return Workspace(settings=self.settings(), console=console)


pass_state = click.make_pass_decorator(CliState)


def output_option(func: F) -> F:
    """``--output text|json`` on a listing command."""
    return click.option(
        "--output",
        "-o",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Print for people (text) or for programs (json).",
    )(func)


def console_for(output: str) -> Console:
    return JsonConsole() if output == "json" else TerminalConsole()


def parse_pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    """``('a=1', 'b=2')`` → ``{'a': '1', 'b': '2'}``; a value without ``=`` is a usage error."""
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{item}' is not KEY=VALUE", param_hint=flag)
        pairs[key] = value
    return pairs


def build(model: type[M], what: str, **values: Any) -> M:
    """Validate CLI input into a model, turning a validation error into one line."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        from sparkglue.catalog import spec_error_message

        raise InvalidInput(spec_error_message(what, exc)) from None
