"""What changed between two versions of a table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparkglue.catalog.models import Column, TableInput

__all__ = ["Change", "TableDiff", "diff_tables"]


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` is added, removed or changed; ``what`` names the element."""

    kind: str
    what: str
    old: Any = None
    new: Any = None

    def describe(self) -> str:
        if self.kind == "added":
            return f"+ {self.what}: {self.new}"
        if self.kind == "removed":
            return f"- {self.what}: {self.old}"
        return f"~ {self.what}: {self.old} -> {self.new}"


@dataclass(frozen=True)
class TableDiff:
    old_version: int
    new_version: int
    changes: list[Change] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "changes": [
                {"kind": c.kind, "what": c.what, "old": c.old, "new": c.new} for c in self.changes
            ],
        }


def _columns(kind: str, old: list[Column], new: list[Column]) -> list[Change]:
    before = {c.name: c for c in old}
    after = {c.name: c for c in new}
    changes: list[Change] = []
    for key, col in after.items():
        if key not in before:
            changes.append(Change("added", f"{kind} {col.name}", new=col.type))
        else:
            prev = before[key]
            if prev.type != col.type:
                changes.append(Change("changed", f"{kind} {col.name} type", prev.type, col.type))
            if prev.comment != col.comment:
                changes.append(
                    Change("changed", f"{kind} {col.name} comment", prev.comment, col.comment)
                )
    for key, col in before.items():
        if key not in after:
            changes.append(Change("removed", f"{kind} {col.name}", old=col.type))
    return changes


def _mapping(kind: str, old: dict[str, str], new: dict[str, str]) -> list[Change]:
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if key not in old:
            changes.append(Change("added", f"{kind} {key}", new=new[key]))
        elif key not in new:
            changes.append(Change("removed", f"{kind} {key}", old=old[key]))
        elif old[key] != new[key]:
            changes.append(Change("changed", f"{kind} {key}", old[key], new[key]))
    return changes


def diff_tables(
    old: TableInput, new: TableInput, *, old_version: int, new_version: int
) -> TableDiff:
    """The changes from ``old`` to ``new``: columns, partition keys, storage, parameters."""
    changes = _columns("column", old.columns, new.columns)
    changes += _columns("partition key", old.partition_keys, new.partition_keys)
    for kind, before, after in (
        ("column order", old.columns, new.columns),
        ("partition key order", old.partition_keys, new.partition_keys),
    ):
        kept = {c.name for c in before} & {c.name for c in after}
        old_order = [c.name for c in before if c.name in kept]
        new_order = [c.name for c in after if c.name in kept]
        if old_order != new_order:
            changes.append(Change("changed", kind, old_order, new_order))
    for attr in (
        "description",
        "location",
        "input_format",
        "output_format",
        "serde_library",
        "compressed",
        "table_type",
    ):
        a, b = getattr(old, attr), getattr(new, attr)
        if a != b:
            changes.append(Change("changed", attr.replace("_", " "), a, b))
    changes += _mapping("serde parameter", old.serde_parameters, new.serde_parameters)
    changes += _mapping("parameter", old.parameters, new.parameters)
    return TableDiff(old_version, new_version, changes)
