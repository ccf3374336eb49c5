"""The JsonPath subset Glue's JSON classifiers use: ``$``, ``.key``, ``['key']``, ``[*]``."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["parse_json_path", "select"]


def select(document: Any, path: list[str]) -> list[Any]:
    items = [document]
    for step in path:
        nxt: list[Any] = []
        for item in items:
            if step == "[*]":
                if isinstance(item, list):
                    nxt.extend(item)
            elif isinstance(item, dict) and step in item:
                nxt.append(item[step])
        items = nxt
    return items


def parse_json_path(json_path: str) -> list[str]:
    if not json_path.startswith("$"):
        raise ValueError(f"JsonPath '{json_path}' must start with '$'")
    steps = re.findall(r"\.([^.\[\]]+)|\[(\*)\]|\['([^']+)'\]", json_path[1:])
    rebuilt = "".join(f".{a}" if a else "[*]" if b else f"['{c}']" for a, b, c in steps)
    if rebuilt != json_path[1:]:
        raise ValueError(f"JsonPath '{json_path}' uses syntax other than .key, ['key'] and [*]")
    return [a or (f"[{b}]" if b else c) for a, b, c in steps]
