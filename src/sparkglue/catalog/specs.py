"""Reading spec files (YAML or JSON) into validated inputs, with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sparkglue.catalog.models import TableSpec
from sparkglue.errors import InvalidInput

__all__ = [
    "load_spec",
    "load_spec_file",
    "load_table_spec",
    "parse_table_spec",
    "spec_error_message",
]

M = TypeVar("M", bound=BaseModel)


def _parse(text: str, source: str) -> Any:
    import yaml  # YAML is a superset of JSON: one parser reads both

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "malformed"
        raise InvalidInput(f"{source} is not valid YAML/JSON{where}: {problem}") from None


def spec_error_message(source: str, exc: ValidationError) -> str:
    """One line naming the first bad key of a spec: ``spec.yaml: unknown key 'x'``."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{source}: unknown key '{loc}'; check its spelling against the documented keys"
    if err["type"] == "missing":
        return f"{source}: required key '{loc}' is missing"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{source}: {loc}: {msg}" if loc != "(top level)" else f"{source}: {msg}"


def load_spec(model: type[M], text: str, source: str) -> M:
    """Validate a YAML/JSON document against ``model``; errors name the first bad key."""
    data = _parse(text, source)
    if not isinstance(data, dict):
        raise InvalidInput(f"{source} must hold a mapping of keys to values at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(spec_error_message(source, exc)) from None
    except InvalidInput as exc:  # raised by a type-string validator
        raise InvalidInput(f"{source}: {exc}") from None


def parse_table_spec(text: str, source: str = "table spec") -> TableSpec:
    return load_spec(TableSpec, text, source)


def load_spec_file(model: type[M], path: str | Path) -> M:
    """Read a YAML/JSON spec file into ``model``; a missing or unreadable file, like a bad key,
    is a one-line :class:`InvalidInput`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"spec file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"spec file {path} cannot be read: {exc}") from None
    return load_spec(model, text, str(path))


def load_table_spec(path: str | Path) -> TableSpec:
    """Read a table spec file (``database``, ``name``, ``columns``, … see docs/catalog.md)."""
    return load_spec_file(TableSpec, path)
