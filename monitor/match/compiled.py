"""What `compile.py` makes of a `RuleSet`: the tables and the compiled rules the matcher scans with.

A term is referred to by an int: a literal's id (>= 0) or `~id` of a regular expression (< 0).
Fields are bits of a mask, by their index in FIELD_NAMES.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.match.query import QueryNode
from monitor.match.terms import Literal, Regex
from monitor.models import RULE_FIELDS

__all__ = [
    "ACTORS",
    "ALL",
    "ANY",
    "FIELD_INDEX",
    "FIELD_NAMES",
    "LITERALS",
    "NONE",
    "TAG_PREFIX",
    "TITLE",
    "CompiledActor",
    "CompiledRule",
    "CompiledRules",
    "LiteralSearch",
    "PlainCondition",
    "Triggers",
]

FIELD_NAMES = RULE_FIELDS
FIELD_INDEX = {name: index for index, name in enumerate(FIELD_NAMES)}
TITLE = 1 << FIELD_INDEX["title"]
TAG_PREFIX = "tag:"


# How to find a literal in a text folded character by character, separators not collapsed
# (`NormalizedText.aligned`): its first word (after a space when it must start a word), the
# words after it (separated by any run of spaces), 1 when a word boundary must follow, whether
# it is a prefix (its hit goes on to the end of the word), whether it is case-sensitive, and
# 1 when it starts with a space (the hit starts one character later).
LiteralSearch = tuple[str, tuple[str, ...], int, bool, bool, int]
Triggers = tuple[frozenset[int], frozenset[int]]


# ---- compiled rules and actors -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CompiledActor:
    index: int
    id: str
    name: str  # display name: the first of its names
    literals: tuple[int, ...]  # its names' and its members' names' literal ids (part_of)
    regexes: tuple[int, ...]  # the same for `re:` names, as term refs (< 0)


# A condition of a plain rule (lists of literals only, searching every scanned field) that its
# triggers do not imply: (ACTORS or LITERALS, ALL, ANY or NONE, the actor indexes or literal ids).
PlainCondition = tuple[bool, int, tuple[int, ...]]
LITERALS, ACTORS = False, True
ALL, ANY, NONE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class CompiledRule:
    index: int
    id: str
    mask: int  # bits of the fields searched (1 << FIELD_INDEX[name])
    fields: tuple[int, ...]  # the same as field indexes, in FIELD_NAMES order
    feeds: tuple[str, ...]
    feed_ids: frozenset[str]
    feed_tags: frozenset[str]
    kw_any: tuple[int, ...]
    kw_all: tuple[int, ...]
    kw_none: tuple[int, ...]
    ac_any: tuple[int, ...]
    ac_all: tuple[int, ...]
    ac_none: tuple[int, ...]
    query: QueryNode | None  # the parsed tree, its leaves resolved
    min_score: float | None
    terms: tuple[tuple[str, int], ...]  # positive terms (as written, ref), for the report
    actors: tuple[int, ...]  # positive actors, for the report
    labels: Mapping[int, str] = field(default_factory=dict)  # ref -> the term as written
    query_text: str | None = None
    has_regex: bool = False  # a term or an actor's name is a regular expression
    term_refs: tuple[int, ...] = ()  # the refs of `terms`
    triggers: Triggers | None = None  # see CompiledRules.first_triggers
    # For a plain rule, what is left to check once it is a candidate (often nothing): with no
    # query, no regular expression and every scanned field searched, a condition is a set of
    # literals or actors found anywhere. None for any other rule.
    plain: tuple[PlainCondition, ...] | None = None

    def feed_allowed(self, feed_id: str, feed_tags: Iterable[str]) -> bool:
        if not self.feeds or feed_id in self.feed_ids:
            return True
        return not self.feed_tags.isdisjoint(feed_tags)


@dataclass(frozen=True, slots=True)
class CompiledRules:
    rules: tuple[CompiledRule, ...]
    actors: tuple[CompiledActor, ...]
    literals: tuple[Literal, ...]
    literal_bounds: tuple[tuple[int, int], ...]  # (back, cut): a hit ending at e is e-back..e+1-cut
    searches: tuple[LiteralSearch, ...]  # by literal id, how to find it in an aligned text
    regexes: tuple[Regex, ...]
    literal_actors: tuple[tuple[int, ...], ...]  # by literal id: the used actors it counts for
    actor_literals: frozenset[int]  # the literals that count for some used actor
    containers: frozenset[int]  # actor names a hit of another actor's name may be inside
    # By literal id, the rules whose first (second) trigger it is part of: a rule is evaluated
    # only when both its triggers have a hit (for a rule with one, both are the same).
    first_triggers: tuple[tuple[int, ...], ...]
    second_triggers: tuple[tuple[int, ...], ...]
    always: tuple[int, ...]  # rules evaluated on every article
    folded: Any  # ahocorasick.Automaton over the folded text, or None
    cased: Any  # the same for case-sensitive literals, over the case-kept text
    fields: tuple[int, ...]  # the fields any rule searches
    by_id: Mapping[str, int]
