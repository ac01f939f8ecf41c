"""Rule terms compiled into what the matcher scans for: literal keys or RE2 regular expressions.

A literal's key is its normalised text between spaces (a whole word or phrase in the normalised
article text), without the trailing space for a `prefix*` term, and without either space on the
side of a character of a script written without spaces (Chinese, Japanese, Thai, ...), which
matches inside a longer run. `re:` terms run on the article's text before normalisation.

This module is the one definition of the term syntax: config reads terms as written and leaves
them to `compile_term`, whose problems are reported at the term's `SourceRef`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import re2

from monitor.errors import ConfigError
from monitor.match.text import SEPARATOR, fold, is_unspaced
from monitor.models import TermSpec

__all__ = ["Literal", "Pattern", "Regex", "RuleError", "compile_term", "term_problem"]

REGEX_PREFIX = "re:"
PREFIX_MARK = "*"
PREFIX_MIN_LETTERS = 3  # before `*`: "a*" would match a third of all words
NO_LETTERS = "has no letters or digits: it would match nothing"


class RuleError(ConfigError):
    """A term, query or rule that cannot be compiled; `column` is 1-based within a query.
    `problem` is the message without the term it is about (`is an empty regular expression`)."""

    def __init__(
        self, message: str, *, column: int | None = None, problem: str | None = None
    ) -> None:
        self.column = column
        self.problem = problem if problem is not None else message
        super().__init__(message)

    @classmethod
    def of_term(cls, text: str, problem: str) -> RuleError:
        return cls(f'"{text}" {problem}', problem=problem)


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
    """A term as the matcher scans for it. Raises RuleError, with the message `check` shows
    (`"pe*" is too short a prefix: ...`), when it is not a term or can never match."""
    return _compiled(spec.text, spec.case_sensitive)


def term_problem(text: str) -> str | None:
    """Why `text` cannot be a term (a word or phrase, `prefix*`, or `re:pattern`), or None.
    A term it accepts is kept compiled, so that the compiler does not compile it again."""
    try:
        _compiled(text, False)
    except RuleError as exc:
        return exc.problem
    return None


# Config checks each term before the rules compile, and a reload compiles them all again: a
# term, and RE2 above all, is compiled once. The patterns are immutable (RE2 is thread-safe).
@lru_cache(maxsize=1 << 16)
def _compiled(text: str, case_sensitive: bool) -> Pattern:
    if text.startswith(REGEX_PREFIX):
        return _compile_regex(text, case_sensitive)
    return _compile_literal(text, case_sensitive)


def _literal_problem(body: str, prefix: bool) -> str | None:
    if PREFIX_MARK in body:
        return 'has "*" inside: "*" only works at the end of a term, where it makes a prefix'
    letters = sum(map(str.isalnum, body))
    if not letters:
        return NO_LETTERS
    if prefix and (letters < PREFIX_MIN_LETTERS or not body[-1].isalnum()):
        return f'is too short a prefix: give at least {PREFIX_MIN_LETTERS} letters before "*"'
    return None


def _compile_literal(text: str, case_sensitive: bool) -> Literal:
    body = text.strip()
    prefix = body.endswith(PREFIX_MARK)
    body = body.removesuffix(PREFIX_MARK)
    words = fold(body, keep_case=case_sensitive).strip()
    problem = _literal_problem(body, prefix) or (None if words else NO_LETTERS)
    if problem is not None:
        raise RuleError.of_term(text, problem)
    lead = "" if is_unspaced(words[0]) else SEPARATOR
    trail = "" if prefix or is_unspaced(words[-1]) else SEPARATOR
    return Literal(f"{lead}{words}{trail}", case_sensitive, prefix)


def _compile_regex(text: str, case_sensitive: bool) -> Regex:
    pattern = text[len(REGEX_PREFIX) :]
    if not pattern.strip():
        raise RuleError.of_term(text, "is an empty regular expression")
    options = re2.Options()
    options.log_errors = False  # RE2 would print every bad pattern on stderr
    options.case_sensitive = case_sensitive
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        shown = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        hint = "RE2 has no lookaround and no backreferences"
        problem = f"is not a regular expression RE2 accepts: {shown} ({hint})"
        raise RuleError.of_term(text, problem) from None
    return Regex(pattern, case_sensitive, compiled)
