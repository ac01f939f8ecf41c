"""Rule files (`rules/*.yaml`): actors and watch rules, validated into one `RuleSet`.

A file holds `actors:` and/or `rules:`. Ids are unique across all the files, and a rule or a
`part_of` may name an actor from any of them. An `actors:` entry with `extends: ID` adds names and
`part_of` to the actor ID defined in another entry or file (a shipped dictionary's, say).
Every problem is reported with file, line and field (`rules/a.yaml:12: rules[2].keywords.any[1]:
...`); queries are kept as written and parsed by the match stage. A rule without `notify` alerts
every notifier of the configuration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol, TypeVar

from monitor.config.defaults import SHIPPED_PREFIX, default_rules_dir
from monitor.config.files import Located, load_yaml
from monitor.config.validate import (
    Checker,
    given,
    id_nodes,
    one_of,
    suggestion,
)
from monitor.errors import ConfigError, ConfigErrors
from monitor.models import (
    ACTOR_KINDS,
    DEFAULT_RULE_FIELDS,
    RULE_FIELDS,
    ActorLists,
    ActorSpec,
    RuleSet,
    RuleSpec,
    SourceRef,
    TermLists,
    TermSpec,
)

TOP_KEYS = ("actors", "rules")
ACTOR_KEYS = ("id", "kind", "names", "part_of", "description")
EXTENDS = "extends"
EXTENDS_KEYS = (EXTENDS, "names", "part_of")
SHIPPED_ACTORS = "actors"  # the dictionaries' folder in the shipped rules
KEPT_BY_EXTENDS = ("id", "kind")  # an extension adds to an actor, it never renames or retypes it
RULE_KEYS = (
    *("id", "description", "feeds", "fields", "keywords", "actors", "query", "notify"),
    *("min_score", "realert"),
)
LIST_KEYS = ("any", "all", "none")
TERM_KEYS = ("term", "case")
CASES = ("sensitive", "insensitive")
TAG_PREFIX = "tag:"

__all__ = ["RuleChecks", "display_path", "load_rules"]


class RuleChecks(Protocol):
    """The match stage's judgement of rules as written (`monitor.match.checks`), given by whoever
    wires config and match together, so that its problems are reported with config's own."""

    def term_problem(self, text: str) -> str | None:
        """Why `text` cannot be a term, or None."""

    def condition_problem(
        self, keywords: TermLists, actors: ActorLists, query: str | None
    ) -> str | None:
        """Why a rule with these lists and query can match nothing at all, or None."""


_Item = TypeVar("_Item", tuple[TermSpec, ...], tuple[str, ...])
_T = TypeVar("_T")


def display_path(path: Path) -> str:
    """How a rule file is named in messages: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):  # outside the folder, or the folder is gone
        return str(path)


def load_rules(
    files: Sequence[Path],
    errors: list[ConfigError],
    *,
    feeds: Mapping[str, Collection[str]],
    notifiers: Collection[str],
    environ: Mapping[str, str] | None = None,
    checks: RuleChecks | None = None,
) -> RuleSet:
    """Read and validate the rule `files` in order. `feeds` maps each feed id to its tags and
    `notifiers` are the notifier ids, both from monitor.yaml, for the references rules make.
    `checks` judges each term and condition, so that their problems come with the others;
    without it they are left to the compiler, which reports them at the same file:line and field.

    Every problem is appended to `errors`; the RuleSet is only meaningful when none was.
    """
    actor_items: list[Located] = []
    rule_items: list[Located] = []
    check = _RuleChecker(errors, checks=checks)
    for path in files:
        top = _read(path, check, environ)
        actor_items.extend(check.items(top.get("actors")))
        rule_items.extend(check.items(top.get("rules")))
    definitions = [item for item in actor_items if not _is_extension(item)]
    check.actor_ids = frozenset(str(node.value) for node in id_nodes(definitions))
    check.feed_tags = frozenset(tag for tags in feeds.values() for tag in tags)
    check.feed_ids = frozenset(feeds)
    check.notifier_ids = frozenset(notifiers)
    check.shipped_actors_loaded = _any_inside(files, default_rules_dir() / SHIPPED_ACTORS)
    actors = check.actors(actor_items)
    rules = check.rules(rule_items)
    return RuleSet(actors=actors, rules=rules)


def _read(path: Path, check: Checker, environ: Mapping[str, str] | None) -> Mapping[str, Located]:
    """The top-level mapping of one rule file; empty when the file is empty or unusable."""
    try:
        root = load_yaml(path, environ=environ, errors=check.errors, source=display_path(path))
    except ConfigErrors as exc:
        check.errors.extend(exc.errors)
        return {}
    if root.value is None and not root.unresolved:
        return {}
    return check.mapping(root, TOP_KEYS, what="a rule file") or {}


@dataclass(slots=True)
class _RuleChecker(Checker):
    """Reads actors and rules; the ids they may refer to are set before `actors` and `rules`."""

    actor_ids: frozenset[str] = frozenset()
    feed_ids: frozenset[str] = frozenset()
    feed_tags: frozenset[str] = frozenset()
    notifier_ids: frozenset[str] = frozenset()
    shipped_actors_loaded: bool = False
    checks: RuleChecks | None = None

    def actors(self, items: Sequence[Located]) -> tuple[ActorSpec, ...]:
        definitions = [item for item in items if not _is_extension(item)]
        first = self.unique_across_files(definitions, "actor")
        actors: dict[str, ActorSpec] = {}
        part_of_nodes: dict[str, tuple[Located, ...]] = {}
        for item in definitions:
            actor = self.actor(item)
            if actor is not None and first.get(actor.id) is item:
                actors[actor.id] = actor
                part_of_nodes[actor.id] = _sequence(_key(item, "part_of"))
        for item in items:
            if _is_extension(item) and (extended := self.extend(item, actors)) is not None:
                actors[extended.id] = extended
                part_of_nodes[extended.id] += _sequence(_key(item, "part_of"))
        self.report_cycles(list(actors.values()), part_of_nodes)
        return tuple(actors.values())

    def extend(self, node: Located, actors: Mapping[str, ActorSpec]) -> ActorSpec | None:
        """The actor an `extends:` entry names, with the entry's names and part_of added; None
        when the entry is bad (reported) or its actor is (reported at its definition)."""
        fields = self.extension_fields(node)
        if fields is None:
            return None
        target = self.extended_id(fields.get(EXTENDS))
        names = self.terms(fields.get("names"), "name") if "names" in fields else ()
        part_of = self.actor_refs(fields.get("part_of"), allow_empty=True)
        if not names and not part_of and names is not None and part_of is not None:
            self.report(node, f'an "{EXTENDS}" entry must add something: give names or part_of')
            return None
        if target is None or target not in actors or names is None or part_of is None:
            return None
        actor = actors[target]
        known = {(name.text, name.case_sensitive) for name in actor.names}
        added = [name for name in names if (name.text, name.case_sensitive) not in known]
        return dataclasses.replace(
            actor,
            names=(*actor.names, *added),
            part_of=tuple(dict.fromkeys((*actor.part_of, *part_of))),
        )

    def extension_fields(self, node: Located) -> Mapping[str, Located] | None:
        """An `extends:` entry's keys; `id` and `kind` are reported as kept by the original."""
        given_keys = node.mapping or {}
        allowed = one_of([f'"{key}"' for key in EXTENDS_KEYS], "and")
        for key in KEPT_BY_EXTENDS:
            if key in given_keys:
                message = (
                    f'an "{EXTENDS}" entry keeps the {key} of the actor it extends: '
                    f"it may only have {allowed}"
                )
                self.report(given_keys[key], message)
        rest = {k: v for k, v in given_keys.items() if k not in KEPT_BY_EXTENDS}
        fields = self.mapping(dataclasses.replace(node, value=rest), EXTENDS_KEYS)
        return None if fields is None or len(rest) != len(given_keys) else fields

    def extended_id(self, node: Located | None) -> str | None:
        """The id an `extends:` names: an actor defined by an `id:` entry in any file."""
        value = self.string(node)
        if value is None or node is None or value in self.actor_ids:
            return value
        hint = suggestion(value, self.actor_ids) or (
            f": {EXTENDS} adds to an actor defined elsewhere (by an id: entry)"
            if self.shipped_actors_loaded
            else f": {EXTENDS} adds to an actor defined elsewhere; for the shipped ones, add "
            f'"{SHIPPED_PREFIX}{SHIPPED_ACTORS}" to rules: in monitor.yaml'
        )
        self.report(node, f'unknown actor "{value}"{hint}')
        return None

    def unique_across_files(self, items: Sequence[Located], what: str) -> dict[str, Located]:
        """The first entry claiming each id; later ones are reported, naming the first place."""
        first: dict[str, Located] = {}
        for item in items:
            node = _key(item, "id")
            if node is None or not isinstance(node.value, str):
                continue
            if node.value in first:
                where = f"{first[node.value].source}:{first[node.value].line}"
                message = f'duplicate {what} id "{node.value}" (first defined at {where})'
                if what == "actor":
                    message += (
                        f'; to add names to it, write "{EXTENDS}: {node.value}" instead of '
                        f'"id: {node.value}" and give only names and part_of'
                    )
                self.report(node, message)
            else:
                first[node.value] = item
        return first

    def actor(self, node: Located) -> ActorSpec | None:
        fields = self.mapping(node, ACTOR_KEYS, required=("id", "kind", "names"))
        if fields is None:
            return None
        actor_id = self.identifier(fields.get("id"))
        kind = self.choice(fields.get("kind"), ACTOR_KINDS, "kind of actor")
        names = self.terms(fields.get("names"), "name")
        part_of = self.actor_refs(fields.get("part_of"), allow_empty=True)
        description = self.text(fields.get("description"))
        if actor_id is None or kind is None or names is None or part_of is None:
            return None
        if description is None:
            return None
        where = _source_ref(node)
        return ActorSpec(actor_id, kind, names, part_of, where, description)

    def report_cycles(
        self, actors: Sequence[ActorSpec], part_of_nodes: Mapping[str, tuple[Located, ...]]
    ) -> None:
        """One message per `part_of` cycle (`a -> b -> a`), at the entry that starts it."""
        order = {actor.id: index for index, actor in enumerate(actors)}
        graph = {actor.id: [p for p in actor.part_of if p in order] for actor in actors}
        for cycle in _cycles(graph, order):
            start, following = cycle[0], cycle[1]
            node = next(n for n in part_of_nodes[start] if n.value == following)
            self.report(node, f"part_of makes a cycle: {' -> '.join(cycle)}")

    def rules(self, items: Sequence[Located]) -> tuple[RuleSpec, ...]:
        first = self.unique_across_files(items, "rule")
        rules: list[RuleSpec] = []
        for item in items:
            rule = self.rule(item)
            if rule is not None and first.get(rule.id) is item:
                rules.append(rule)
        return tuple(rules)

    def rule(self, node: Located) -> RuleSpec | None:
        before = len(self.errors)  # a rule with any error is not also called empty
        fields = self.mapping(node, RULE_KEYS, required=("id",))
        if fields is None:
            return None
        rule_id = self.identifier(fields.get("id"))
        description = self.text(fields.get("description"))
        feeds = self.feed_refs(fields.get("feeds"))
        rule_fields = self.rule_fields(fields.get("fields"))
        keywords = self.term_lists(fields.get("keywords"))
        actors = self.actor_lists(fields.get("actors"))
        notify = self.notifier_refs(fields.get("notify"))
        min_score = self.score(fields.get("min_score"))
        query, query_where = self.query(fields.get("query"))
        realert = self.realert(fields.get("realert"))
        if len(self.errors) == before and keywords is not None and actors is not None:
            self.require_condition(node, keywords, actors, query)
        if len(self.errors) != before or rule_id is None or description is None:
            return None
        if feeds is None or rule_fields is None or keywords is None or actors is None:
            return None
        if notify is None or (given(fields.get("query")) and query is None):
            return None
        where = _source_ref(node)
        return RuleSpec(rule_id, description, feeds, rule_fields, keywords, actors, query,
                        notify, min_score, where, query_where, realert)  # fmt: skip

    def realert(self, node: Located | None) -> timedelta | None:
        if not given(node):
            return None
        assert node is not None
        return self.duration(node, timedelta(0)) or None

    def require_condition(
        self, node: Located, keywords: TermLists, actors: ActorLists, query: str | None
    ) -> None:
        """A rule needs something to look for, not only things to exclude (which the compiler
        allows: a rule set built in code may want it)."""
        problem = self.checks.condition_problem(keywords, actors, query) if self.checks else None
        if problem is not None:
            self.report(node, problem)
        elif (
            query is None
            and (keywords or actors)
            and not (_positive(keywords) or _positive(actors))
        ):
            message = (
                'the rule has only "none" lists: it would match nearly every article; '
                'add "any" or "all" terms, actors or a query'
            )
            self.report(node, message)

    def query(self, node: Located | None) -> tuple[str | None, SourceRef | None]:
        if not given(node):
            return None, None
        assert node is not None
        value = self.string(node)
        return value, (_source_ref(node) if value is not None else None)

    def text(self, node: Located | None) -> str | None:
        """An optional free-text value: "" when absent."""
        return self.string(node) if given(node) else ""

    def score(self, node: Located | None) -> float | None:
        if not given(node) or node is None or node.unresolved:
            return None
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            self.report(node, f"expected a number, 0 or more, not {node.shown()}")
            return None
        return float(value)

    def nonempty_items(self, node: Located | None, hint: str) -> tuple[Located, ...] | None:
        """The list at `node`, reporting an empty one; None when absent or not a list."""
        if node is None or node.unresolved:
            return None
        if node.value is None or node.sequence == ():
            self.report(node, f"must not be empty{hint}")
            return None
        items = self.items(node)
        return items or None

    def terms(self, node: Located | None, what: str) -> tuple[TermSpec, ...] | None:
        items = self.nonempty_items(node, f": give at least one {what}")
        if items is None:
            return None
        return _unique([self.term(item) for item in items])

    def term(self, node: Located) -> TermSpec | None:
        """A term: a string, or `{term: X, case: sensitive|insensitive}`."""
        if node.mapping is None:
            return self.term_text(node, node, sensitive=False)
        fields = self.mapping(node, TERM_KEYS, required=("term",))
        if fields is None:
            return None
        case_node = fields.get("case")
        case = self.choice(case_node, CASES, "case setting") if given(case_node) else CASES[1]
        text_node = fields.get("term")
        term = self.term_text(node, text_node, sensitive=case == CASES[0])
        return term if case is not None else None

    def term_text(
        self, node: Located, text_node: Located | None, *, sensitive: bool
    ) -> TermSpec | None:
        text = self.string(text_node)
        if text is None or text_node is None:
            return None
        if self.checks is not None and (problem := self.checks.term_problem(text)):
            self.report(text_node, f"{text_node.shown()} {problem}")
            return None
        return TermSpec(text, sensitive, _source_ref(text_node))

    def term_lists(self, node: Located | None) -> TermLists | None:
        """The keyword lists; empty when absent, None when bad (reported)."""
        found = self.lists(node, "keywords", lambda item: self.terms(item, "term"))
        return None if found is None else TermLists(**found)

    def actor_lists(self, node: Located | None) -> ActorLists | None:
        """The actor lists; empty when absent, None when bad (reported)."""
        found = self.lists(node, "actors", self.actor_refs)
        return None if found is None else ActorLists(**found)

    def lists(
        self, node: Located | None, key: str, read: Callable[[Located], _Item | None]
    ) -> dict[str, _Item] | None:
        """The `{any, all, none}` lists of keywords or actors, each read with `read`."""
        if not given(node) or node is None:
            return {}
        if node.sequence is not None:
            message = f"expected a mapping with keys any, all and none, not a list (write {key}:"
            self.report(node, f"{message} {{any: [...]}})")
            return None
        lists = self.mapping(node, LIST_KEYS)
        if lists is not None and not lists:
            self.report(node, f"needs at least one of {one_of(LIST_KEYS)}")
        if not lists:
            return None
        found = {name: read(item) for name, item in lists.items() if name in LIST_KEYS}
        if any(value is None for value in found.values()):
            return None
        return {name: value for name, value in found.items() if value is not None}

    def actor_refs(
        self, node: Located | None, *, allow_empty: bool = False
    ) -> tuple[str, ...] | None:
        if allow_empty:
            items: tuple[Located, ...] | None = self.items(node)
        else:
            items = self.nonempty_items(node, ": give at least one actor id")
        return self.references(items, self.actor_ids, "actor", "no actors are defined")

    def notifier_refs(self, node: Located | None) -> tuple[str, ...] | None:
        if not given(node):
            return ()
        hint = ": leave notify out to alert every notifier"
        items = self.nonempty_items(node, hint)
        return self.references(items, self.notifier_ids, "notifier", "no notifiers are defined")

    def references(
        self, items: Sequence[Located] | None, known: Collection[str], what: str, none: str
    ) -> tuple[str, ...] | None:
        """The ids in `items`, each one of `known`; None if any is not (reported)."""
        if items is None:
            return None
        found: list[str | None] = []
        for item in items:
            value = self.string(item)
            if value is not None and value not in known:
                hint = suggestion(value, known) or (f": {none}" if not known else "")
                self.report(item, f'unknown {what} "{value}"{hint}')
                value = None
            found.append(value)
        return _unique(found)

    def feed_refs(self, node: Located | None) -> tuple[str, ...] | None:
        """Feed ids and `tag:NAME`; absent means every feed."""
        if not given(node):
            return ()
        items = self.nonempty_items(node, ": leave feeds out to watch every feed")
        if items is None:
            return None
        return _unique([self.feed_ref(item) for item in items])

    def feed_ref(self, node: Located) -> str | None:
        value = self.string(node)
        if value is None:
            return None
        if value.startswith(TAG_PREFIX):
            tag = value[len(TAG_PREFIX) :].strip()
            if tag not in self.feed_tags:
                tags = sorted(self.feed_tags)
                hint = suggestion(tag, tags) or (
                    f": the feeds' tags are {one_of(tags)}" if tags else ": no feed has tags"
                )
                self.report(node, f'no feed has the tag "{tag}"{hint}')
                return None
            return TAG_PREFIX + tag
        if value not in self.feed_ids:
            hint = suggestion(value, self.feed_ids) or ' (write "tag:NAME" for a tag)'
            self.report(node, f'unknown feed "{value}"{hint}')
            return None
        return value

    def rule_fields(self, node: Located | None) -> tuple[str, ...] | None:
        if not given(node):
            return DEFAULT_RULE_FIELDS
        hint = f": leave fields out for {one_of(DEFAULT_RULE_FIELDS, 'and')}"
        items = self.nonempty_items(node, hint)
        if items is None:
            return None
        what = "field a rule can look at"
        return _unique([self.choice(item, RULE_FIELDS, what) for item in items])


def _source_ref(node: Located) -> SourceRef:
    """Where `node` is, for the match stage to report a problem with it where it was read."""
    return SourceRef(node.source, node.line, node.field or None)


def _any_inside(files: Iterable[Path], folder: Path) -> bool:
    inside = folder.resolve()
    return any(path.resolve().is_relative_to(inside) for path in files)


def _is_extension(item: Located) -> bool:
    return item.mapping is not None and EXTENDS in item.mapping


def _key(node: Located, key: str) -> Located | None:
    return node.mapping.get(key) if node.mapping is not None else None


def _sequence(node: Located | None) -> tuple[Located, ...]:
    return node.sequence or () if node is not None else ()


def _unique(values: Sequence[_T | None]) -> tuple[_T, ...] | None:
    """`values` without repeats, or None when one of them is None (reported)."""
    if any(value is None for value in values):
        return None
    return tuple(dict.fromkeys(value for value in values if value is not None))


def _positive(lists: TermLists | ActorLists | None) -> bool:
    return lists is not None and bool(lists.any or lists.all)


def _cycles(graph: Mapping[str, list[str]], order: Mapping[str, int]) -> Iterable[list[str]]:
    """Each cycle a depth-first walk meets, as `[a, b, a]` starting at its earliest actor.
    Iterative, so that a long `part_of` chain cannot exhaust the stack."""
    done: set[str] = set()
    for root in graph:
        if root in done:
            continue
        path, on_path = [root], {root}
        pending = [iter(graph[root])]
        while pending:
            target = next(pending[-1], None)
            if target is None:
                pending.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif target in on_path:
                loop = path[path.index(target) :]
                start = min(range(len(loop)), key=lambda i: order[loop[i]])
                yield [*loop[start:], *loop[:start], loop[start]]
            elif target not in done:
                path.append(target)
                on_path.add(target)
                pending.append(iter(graph[target]))
