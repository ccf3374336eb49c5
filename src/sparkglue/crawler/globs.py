"""Glue's exclusion globs, compiled to regular expressions.

Patterns match paths relative to the include path, with ``/`` between folders:

- ``*`` any characters within one folder or file name (never ``/``)
- ``**`` any characters across folders (zero or more, ``/`` included)
- ``?`` one character (not ``/``)
- ``[a-z]``, ``[!a-z]`` a character class, negated with ``!`` (never ``/``)
- ``{a,b}`` one of several sub-patterns (no nesting)
- ``\\`` escapes the next character
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from sparkglue.errors import InvalidInput

__all__ = ["ExclusionSet", "compile_glob"]


def _translate(pattern: str, source: str, *, in_group: bool = False) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise InvalidInput(f"exclusion pattern '{source}' ends with a lone backslash")
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif ch == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
            else:
                out.append("[^/]*")
                i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern.startswith(("[!", "[]"), i) else i + 1)
            if end == -1:
                raise InvalidInput(f"exclusion pattern '{source}' has '[' without a closing ']'")
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            if not body:
                raise InvalidInput(f"exclusion pattern '{source}' has an empty character class")
            escaped = "".join("\\" + c if c in "\\^]" else c for c in body)
            out.append(f"[^/{escaped}]" if negate else f"(?:(?!/)[{escaped}])")
            i = end + 1
        elif ch == "{":
            if in_group:
                raise InvalidInput(f"exclusion pattern '{source}' nests '{{' groups")
            end = pattern.find("}", i)
            if end == -1:
                raise InvalidInput(f"exclusion pattern '{source}' has '{{' without a closing '}}'")
            body = pattern[i + 1 : end]
            if "{" in body:
                raise InvalidInput(f"exclusion pattern '{source}' nests '{{' groups")
            options = [_translate(part, source, in_group=True) for part in body.split(",")]
            out.append("(?:" + "|".join(options) + ")")
            i = end + 1
        elif ch == "}" and not in_group:
            raise InvalidInput(f"exclusion pattern '{source}' has '}}' without an opening '{{'")
        else:
            out.append(re.escape(ch))
            i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """The regular expression a Glue exclusion pattern stands for (whole-path match)."""
    if not pattern or not pattern.strip():
        raise InvalidInput("an exclusion pattern is empty; remove it or write one such as '*.tmp'")
    text = pattern.strip().lstrip("/")
    return re.compile(_translate(text, pattern), re.DOTALL)


class ExclusionSet:
    """Several exclusion patterns: a path is excluded when any of them matches it."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.patterns: Sequence[str] = tuple(patterns)
        self._compiled = [compile_glob(p) for p in self.patterns]

    def excludes(self, relative_path: str) -> bool:
        return any(rx.fullmatch(relative_path) for rx in self._compiled)

    def excludes_folder(self, relative_folder: str) -> bool:
        """Whether every path under this folder is excluded, so listing can skip it.

        True when a pattern matches both ``F/x`` and ``F/x/y`` for names no literal can match
        (NUL characters): only wildcards that cross any depth, such as ``F/**``, do that.
        """
        folder = relative_folder.rstrip("/")
        one, two = f"{folder}/\x00", f"{folder}/\x00/\x00"
        return any(rx.fullmatch(one) and rx.fullmatch(two) for rx in self._compiled)

    def __bool__(self) -> bool:
        return bool(self.patterns)
