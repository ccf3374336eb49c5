"""Grok patterns: the log classifiers (built-in and custom).

``%{PATTERN}`` inserts a named pattern, ``%{PATTERN:field}`` captures a column,
``%{PATTERN:field:type}`` types it (byte, boolean, double, short, int, long, float; string by
default). A pattern compiles to one regular expression whose only capturing groups are the
columns, in order; the same text is valid for Python's ``re`` and for Java (Spark's
``regexp_extract``), which is how log tables are read in Spark.

The primitive patterns follow the definitions of Glue's built-in pattern library. Glue does not
publish the patterns of its ``linux_kernel``, ``redislog`` and ``redismonlog`` classifiers; the
ones here are written from those log formats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sparkglue.crawler.classifiers.base import Inferred, Verdict, unknown
from sparkglue.crawler.sample import FileSample
from sparkglue.errors import InvalidInput

__all__ = ["BUILTIN_LOG_CLASSIFIERS", "GrokClassifier", "GrokPattern", "compile_grok"]

GROK_SERDE = "com.amazonaws.glue.serde.GrokSerDe"
_MAX_LINES = 1000

BASE_PATTERNS: dict[str, str] = {
    "USERNAME": r"[a-zA-Z0-9._-]+",
    "USER": r"%{USERNAME}",
    "INT": r"(?:[+-]?(?:[0-9]+))",
    "BASE10NUM": r"(?<![0-9.+-])(?>[+-]?(?:(?:[0-9]+(?:\.[0-9]+)?)|(?:\.[0-9]+)))",
    "NUMBER": r"(?:%{BASE10NUM})",
    "POSINT": r"\b(?:[1-9][0-9]*)\b",
    "NONNEGINT": r"\b(?:[0-9]+)\b",
    "WORD": r"\b\w+\b",
    "NOTSPACE": r"\S+",
    "SPACE": r"\s*",
    "DATA": r".*?",
    "GREEDYDATA": r".*",
    "QUOTEDSTRING": (
        r"(?>(?<!\\)(?>\"(?>\\.|[^\\\"]+)+\"|\"\"|(?>'(?>\\.|[^\\']+)+')|''"
        r"|(?>`(?>\\.|[^\\`]+)+`)|``))"
    ),
    "QS": r"%{QUOTEDSTRING}",
    "IPV4": (
        r"(?<![0-9])(?:(?:25[0-5]|2[0-4][0-9]|[0-1]?[0-9]{1,2})"
        r"(?:\.(?:25[0-5]|2[0-4][0-9]|[0-1]?[0-9]{1,2})){3})(?![0-9])"
    ),
    "IPV6": (
        r"(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"
        r"|(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4})"
    ),
    "IP": r"(?:%{IPV6}|%{IPV4})",
    "HOSTNAME": (
        r"\b(?:[0-9A-Za-z][0-9A-Za-z_-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z_-]{0,62}))*(?:\.?|\b)"
    ),
    "IPORHOST": r"(?:%{HOSTNAME}|%{IP})",
    "MONTH": (
        r"\b(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?"
        r"|Aug(?:ust)?|Sep(?:tember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b"
    ),
    "MONTHNUM": r"(?:0?[1-9]|1[0-2])",
    "MONTHDAY": r"(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])",
    "DAY": (
        r"\b(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?"
        r"|Sat(?:urday)?|Sun(?:day)?)\b"
    ),
    "YEAR": r"(?>\d\d){1,2}",
    "HOUR": r"(?:2[0123]|[01]?[0-9])",
    "MINUTE": r"(?:[0-5][0-9])",
    "SECOND": r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)",
    "TIME": r"(?<![0-9])%{HOUR}:%{MINUTE}(?::%{SECOND})(?![0-9])",
    "HTTPDATE": r"%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}",
    "SYSLOGTIMESTAMP": r"%{MONTH} +%{MONTHDAY} %{TIME}",
    "COMMONAPACHELOG": (
        r"%{IPORHOST:clientip} %{USER:ident} %{USER:auth} \[%{HTTPDATE:timestamp}\] "
        r"\"(?:%{WORD:verb} %{NOTSPACE:request}(?: HTTP/%{NUMBER:httpversion})?"
        r"|%{DATA:rawrequest})\" "
        r"%{NUMBER:response} (?:%{NUMBER:bytes}|-)"
    ),
    "COMBINEDAPACHELOG": r"%{COMMONAPACHELOG} %{QS:referrer} %{QS:agent}",
    "LINUXKERNELLOG": (
        r"%{SYSLOGTIMESTAMP:timestamp} %{HOSTNAME:hostname} kernel: "
        r"(?:\[\s*%{BASE10NUM:uptime}\] )?%{GREEDYDATA:message}"
    ),
    "REDISTIMESTAMP": r"%{MONTHDAY} %{MONTH}(?: %{YEAR})? %{TIME}",
    "REDISLOG": (
        r"\[?%{POSINT:pid}(?:\]|:%{WORD:role}) %{REDISTIMESTAMP:timestamp} "
        r"%{REDISLEVEL:level} %{GREEDYDATA:message}"
    ),
    "REDISLEVEL": r"[.*#-]",
    "REDISMONLOG": (
        r"%{NUMBER:timestamp} \[%{INT:database} %{IPORHOST:client}:%{POSINT:port}\] "
        r"\"%{WORD:command}\"(?: %{GREEDYDATA:params})?"
    ),
}

GROK_TYPES = {
    "byte": "tinyint",
    "boolean": "boolean",
    "double": "double",
    "short": "smallint",
    "int": "int",
    "long": "bigint",
    "float": "float",
    "string": "string",
}
_REF = re.compile(r"%\{(\w+)(?::([\w.@-]+))?(?::(\w+))?\}")


@dataclass(frozen=True)
class GrokPattern:
    """A compiled grok pattern: one regex, and the (column, Hive type) of each capture."""

    source: str
    regex: str
    columns: tuple[tuple[str, str], ...]

    @property
    def compiled(self) -> re.Pattern[str]:
        return _compiled(self.regex)


@lru_cache(maxsize=256)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _only_listed_groups(regex: str) -> str:
    """Make every plain ``(`` non-capturing (captures are added as ``\x00(`` markers)."""
    out: list[str] = []
    i, n, in_class = 0, len(regex), False
    while i < n:
        ch = regex[i]
        if ch == "\\":
            out.append(regex[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            out.append(ch)
            if regex[i + 1 : i + 2] == "]":  # a literal ] first in a class
                out.append("]")
                i += 1
        elif ch == "\x00":
            out.append("(")
            i += 2  # the marker and the "(" after it
            continue
        elif ch == "(" and regex[i + 1 : i + 2] != "?":
            out.append("(?:")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def parse_custom_patterns(text: str | None) -> dict[str, str]:
    """``NAME regex`` lines (Glue's CustomPatterns); blank lines and ``#`` comments skipped."""
    patterns: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, body = line.partition(" ")
        if not re.fullmatch(r"\w+", name) or not body.strip():
            raise InvalidInput(f"custom grok pattern line {number} '{line}' must be 'NAME regex'")
        patterns[name] = body.strip()
    return patterns


def compile_grok(
    pattern: str, custom: dict[str, str] | None = None, *, check: bool = True
) -> GrokPattern:
    """Compile a grok expression; errors name the unknown pattern or bad type. With
    ``check=False`` (the built-in patterns, which a test checks) the regex is compiled only
    when first used."""
    library = {**BASE_PATTERNS, **(custom or {})}
    columns: list[tuple[str, str]] = []
    seen: set[str] = set()

    def expand(text: str, depth: int) -> str:
        if depth > 30:
            raise InvalidInput(f"grok pattern '{pattern}' refers to itself in a loop")

        def replace(match: re.Match[str]) -> str:
            name, field, type_name = match.group(1), match.group(2), match.group(3)
            if name not in library:
                raise InvalidInput(f"grok pattern '{pattern}' uses unknown pattern %{{{name}}}")
            inner = expand(library[name], depth + 1)
            if field is None or field == "UNWANTED":
                return f"(?:{inner})"
            hive = GROK_TYPES.get((type_name or "string").lower())
            if hive is None:
                raise InvalidInput(
                    f"grok pattern '{pattern}': type '{type_name}' of field '{field}' is not one "
                    f"of {', '.join(GROK_TYPES)}"
                )
            column = field.lower()
            if column in seen:
                raise InvalidInput(f"grok pattern '{pattern}' captures '{field}' twice")
            seen.add(column)
            columns.append((column, hive))
            return f"\x00({inner})"

        # Captures are numbered by position, so expand strictly left to right.
        result, last = [], 0
        for match in _REF.finditer(text):
            result.append(text[last : match.start()])
            result.append(replace(match))
            last = match.end()
        result.append(text[last:])
        return "".join(result)

    regex = _only_listed_groups(expand(pattern, 0))
    if not check:
        return GrokPattern(pattern, regex, tuple(columns))
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise InvalidInput(
            f"grok pattern '{pattern}' is not a valid regular expression: {exc}"
        ) from None
    if compiled.groups != len(columns):
        raise InvalidInput(f"grok pattern '{pattern}' has capture groups of its own; use (?: )")
    if not columns:
        raise InvalidInput(f"grok pattern '{pattern}' captures no field; name one: %{{WORD:verb}}")
    return GrokPattern(pattern, regex, tuple(columns))


class GrokClassifier:
    """Lines that the grok pattern matches in full are records of this classification."""

    def __init__(
        self,
        name: str,
        classification: str,
        pattern: str,
        custom_patterns: str | None = None,
        *,
        builtin: bool = False,
    ) -> None:
        self.name = name
        self.classification = classification
        self.custom_patterns = custom_patterns
        self.grok = compile_grok(pattern, parse_custom_patterns(custom_patterns), check=not builtin)
        self.builtin = builtin
        self._hint = FIRST_LINE_HINTS.get(pattern) if builtin else None

    def classify(self, sample: FileSample) -> Verdict:
        text = sample.text()
        if sample.head_error or sample.text_error:
            why = sample.head_error or sample.text_error or ""
            return unknown(self.name, self.classification, why)
        if self.builtin and not self._first_line_matches(sample.first_line()):
            # A built-in needs every line to match: the first that does not settles it.
            return unknown(
                self.name,
                self.classification,
                f"the first line does not match %{{{self.grok.source}}}",
            )
        matcher = self.grok.compiled
        lines = text.splitlines()
        if not sample.head_is_whole_file and lines:
            lines = lines[:-1]
        lines = [line for line in lines if line.strip()]
        records_in_head = len(lines)
        lines = lines[:_MAX_LINES]
        if not lines:
            return unknown(self.name, self.classification, "no lines")
        matched = sum(1 for line in lines if matcher.fullmatch(line))
        share = matched / len(lines)
        certainty = (1.0 if share == 1.0 else 0.0) if self.builtin else round(share, 3)
        reason = f"{matched} of {len(lines)} sampled lines match %{{{self.grok.source}}}"
        if certainty == 0.0:
            return unknown(self.name, self.classification, reason)
        serde = {"input.format": self.grok.source}
        if self.custom_patterns:
            serde["input.grokCustomPatterns"] = self.custom_patterns
        return Verdict(
            self.name,
            self.classification,
            certainty,
            reason,
            Inferred(
                columns=list(self.grok.columns),
                serde_library=GROK_SERDE,
                serde_parameters=serde,
                parameters={
                    "typeOfData": "file",
                    "grokPattern": self.grok.regex.replace("\x00", ""),
                },
                records=records_in_head,
                sampled_bytes=len(sample.head()),
            ),
        )

    def _first_line_matches(self, line: str) -> bool:
        """Whether the whole first line matches; a line without the text the pattern cannot
        match without is turned down before the pattern is compiled or run."""
        if self._hint is not None and self._hint.search(line) is None:
            return False
        return self.grok.compiled.fullmatch(line) is not None


BUILTIN_LOG_CLASSIFIERS: tuple[tuple[str, str], ...] = (
    ("combined_apache", "%{COMBINEDAPACHELOG}"),
    ("apache", "%{COMMONAPACHELOG}"),
    ("linux_kernel", "%{LINUXKERNELLOG}"),
    ("redismonlog", "%{REDISMONLOG}"),
    ("redislog", "%{REDISLOG}"),
)

# What a line must hold for each built-in pattern to match it in full (a test checks them on
# the lines the patterns match): most files are not logs, and these rule them out at once.
FIRST_LINE_HINTS: dict[str, re.Pattern[str]] = {
    "%{COMBINEDAPACHELOG}": re.compile(r'\] "'),  # after [timestamp], the quoted request
    "%{COMMONAPACHELOG}": re.compile(r'\] "'),
    "%{LINUXKERNELLOG}": re.compile(r" kernel: "),
    "%{REDISMONLOG}": re.compile(r'\] "'),  # after [db client:port], the quoted command
    "%{REDISLOG}": re.compile(r"\A\[?[1-9][0-9]*(?:\]|:\w)"),  # [pid] or pid:role
}
