"""Why a rule matches an article or not (`test-rule --why-not`): each condition in words.

Every condition is evaluated, not only up to the first failure, on the same scan as `match`,
so that an explanation always agrees with the matcher.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from monitor.match.compiled import FIELD_NAMES, CompiledRule
from monitor.match.evaluate import near_fields, query_holds, report, rule_score
from monitor.match.query import ActorRef, And, Near, Not, Or, QueryNode, Term, children, render
from monitor.match.scan import ArticleScan
from monitor.models import RuleMatch

__all__ = ["Condition", "Explanation", "explain_rule"]


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition of a rule on one article. A query's sub-expressions are its `parts`, a
    tree: each held or failed *for the query*, so under a NOT a part holds when its expression
    does not (`NOT football` holds, and so does its "football not found")."""

    name: str  # feeds, keywords.any, actors.all, query, min_score; for a part, its expression
    held: bool
    detail: str
    parts: tuple[Condition, ...] = ()
    is_part: bool = False

    @property
    def line(self) -> str:
        return self.detail if self.is_part else f"{self.name}: {self.detail}"

    def tree(self, depth: int = 0) -> Iterator[tuple[int, Condition]]:
        """This condition and its parts, depth first, each with its depth (0 for this one)."""
        yield depth, self
        for part in self.parts:
            yield from part.tree(depth + 1)


@dataclass(frozen=True, slots=True)
class Explanation:
    rule_id: str
    matched: bool
    conditions: tuple[Condition, ...]
    match: RuleMatch | None  # what `Matcher.match` reports for the rule, when it matches

    @property
    def lines(self) -> tuple[str, ...]:
        """Every condition and part, a part indented two spaces deeper than its parent."""
        return tuple(
            "  " * depth + part.line
            for condition in self.conditions
            for depth, part in condition.tree()
        )

    @property
    def failed(self) -> tuple[Condition, ...]:
        return tuple(c for c in self.conditions if not c.held)


def explain_rule(
    rule: CompiledRule, scan: ArticleScan, feed_id: str | None, feed_tags: tuple[str, ...]
) -> Explanation:
    conditions = [*_feeds(rule, feed_id, feed_tags), *_keywords(rule, scan), *_actors(rule, scan)]
    conditions += _query(rule, scan)
    holds = all(c.held for c in conditions)
    result = report(rule, scan, rule_score(rule, scan)) if holds else None
    if result is not None and rule.min_score is not None:
        enough = result.score >= rule.min_score
        verb = "reaches" if enough else "is below"
        conditions.append(
            Condition("min_score", enough, f"score {result.score:g} {verb} {rule.min_score:g}")
        )
        result = result if enough else None
    return Explanation(rule.id, result is not None, tuple(conditions), result)


def _fields(mask: int) -> str:
    return ", ".join(name for i, name in enumerate(FIELD_NAMES) if mask & (1 << i))


def _feeds(rule: CompiledRule, feed_id: str | None, feed_tags: tuple[str, ...]) -> list[Condition]:
    if not rule.feeds:
        return []
    listed = f"[{', '.join(rule.feeds)}]"
    if feed_id is None:
        return [Condition("feeds", True, f"not checked without a feed: it watches only {listed}")]
    if rule.feed_allowed(feed_id, feed_tags):
        return [Condition("feeds", True, f"feed {feed_id} is in {listed}")]
    tags = f" (tags: {', '.join(feed_tags)})" if feed_tags else ""
    return [Condition("feeds", False, f"feed {feed_id}{tags} is not in {listed}")]


def _found(label: str, mask: int, inside: int, verb: str, extra: str = "") -> str:
    """`"x" found in title`, `"x" not found`, or `"x" not found in title (only in content)`."""
    if mask & inside:
        return f"{label} {verb} in {_fields(mask & inside)}{extra}"
    if mask:
        return f"{label} not {verb} in {_fields(inside)} (only in {_fields(mask)})"
    return f"{label} not {verb}"


def _list_condition(
    name: str, kind: str, items: list[tuple[str, int, str]], mask: int, verb: str
) -> Condition:
    """An any/all/none list; `items` are (label, fields-found mask, extra text) triples."""
    hits = [item for item in items if item[1] & mask]
    misses = [item for item in items if not item[1] & mask]
    held = {"any": bool(hits), "all": not misses, "none": not hits}[kind]
    shown = misses if kind == "all" and not held else hits
    if shown:
        parts = [_found(label, found, mask, verb, extra) for label, found, extra in shown]
    else:
        parts = [f"none of {', '.join(label for label, _, _ in items)} {verb}"]
        parts += [_found(label, found, mask, verb) for label, found, _ in items if found]
    return Condition(name, held, "; ".join(parts))


def _keywords(rule: CompiledRule, scan: ArticleScan) -> list[Condition]:
    lists = {"any": rule.kw_any, "all": rule.kw_all, "none": rule.kw_none}
    conditions = []
    for kind, refs in lists.items():
        if refs:
            items = [(f'"{rule.labels[ref]}"', scan.term_mask(ref), "") for ref in refs]
            conditions.append(_list_condition(f"keywords.{kind}", kind, items, rule.mask, "found"))
    return conditions


def _actor_item(rule: CompiledRule, scan: ArticleScan, actor: int) -> tuple[str, int, str]:
    mask = scan.actor_mask(actor)
    fields = tuple(f for f in rule.fields if mask & (1 << f))
    mentions = scan.mentions(actor, fields) if fields else ()
    extra = f" ({', '.join(mentions)})" if mentions else ""
    return scan.compiled.actors[actor].id, mask, extra


def _actors(rule: CompiledRule, scan: ArticleScan) -> list[Condition]:
    lists = {"any": rule.ac_any, "all": rule.ac_all, "none": rule.ac_none}
    conditions = []
    for kind, actors in lists.items():
        if actors:
            items = [_actor_item(rule, scan, actor) for actor in actors]
            conditions.append(
                _list_condition(f"actors.{kind}", kind, items, rule.mask, "mentioned")
            )
    return conditions


def _query(rule: CompiledRule, scan: ArticleScan) -> list[Condition]:
    if rule.query is None:
        return []
    top = _part(rule.query, _Context(rule, scan), wanted=True)
    return [Condition("query", top.held, top.detail, top.parts)]


@dataclass(frozen=True, slots=True)
class _Context:
    rule: CompiledRule
    scan: ArticleScan

    def holds(self, node: QueryNode) -> bool:
        return query_holds(node, self.scan, self.rule.mask)


def _part(node: QueryNode, context: _Context, *, wanted: bool) -> Condition:
    """A query node as a part: held when its truth is `wanted` (False under a NOT)."""
    rule, scan = context.rule, context.scan
    if isinstance(node, Term):
        mask = scan.term_mask(node.ref)
        detail = _found(render(node), mask, rule.mask, "found")
        return _marked(node, bool(mask & rule.mask) == wanted, detail)
    if isinstance(node, ActorRef):
        _, mask, extra = _actor_item(rule, scan, node.actor)
        detail = _found(f"@{node.id}", mask, rule.mask, "found", extra)
        return _marked(node, bool(mask & rule.mask) == wanted, detail)
    if isinstance(node, Not):  # "NOT football: football not found", the operand's parts below
        inner = _part(node.operand, context, wanted=not wanted)
        return _marked(node, inner.held, f"{render(node)}: {inner.detail}", inner.parts)
    holds = context.holds(node)
    if isinstance(node, Near):
        return _marked(node, holds == wanted, _near(node, context), _sides(node, context, wanted))
    return _marked(
        node, holds == wanted, f"{render(node)} {_holds(holds)}", _sides(node, context, wanted)
    )


def _sides(node: And | Or | Near, context: _Context, wanted: bool) -> tuple[Condition, ...]:
    """The parts shown under a group: an AND's or OR's operands, a NEAR's two sides."""
    return tuple(_part(child, context, wanted=wanted) for child in children(node))


def _marked(
    node: QueryNode, held: bool, detail: str, parts: tuple[Condition, ...] = ()
) -> Condition:
    return Condition(render(node), held, detail, parts, is_part=True)


def _holds(holds: bool) -> str:
    return "holds" if holds else "does not hold"


def _near(node: Near, context: _Context) -> str:
    text = render(node)
    fields = near_fields(node, context.scan, context.rule.mask)
    if fields:
        return f"{text} holds in {', '.join(FIELD_NAMES[f] for f in fields)}"
    if context.holds(node.left) and context.holds(node.right):
        words = "word" if node.distance == 1 else "words"
        return f"{text}: not within {node.distance} {words} of each other"
    return f"{text} does not hold"
