"""Reading typed values out of `Located` YAML trees, reporting every problem with file:line.

`Checker` holds the getters shared by monitor.yaml (`schema`) and the rule files (`rules`): each
appends a `ConfigError` for a bad value and returns None, so that one load reports them all.
The value checks (`id_problem`, `url_problem`) say why a value is wrong; terms are the match
stage's to judge (`TermCheck`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import cast
from urllib.parse import urlsplit

from monitor.config.files import Located
from monitor.config.settings import DURATION_HINT, parse_duration
from monitor.errors import ConfigError
from monitor.redact import REDACTED, redact_url

ID_MAX = 64
_ID = re.compile(r"[a-z0-9_-]+")
_ID_RULE = f'use lower-case letters, digits, "-" and "_" (at most {ID_MAX} characters)'
_INTEGER = re.compile(r"\s*-?[0-9]+\s*", re.ASCII)
_WHOLE_NUMBER = re.compile(r"\s*[0-9]+\s*", re.ASCII)


def id_problem(value: str) -> str | None:
    """Why `value` is not a valid feed, notifier, actor or rule id, or None."""
    if not _ID.fullmatch(value) or len(value) > ID_MAX:
        return f"is not a valid id: {_ID_RULE}"
    return None


def url_problem(value: str) -> str | None:
    """Why `value` is not an absolute http(s) URL with a host, or None."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "is not a URL: expected http://host/... or https://host/..."
    if any(map(str.isspace, value)):
        return "is not a URL: it contains whitespace (encode spaces as %20)"
    if not parts.scheme:
        return "is not a URL: it needs http:// or https:// in front"
    if parts.scheme.lower() not in ("http", "https"):
        return f'uses "{parts.scheme}": only http and https URLs are supported'
    if not parts.hostname:
        return "has no host: expected http://host/... or https://host/..."
    return None


def suggestion(word: str, choices: Iterable[str]) -> str:
    """` (did you mean "x"?)` for the closest of `choices`, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def one_of(words: Sequence[str], last: str = "or") -> str:
    """`a, b or c`."""
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"


def shown_url(node: Located) -> str:
    if node.template is None and isinstance(node.value, str):
        redacted = redact_url(node.value)
        # A URL too broken to parse cannot be redacted, so it is not shown.
        return "this value" if redacted == REDACTED else f'"{redacted}"'
    return node.shown()


def given(node: Located | None) -> bool:
    """The key is there with a value (or with a `${VAR}` that failed, already reported)."""
    return node is not None and (node.value is not None or node.unresolved)


def id_nodes(items: Iterable[Located]) -> list[Located]:
    """The `id` values the entries claim, valid or not, so that one typo is not reported twice."""
    ids = (item.mapping.get("id") if item.mapping is not None else None for item in items)
    return [node for node in ids if node is not None and isinstance(node.value, str)]


def _is_bare_number(value: object) -> bool:
    """A whole number, 0 or more, written without a unit (`10`, `"10"`)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, str) and bool(_WHOLE_NUMBER.fullmatch(value))


@dataclass(slots=True)
class Checker:
    """Reads values out of `Located` nodes. A getter given None (the key is absent) or an
    unresolved `${VAR}` returns None without a message: that was reported already."""

    errors: list[ConfigError]

    def report(self, node: Located, message: str, *, key: str | None = None) -> None:
        self.errors.append(node.error(message, key=key))

    def mapping(
        self,
        node: Located,
        allowed: Sequence[str] | None,
        *,
        required: Sequence[str] = (),
        what: str = "",
    ) -> Mapping[str, Located] | None:
        """The mapping at `node`, after reporting unknown and missing keys."""
        if node.unresolved:
            return None
        if node.mapping is None:
            keys = f" with keys {one_of(allowed, 'and')}" if allowed else ""
            where = f"{what} must be" if what else "expected"
            self.report(node, f"{where} a mapping{keys}, not {node.kind}")
            return None
        for key in node.mapping:
            if allowed is not None and key not in allowed:
                hint = suggestion(key, allowed) or f": expected {one_of(allowed)}"
                self.report(node, f'unknown key "{key}"{hint}', key=key)
        for key in required:
            if key not in node.mapping:
                self.report(node, f'missing required key "{key}"')
        return node.mapping

    def items(self, node: Located | None) -> tuple[Located, ...]:
        """The list at `node`; absent, null (`key:` with nothing after) and unresolved are ()."""
        if node is None or node.value is None:
            return ()
        if node.sequence is None:
            hint = f" (write [{node.value}])" if isinstance(node.value, str) else ""
            self.report(node, f"expected a list, not {node.kind}{hint}")
            return ()
        return node.sequence

    def string(self, node: Located | None) -> str | None:
        """A non-empty string, else None (reported)."""
        if node is None or node.unresolved:
            return None
        if not isinstance(node.value, str):
            scalar = isinstance(node.value, int | float | date)
            hint = " (put it in quotes to make it a string)" if scalar else ""
            self.report(node, f"expected a string, not {node.kind}{hint}")
            return None
        if not node.value.strip():
            self.report(node, "must not be empty")
            return None
        return node.value

    def identifier(self, node: Located | None) -> str | None:
        value = self.string(node)
        if value is not None and node is not None and (problem := id_problem(value)):
            self.report(node, f"{node.shown()} {problem}")
            return None
        return value

    def url(self, node: Located | None) -> str | None:
        value = self.string(node)
        if value is not None and node is not None and (problem := url_problem(value)):
            self.report(node, f"{shown_url(node)} {problem}")
            return None
        return value

    def choice(self, node: Located | None, choices: Sequence[str], what: str) -> str | None:
        value = self.string(node)
        if value is not None and node is not None and value not in choices:
            hint = suggestion(value, choices) or f": use {one_of(choices)}"
            self.report(node, f"{node.shown()} is not a {what}{hint}")
            return None
        return value

    def duration(self, node: Located, default: timedelta) -> timedelta | None:
        """A duration with its unit (`30s`, `10m`, `1h30m`); null means `default`. A bare number
        is refused: `interval: 10` reads as ten minutes to many, ten seconds to the parser."""
        value = node.value
        if node.unresolved:
            return None
        if value is None:
            return default
        if _is_bare_number(value):
            number = str(value).strip()
            self.report(
                node,
                f"{node.shown()} has no unit: write {number}s, {number}m, {number}h or "
                f"{number}d (e.g. 10m, 30s)",
            )
            return None
        try:
            if isinstance(value, str):
                return parse_duration(value)
        except ValueError as exc:
            # An expanded ${VAR} is named, not repeated: parse_duration's message holds the value.
            shown = f"{node.shown()} is not a duration: {DURATION_HINT}"
            self.report(node, shown if node.template is not None else str(exc))
            return None
        self.report(node, f"{node.shown()} is not a duration: {DURATION_HINT}")
        return None

    def count(self, node: Located, low: int = 0, high: int | None = None) -> int | None:
        """A whole number from `low` (0) to `high` (no limit); a `${VAR}` gives its digits as a
        string."""
        value = node.value
        if node.unresolved:
            return None
        if node.template is not None and isinstance(value, str) and _INTEGER.fullmatch(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.report(node, f"expected a whole number, not {node.shown()}")
            return None
        if value < low or (high is not None and value > high):
            limits = f"{low} or more" if high is None else f"from {low} to {high}"
            self.report(node, f"must be {limits}, not {node.shown()}")
            return None
        return value

    def strings(self, node: Located | None) -> tuple[str, ...] | None:
        """A list of non-empty strings, duplicates dropped; None if any entry is bad."""
        values = [self.string(item) for item in self.items(node)]
        if any(value is None for value in values):
            return None
        return tuple(dict.fromkeys(cast(list[str], values)))

    def unique_ids(self, items: Sequence[Located], what: str) -> None:
        """Reports every id used a second time, even by an entry that is invalid otherwise."""
        first: dict[str, Located] = {}
        for node in id_nodes(items):
            assert isinstance(node.value, str)
            if node.value not in first:
                first[node.value] = node
                continue
            origin = first[node.value].field.rsplit(".", 1)[0]
            line = first[node.value].line
            message = f'duplicate {what} id "{node.value}" (first used by {origin} on line {line})'
            self.report(node, message)
