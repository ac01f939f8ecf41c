"""A `RuleSet` compiled once into the tables the matcher scans with, every problem reported.

Every literal term and actor name goes into one Aho-Corasick automaton (a second one holds the
case-sensitive terms, scanned over the case-kept text). A term is referred to by an int: a
literal's id (>= 0) or `~id` of a regular expression (< 0). Each rule is indexed under the
literals of two conditions it cannot hold without (its triggers), so that an article only
evaluates the rules both of whose triggers it has a literal of, plus the few that have no such
condition (only `none`/NOT, or only regular expressions): those are evaluated on every article.
A rule of plain lists (no query, no regular expression) that searches every scanned field keeps
only the conditions its triggers do not imply, for a quick check of a candidate.

An actor's name found inside a longer name of another actor ("Guinea" in "Papua New Guinea")
does not count for the actor: the names that may hold another's (`containers`, with those of
actors no rule names) are scanned too, and a hit inside one of theirs is set aside.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import ahocorasick

from monitor.errors import ConfigError, ConfigErrors
from monitor.match import query as q
from monitor.match.checks import condition_problem
from monitor.match.compiled import (
    ACTORS,
    ALL,
    ANY,
    FIELD_INDEX,
    FIELD_NAMES,
    LITERALS,
    NONE,
    TAG_PREFIX,
    CompiledActor,
    CompiledRule,
    CompiledRules,
    LiteralSearch,
    PlainCondition,
    Triggers,
)
from monitor.match.terms import Literal, Pattern, Regex, RuleError, compile_term
from monitor.match.text import SEPARATOR, fold
from monitor.models import ActorSpec, RuleSet, RuleSpec, SourceRef, TermSpec

if TYPE_CHECKING:
    from monitor.match.matcher import Matcher

__all__ = ["compile_rules"]


def compile_rules(rules: RuleSet) -> Matcher:
    """The matcher for a rule set. Raises one ConfigErrors listing every problem found."""
    from monitor.match.matcher import Matcher

    return Matcher(_Builder(rules).build())


def _numbered(items: Iterable[Any], kind: str) -> Iterator[tuple[str, Any]]:
    """Each rule or actor with its field path (`rules[3]`), counted within its file."""
    counters: dict[str | None, int] = defaultdict(int)
    for item in items:
        where = item.where
        path = where.path if where is not None else None
        given = where.field if where is not None else None
        yield given or f"{kind}[{counters[path]}]", item
        counters[path] += 1


class _Builder:
    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self.errors: list[ConfigError] = []
        self.literals: dict[Literal, int] = {}
        self.regexes: dict[Regex, int] = {}
        self.actor_index: dict[str, int] = {}
        self.actor_patterns: list[tuple[Pattern, ...]] = []
        self.members: dict[int, list[int]] = defaultdict(list)
        self.triggers: dict[int, frozenset[int]] = {}
        self.used_actors: set[int] = set()

    # -- errors and interning --
    def error(self, message: str, where: SourceRef | None, field_path: str) -> None:
        path = where.path if where is not None else None
        line = where.line if where is not None else None
        self.errors.append(ConfigError(message, path=path, line=line, field=field_path))

    def intern(self, pattern: Pattern) -> int:
        if isinstance(pattern, Literal):
            return self.literals.setdefault(pattern, len(self.literals))
        return ~self.regexes.setdefault(pattern, len(self.regexes))

    def pattern(self, spec: TermSpec, where: SourceRef | None, path: str) -> Pattern | None:
        try:
            return compile_term(spec)
        except RuleError as exc:
            given = spec.where.field if spec.where is not None else None
            self.error(exc.message, spec.where or where, given or path)
            return None

    # -- actors --
    def add_actors(self) -> None:
        for path, actor in _numbered(self.ruleset.actors, "actors"):
            if actor.id in self.actor_index:
                self.error(f'duplicate actor id "{actor.id}"', actor.where, f"{path}.id")
                continue
            self.actor_index[actor.id] = len(self.actor_patterns)
            self.actor_patterns.append(self.actor_names(actor, path))
        for path, actor in _numbered(self.ruleset.actors, "actors"):
            member = self.actor_index[actor.id]
            for parent in actor.part_of:
                if parent not in self.actor_index:
                    self.error(f'unknown actor "{parent}"', actor.where, f"{path}.part_of")
                elif self.actor_index[parent] != member:
                    self.members[self.actor_index[parent]].append(member)

    def actor_names(self, actor: ActorSpec, path: str) -> tuple[Pattern, ...]:
        if not actor.names:
            self.error(f'actor "{actor.id}" has no names', actor.where, f"{path}.names")
        names = (
            self.pattern(n, actor.where, f"{path}.names[{i}]") for i, n in enumerate(actor.names)
        )
        return tuple(name for name in names if name is not None)

    def actor_triggers(self, actor: int) -> frozenset[int]:
        """Refs of the names of `actor` and of every actor that is part of it, transitively."""
        if actor not in self.triggers:
            seen, todo = {actor}, [actor]
            while todo:
                for member in self.members.get(todo.pop(), ()):
                    if member not in seen:
                        seen.add(member)
                        todo.append(member)
            refs = {self.intern(p) for member in seen for p in self.actor_patterns[member]}
            self.triggers[actor] = frozenset(refs)
        return self.triggers[actor]

    def actor_refs(self, ids: Iterable[str], where: SourceRef | None, path: str) -> tuple[int, ...]:
        found: list[int] = []
        for actor_id in ids:
            index = self.actor_index.get(actor_id)
            if index is None:
                self.error(f'unknown actor "{actor_id}"', where, path)
                continue
            self.used_actors.add(index)
            self.actor_triggers(index)
            found.append(index)
        return tuple(found)

    # -- rules --
    def terms(
        self, specs: Iterable[TermSpec], rule: RuleSpec, path: str, labels: dict[int, str]
    ) -> tuple[int, ...]:
        refs: list[int] = []
        for i, spec in enumerate(specs):
            pattern = self.pattern(spec, rule.where, f"{path}[{i}]")
            if pattern is not None:
                ref = self.intern(pattern)
                labels.setdefault(ref, spec.text)
                refs.append(ref)
        return tuple(refs)

    def query(self, rule: RuleSpec, path: str, labels: dict[int, str]) -> q.QueryNode | None:
        if rule.query is None:
            return None
        where = rule.query_where or rule.where
        try:
            return q.resolve(q.parse_query(rule.query), lambda leaf: self.leaf(leaf, labels))
        except RuleError as exc:
            self.error(exc.message, where, f"{path}.query")
            return None

    def leaf(self, node: q.Leaf, labels: dict[int, str]) -> q.Leaf:
        """A query's term or @actor with its ref."""
        if isinstance(node, q.Term):
            try:
                ref = self.intern(compile_term(TermSpec(node.text)))
            except RuleError as exc:
                raise RuleError(
                    f"{exc.message} at column {node.column}", column=node.column
                ) from None
            labels.setdefault(ref, node.text)
            return replace(node, ref=ref)
        if node.id not in self.actor_index:
            message = f'unknown actor "@{node.id}" at column {node.column}'
            raise RuleError(message, column=node.column)
        return replace(node, actor=self.actor_refs((node.id,), None, "")[0])

    def has_regex(self, refs: list[int], actors: list[int], query: q.QueryNode | None) -> bool:
        refs = refs + _atoms(query, q.Term)
        actors = actors + _atoms(query, q.ActorRef)
        triggers = (ref for actor in actors for ref in self.actor_triggers(actor))
        return any(ref < 0 for ref in refs) or any(ref < 0 for ref in triggers)

    def fields(self, rule: RuleSpec, path: str) -> tuple[int, ...]:
        unknown = [name for name in rule.fields if name not in FIELD_INDEX]
        for name in unknown:
            choices = ", ".join(FIELD_NAMES)
            self.error(f'unknown field "{name}" (one of {choices})', rule.where, f"{path}.fields")
        if not rule.fields:
            self.error("fields is empty: name at least one field", rule.where, f"{path}.fields")
        return tuple(sorted({FIELD_INDEX[name] for name in rule.fields if name in FIELD_INDEX}))

    def feeds(self, rule: RuleSpec, path: str) -> tuple[frozenset[str], frozenset[str]]:
        tags = {feed[len(TAG_PREFIX) :] for feed in rule.feeds if feed.startswith(TAG_PREFIX)}
        if "" in tags:
            self.error('"tag:" needs a tag name', rule.where, f"{path}.feeds")
        ids = {feed for feed in rule.feeds if not feed.startswith(TAG_PREFIX)}
        return frozenset(ids), frozenset(tags)

    def rule(self, index: int, rule: RuleSpec, path: str) -> CompiledRule:
        labels: dict[int, str] = {}
        keywords, actors = rule.keywords, rule.actors
        if problem := condition_problem(keywords, actors, rule.query):
            self.error(problem, rule.where, path)
        fields = self.fields(rule, path)
        feed_ids, feed_tags = self.feeds(rule, path)
        kw = [
            self.terms(getattr(keywords, k), rule, f"{path}.keywords.{k}", labels) for k in _LISTS
        ]
        where = rule.where
        ac = [self.actor_refs(getattr(actors, k), where, f"{path}.actors.{k}") for k in _LISTS]
        query = self.query(rule, path, labels)
        positive_terms = [*kw[0], *kw[1], *_atoms(query, q.Term, positive=True)]
        positive_actors = [*ac[0], *ac[1], *_atoms(query, q.ActorRef, positive=True)]
        has_regex = self.has_regex([*kw[0], *kw[1], *kw[2]], [*ac[0], *ac[1], *ac[2]], query)
        triggers = self.triggers_of(kw, ac, query)
        plain = None if query is not None or has_regex else self.plain_conditions(kw, ac, triggers)
        return CompiledRule(
            index=index,
            id=rule.id,
            mask=sum(1 << f for f in fields),
            fields=fields,
            feeds=rule.feeds,
            feed_ids=feed_ids,
            feed_tags=feed_tags,
            kw_any=kw[0],
            kw_all=kw[1],
            kw_none=kw[2],
            ac_any=ac[0],
            ac_all=ac[1],
            ac_none=ac[2],
            query=query,
            min_score=rule.min_score,
            terms=tuple((labels[ref], ref) for ref in dict.fromkeys(positive_terms)),
            actors=tuple(dict.fromkeys(positive_actors)),
            labels=labels,
            query_text=rule.query,
            has_regex=has_regex,
            term_refs=tuple(dict.fromkeys(positive_terms)),
            triggers=triggers,
            plain=plain,
        )

    def build(self) -> CompiledRules:
        self.add_actors()
        rules: list[CompiledRule] = []
        seen: set[str] = set()
        for path, spec in _numbered(self.ruleset.rules, "rules"):
            if spec.id in seen:
                self.error(f'duplicate rule id "{spec.id}"', spec.where, f"{path}.id")
                continue
            seen.add(spec.id)
            rules.append(self.rule(len(rules), spec, path))
        if self.errors:
            order = sorted(self.errors, key=lambda e: (e.path or "", e.line or 0))
            raise ConfigErrors(order)
        return self.tables(tuple(rules))

    # -- tables --
    def tables(self, rules: tuple[CompiledRule, ...]) -> CompiledRules:
        fields = tuple(sorted({f for rule in rules for f in rule.fields}))
        scanned = sum(1 << f for f in fields)
        first: dict[int, list[int]] = defaultdict(list)
        second: dict[int, list[int]] = defaultdict(list)
        always: list[int] = []
        for rule in rules:
            if rule.triggers is None:
                always.append(rule.index)
            else:
                for index, trigger in zip((first, second), rule.triggers, strict=True):
                    for ref in trigger:
                        index[ref].append(rule.index)
        # A hit in a field that a rule leaves out does not count for it: no plain check then.
        planned = tuple(
            replace(rule, plain=None)
            if rule.plain is not None and rule.mask & scanned != scanned
            else rule
            for rule in rules
        )
        containers = self.containers()
        actors = self.compiled_actors()
        literal_actors: list[list[int]] = [[] for _ in self.literals]
        for actor in actors:
            if actor.index in self.used_actors:
                for ref in actor.literals:
                    literal_actors[ref].append(actor.index)
        literals = tuple(self.literals)
        return CompiledRules(
            rules=planned,
            actors=actors,
            literals=literals,
            literal_bounds=tuple((len(k.key) - 1 - k.lead, k.trail) for k in literals),
            searches=tuple(map(_search, literals)),
            regexes=tuple(self.regexes),
            literal_actors=tuple(tuple(a) for a in literal_actors),
            actor_literals=frozenset(i for i, actors in enumerate(literal_actors) if actors),
            containers=containers,
            first_triggers=tuple(tuple(first.get(ref, ())) for ref in range(len(literals))),
            second_triggers=tuple(tuple(second.get(ref, ())) for ref in range(len(literals))),
            always=tuple(always),
            folded=_automaton(literals, case_sensitive=False),
            cased=_automaton(literals, case_sensitive=True),
            fields=fields,
            by_id={rule.id: rule.index for rule in rules},
        )

    def plain_conditions(
        self, kw: list[tuple[int, ...]], ac: list[tuple[int, ...]], triggers: Triggers | None
    ) -> tuple[PlainCondition, ...]:
        """The conditions of a rule of keyword and actor lists (any, all, none) without regular
        expressions that its triggers do not imply."""
        implied = set(triggers or ())
        found: list[PlainCondition] = []
        any_of, all_of, none_of = kw
        all_of = tuple(ref for ref in all_of if frozenset((ref,)) not in implied)
        if all_of:
            found.append((LITERALS, ALL, all_of))
        if any_of and frozenset(any_of) not in implied:
            found.append((LITERALS, ANY, any_of))
        if none_of:
            found.append((LITERALS, NONE, none_of))
        actors_any, actors_all, actors_none = ac
        actors_all = tuple(a for a in actors_all if self.actor_triggers(a) not in implied)
        if actors_all:
            found.append((ACTORS, ALL, actors_all))
        if actors_any and self.any_actor_triggers(actors_any) not in implied:
            found.append((ACTORS, ANY, actors_any))
        if actors_none:
            found.append((ACTORS, NONE, actors_none))
        return tuple(found)

    def containers(self) -> frozenset[int]:
        """The literal names of actors that may hold a used actor's name inside them where they
        do not count for that actor ("Papua New Guinea" holds "Guinea"). A hit inside a hit of
        one of them does not count for such an actor. Names of unused actors among them are
        interned here, for the automaton to find them."""
        owners: dict[int, set[int]] = defaultdict(set)  # literal -> the used actors it counts for
        for actor in self.used_actors:
            for ref in self.actor_triggers(actor):
                if ref >= 0:
                    owners[ref].add(actor)
        if not owners:
            return frozenset()
        inner: dict[str, set[int]] = defaultdict(set)  # a name's key -> the actors it counts for
        by_id = list(self.literals)
        for ref, actors in owners.items():
            inner[_folded_key(by_id[ref])] |= actors
        texts = list(inner)
        automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for index, text in enumerate(texts):
            automaton.add_word(text, index)
        automaton.make_automaton()
        found: set[int] = set()
        for patterns in self.actor_patterns:
            for name in patterns:
                if not isinstance(name, Literal):
                    continue
                known = self.literals.get(name)
                counts_for = owners.get(known, set()) if known is not None else set()
                if any(inner[texts[i]] - counts_for for i in _held_keys(automaton, name)):
                    found.add(self.intern(name))
        return frozenset(found)

    def compiled_actors(self) -> tuple[CompiledActor, ...]:
        actors: list[CompiledActor] = []
        for spec in self.ruleset.actors:
            index = self.actor_index[spec.id]
            if index != len(actors):
                continue  # a duplicate id, reported already
            refs = sorted(self.actor_triggers(index)) if index in self.used_actors else ()
            name = spec.names[0].text if spec.names else spec.id
            literals = tuple(r for r in refs if r >= 0)
            actors.append(
                CompiledActor(index, spec.id, name, literals, tuple(r for r in refs if r < 0))
            )
        return tuple(actors)

    def triggers_of(
        self, kw: list[tuple[int, ...]], ac: list[tuple[int, ...]], query: q.QueryNode | None
    ) -> Triggers | None:
        """Two conditions a rule with these keyword and actor lists (any, all, none) and query
        cannot hold without, as literal ids (the same one twice if it has only one), the
        smallest first; None when it has none made of literals only."""
        sets = [frozenset(kw[0])] if kw[0] else []
        sets += [frozenset((ref,)) for ref in kw[1]]
        if ac[0]:
            sets.append(self.any_actor_triggers(ac[0]))
        sets += [self.actor_triggers(actor) for actor in ac[1]]
        sets += self.necessary(query) if query is not None else []
        literal_only = sorted(
            {refs for refs in sets if all(ref >= 0 for ref in refs)},
            key=lambda r: (len(r), sorted(r)),
        )
        if not literal_only:
            return None
        return literal_only[0], literal_only[min(1, len(literal_only) - 1)]

    def any_actor_triggers(self, actors: Iterable[int]) -> frozenset[int]:
        return frozenset().union(*map(self.actor_triggers, actors))

    def necessary(self, node: q.QueryNode) -> list[frozenset[int]]:
        """Sets of refs that each need a hit for `node` to hold."""
        if isinstance(node, q.Term):
            return [frozenset((node.ref,))]
        if isinstance(node, q.ActorRef):
            return [self.actor_triggers(node.actor)]
        if isinstance(node, q.Not):
            return []
        if isinstance(node, q.Near | q.And):
            return [refs for child in q.children(node) for refs in self.necessary(child)]
        parts = [self.necessary(child) for child in node.operands]
        if not all(parts):
            return []
        cheapest = [
            min(part, key=lambda refs: (any(r < 0 for r in refs), len(refs))) for part in parts
        ]
        return [frozenset().union(*cheapest)]


_LISTS = ("any", "all", "none")


def _atoms(
    node: q.QueryNode | None, kind: type[q.Term] | type[q.ActorRef], *, positive: bool = False
) -> list[int]:
    """Refs (Term) or actor indexes (ActorRef) in `node`; `positive`: only those outside any
    NOT."""
    found: list[int] = []
    for atom, negated in q.walk(node):
        if positive and negated:
            continue
        if isinstance(atom, q.Term) and kind is q.Term:
            found.append(atom.ref)
        elif isinstance(atom, q.ActorRef) and kind is q.ActorRef:
            found.append(atom.actor)
    return found


def _search(literal: Literal) -> LiteralSearch:
    first, *rest = literal.key.strip(SEPARATOR).split(SEPARATOR)
    head = SEPARATOR * literal.lead + first
    return head, tuple(rest), literal.trail, literal.prefix, literal.case_sensitive, literal.lead


def _folded_key(literal: Literal) -> str:
    """A literal's key, case folded: the same for its case-sensitive and insensitive forms."""
    words = fold(literal.key).strip(SEPARATOR)
    return f"{SEPARATOR * literal.lead}{words}{SEPARATOR * literal.trail}"


def _held_keys(automaton: Any, name: Literal) -> set[int]:
    """The values of the automaton's keys that a hit of `name` may hold: those found in its
    words between spaces (at either end the text may have a word boundary) and, for a prefix
    (whose hit goes on to the end of its word), those that start in it and run past its end."""
    words = fold(name.key).strip(SEPARATOR)
    text = f"{SEPARATOR}{words}{SEPARATOR * (not name.prefix)}"
    found = {value for _, value in automaton.iter(text)}
    if name.prefix:
        for start in range(len(text)):
            found.update(automaton.values(text[start:]))
    return found


def _automaton(literals: tuple[Literal, ...], *, case_sensitive: bool) -> Any:
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for index, literal in enumerate(literals):
        if literal.case_sensitive == case_sensitive:
            automaton.add_word(literal.key, index)
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton
