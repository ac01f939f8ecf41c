"""Why a rule matches an article or not (`test-rule --why-not`): each condition in words.

Every condition is evaluated, not only up to the first failure, on the same scan as `match`,
so that an explanation always agrees with the matcher.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from monitor.match.compiled import (
    FIELD_NAMES,
    CompiledRule,
    QActor,
    QNear,
    QNode,
    QNot,
    QTerm,
)
from monitor.match.evaluate import near_fields, query_holds, report, rule_score
from monitor.match.scan import ArticleScan
from monitor.models import RuleMatch

__all__ = ["Condition", "Explanation", "explain_rule"]


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition of a rule on one article. `decisive` is False for the parts of a query."""

    name: str  # feeds, keywords.any, actors.all, query, min_score, ...
    held: bool
    detail: str
    decisive: bool = True

    @property
    def line(self) -> str:
        return f"{self.name}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Explanation:
    rule_id: str
    matched: bool
    conditions: tuple[Condition, ...]
    match: RuleMatch | None  # what `Matcher.match` reports for the rule, when it matches

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(condition.line for condition in self.conditions)

    @property
    def failed(self) -> tuple[Condition, ...]:
        return tuple(c for c in self.conditions if c.decisive and not c.held)


def explain_rule(
    rule: CompiledRule, scan: ArticleScan, feed_id: str, feed_tags: tuple[str, ...]
) -> Explanation:
    conditions = [*_feeds(rule, feed_id, feed_tags), *_keywords(rule, scan), *_actors(rule, scan)]
    conditions += _query(rule, scan)
    holds = all(c.held for c in conditions if c.decisive)
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


def _feeds(rule: CompiledRule, feed_id: str, feed_tags: tuple[str, ...]) -> list[Condition]:
    if not rule.feeds:
        return []
    listed = f"[{', '.join(rule.feeds)}]"
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
    held = query_holds(rule.query, scan, rule.mask)
    verdict = "holds" if held else "does not hold"
    conditions = [Condition("query", held, f"{rule.query_text} {verdict}")]
    seen: set[str] = set()
    for node in _parts(rule.query):
        condition = _part(node, rule, scan)
        if condition.detail not in seen:
            seen.add(condition.detail)
            conditions.append(condition)
    return conditions


def _parts(node: QNode) -> Iterator[QNode]:
    """The terms, actors and NEAR expressions of a query, depth first."""
    if isinstance(node, QTerm | QActor):
        yield node
        return
    if isinstance(node, QNot):
        yield from _parts(node.operand)
        return
    if isinstance(node, QNear):
        yield from _parts(node.left)
        yield from _parts(node.right)
        yield node
        return
    for child in node.operands:
        yield from _parts(child)


def _part(node: QNode, rule: CompiledRule, scan: ArticleScan) -> Condition:
    if isinstance(node, QTerm):
        mask = scan.term_mask(node.ref)
        return Condition(
            "query", bool(mask & rule.mask), _found(node.text, mask, rule.mask, "found"), False
        )
    if isinstance(node, QActor):
        _, mask, extra = _actor_item(rule, scan, node.actor)
        detail = _found(f"@{node.id}", mask, rule.mask, "mentioned", extra)
        return Condition("query", bool(mask & rule.mask), detail, False)
    assert isinstance(node, QNear)
    fields = near_fields(node, scan, rule.mask)
    if fields:
        detail = f"{node.text} holds in {', '.join(FIELD_NAMES[f] for f in fields)}"
    else:
        detail = f"{node.text}: not within {node.distance} words of each other"
    return Condition("query", bool(fields), detail, False)
