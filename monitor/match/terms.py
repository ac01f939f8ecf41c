"""Rule terms compiled into what the matcher scans for: literal keys or RE2 regular expressions.

A literal's key is its normalised text between spaces (a whole word or phrase in the normalised
article text), without the trailing space for a `prefix*` term, and without either space on the
side of a character of a script written without spaces (Chinese, Japanese, Thai, ...), which
matches inside a longer run. `re:` terms run on the article's text before normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import re2

from monitor.errors import ConfigError
from monitor.match.text import SEPARATOR, fold, is_unspaced
from monitor.models import TermSpec

__all__ = ["Literal", "Pattern", "Regex", "RuleError", "compile_term"]

REGEX_PREFIX = "re:"
PREFIX_MARK = "*"


class RuleError(ConfigError):
    """A term, query or rule that cannot be compiled; `column` is 1-based within a query."""

    def __init__(self, message: str, *, column: int | None = None) -> None:
        self.column = column
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Literal:
    """A word, phrase or prefix, found by the Aho-Corasick scan."""

    key: str  # normalised; spaces at the ends where a word boundary is required
    case_sensitive: bool = False
    prefix: bool = False

    @property
    def lead(self) -> int:
        """1 when the key starts with a boundary space (not part of the matched word)."""
        return 1 if self.key.startswith(SEPARATOR) else 0

    @property
    def trail(self) -> int:
        return 1 if self.key.endswith(SEPARATOR) else 0


@dataclass(frozen=True, slots=True)
class Regex:
    """An RE2 regular expression run on the text before normalisation."""

    pattern: str
    case_sensitive: bool = False
    compiled: Any = field(default=None, compare=False, hash=False, repr=False)

    def finditer(self, text: str) -> list[tuple[int, int]]:
        """Spans of the non-empty matches in `text`."""
        return [(m.start(), m.end()) for m in self.compiled.finditer(text) if m.end() > m.start()]


Pattern = Literal | Regex


def compile_term(spec: TermSpec) -> Pattern:
    """A term as the matcher scans for it. Raises RuleError when it can never match."""
    if spec.text.startswith(REGEX_PREFIX):
        return _compile_regex(spec.text[len(REGEX_PREFIX) :], spec.case_sensitive)
    return _compile_literal(spec.text, spec.case_sensitive)


def _compile_literal(text: str, case_sensitive: bool) -> Literal:
    body = text.strip()
    prefix = body.endswith(PREFIX_MARK)
    if prefix:
        body = body[:-1]
    if PREFIX_MARK in body:
        raise RuleError(f'term "{text}": "*" only works at the end of a term (a prefix)')
    words = fold(body, keep_case=case_sensitive).strip()
    if not words:
        raise RuleError(f'term "{text}" has no letters or digits to match')
    lead = "" if is_unspaced(words[0]) else SEPARATOR
    trail = "" if prefix or is_unspaced(words[-1]) else SEPARATOR
    return Literal(f"{lead}{words}{trail}", case_sensitive, prefix)


def _compile_regex(pattern: str, case_sensitive: bool) -> Regex:
    if not pattern:
        raise RuleError('empty regular expression after "re:"')
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = case_sensitive
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RuleError(
            f'invalid regular expression "re:{pattern}": {reason} (RE2 has no backreferences '
            "or lookaround)"
        ) from None
    return Regex(pattern, case_sensitive, compiled)
