"""Whether a candidate rule holds on a scanned article, its score, and its match report."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable

from monitor.match.compiled import (
    ALL,
    ANY,
    FIELD_NAMES,
    TITLE,
    CompiledRule,
)
from monitor.match.query import ActorRef, And, Near, Not, Or, QueryNode, Term
from monitor.match.scan import ArticleScan, Span
from monitor.models import ActorHit, RuleMatch, TermHit

__all__ = [
    "near_fields",
    "plain_score",
    "query_holds",
    "report",
    "rule_holds",
    "rule_score",
]


def rule_holds(rule: CompiledRule, scan: ArticleScan) -> bool:
    """Whether every keyword, actor and query condition of a rule holds (feeds not checked)."""
    mask = rule.mask
    term = scan.term_mask if rule.has_regex else scan.literal_masks.get
    actor = scan.actor_mask if rule.has_regex else scan.actor_masks.get
    return (
        _lists_hold(term, rule.kw_any, rule.kw_all, rule.kw_none, mask)
        and _lists_hold(actor, rule.ac_any, rule.ac_all, rule.ac_none, mask)
        and (rule.query is None or query_holds(rule.query, scan, mask))
    )


def _lists_hold(
    found: Callable[[int, int], int],
    any_of: tuple[int, ...],
    all_of: tuple[int, ...],
    none_of: tuple[int, ...],
    mask: int,
) -> bool:
    """any/all/none lists, given `found(item, 0)` -> the bits of the fields the item is in."""
    for item in all_of:
        if not found(item, 0) & mask:
            return False
    if any_of:
        for item in any_of:
            if found(item, 0) & mask:
                break
        else:
            return False
    return not none_of or not any(found(item, 0) & mask for item in none_of)


def query_holds(node: QueryNode, scan: ArticleScan, mask: int) -> bool:
    if isinstance(node, Term):
        return bool(scan.term_mask(node.ref) & mask)
    if isinstance(node, ActorRef):
        return bool(scan.actor_mask(node.actor) & mask)
    if isinstance(node, Not):
        return not query_holds(node.operand, scan, mask)
    if isinstance(node, And):
        return all(query_holds(child, scan, mask) for child in node.operands)
    if isinstance(node, Or):
        return any(query_holds(child, scan, mask) for child in node.operands)
    return bool(near_fields(node, scan, mask))


def near_fields(node: Near, scan: ArticleScan, mask: int) -> list[int]:
    """The fields (within `mask`) where a NEAR expression holds."""
    if not (query_holds(node.left, scan, mask) and query_holds(node.right, scan, mask)):
        return []
    fields = [f for f in scan.fields if mask & (1 << f)]
    return [f for f in fields if near_spans(node, scan, f)]


def near_spans(node: Near, scan: ArticleScan, field: int) -> list[Span]:
    """Word spans covering each pair of the two sides within `distance` words of each other.

    Bounded work: each left span looks only at the right spans that start close to it.
    """
    right = sorted(set(positions(node.right, scan, field)))
    if not right:
        return []
    limit = node.distance + 1  # at most `distance` words between: positions differ by <= limit
    widest = max(b1 - b0 for b0, b1 in right)
    starts = [b0 for b0, _ in right]
    found: set[Span] = set()
    for a0, a1 in set(positions(node.left, scan, field)):
        low = bisect_left(starts, a0 - limit - widest)
        high = bisect_right(starts, a1 + limit)
        for b0, b1 in right[low:high]:
            if b1 >= a0 - limit:
                found.add((min(a0, b0), max(a1, b1)))
    return sorted(found)


def positions(node: QueryNode, scan: ArticleScan, field: int) -> list[Span]:
    if isinstance(node, Term):
        return scan.term_words(node.ref, field)
    if isinstance(node, ActorRef):
        return scan.actor_words(node.actor, field)
    if isinstance(node, Or):
        return [span for child in node.operands for span in positions(child, scan, field)]
    if isinstance(node, Near):
        return near_spans(node, scan, field)
    return []  # the parser allows only the kinds above under NEAR


def plain_score(rule: CompiledRule, scan: ArticleScan) -> float | None:
    """rule_score of a plain candidate rule (`rule.plain` is set), or None when it does not
    hold. Its fields are every scanned field, so any hit counts."""
    literals, actors = scan.literal_masks, scan.actor_masks
    for of_actors, kind, items in rule.plain or ():
        found = map((actors if of_actors else literals).__contains__, items)
        if kind == ALL:
            holds = all(found)
        elif kind == ANY:
            holds = any(found)
        else:
            holds = not any(found)
        if not holds:
            return None
    score = 0.0
    for ref in rule.term_refs:
        mask = literals.get(ref)
        if mask:
            score += 2.0 if mask & TITLE else 1.0
    for actor in rule.actors:
        mask = actors.get(actor)
        if mask:
            score += 2.0 if mask & TITLE else 1.0
    return score


# ---- the match report ----------------------------------------------------------------------
def rule_score(rule: CompiledRule, scan: ArticleScan) -> float:
    """Distinct positive terms and actors found in the rule's fields: 2 each when one is in the
    title, else 1."""
    term = scan.term_mask if rule.has_regex else scan.literal_masks.get
    actor = scan.actor_mask if rule.has_regex else scan.actor_masks.get
    mask, score = rule.mask, 0.0
    for ref in rule.term_refs:
        found = term(ref, 0) & mask
        if found:
            score += 2.0 if found & TITLE else 1.0
    for index in rule.actors:
        found = actor(index, 0) & mask
        if found:
            score += 2.0 if found & TITLE else 1.0
    return score


def report(rule: CompiledRule, scan: ArticleScan, score: float) -> RuleMatch:
    """The terms and actors of a matching rule found in the article, with snippets."""
    mask, masks = rule.mask, scan.literal_masks
    hits: list[TermHit] = []
    for text, ref in rule.terms:
        found = (masks.get(ref, 0) if ref >= 0 else scan.term_mask(ref)) & mask
        if found:
            for field, name in _FIELDS_IN[found]:
                hits.append(TermHit(text, name, scan.snippet(ref, field)))
    actors: list[ActorHit] = []
    for actor in rule.actors:
        if scan.actor_mask(actor) & mask:
            entry = scan.compiled.actors[actor]
            actors.append(ActorHit(entry.id, entry.name, scan.mentions(actor, rule.fields)))
    return RuleMatch(rule.id, tuple(hits), tuple(actors), score)


# By a mask of field bits: the (index, name) of each field in it, in field order.
_FIELDS_IN = tuple(
    tuple((i, name) for i, name in enumerate(FIELD_NAMES) if mask & (1 << i))
    for mask in range(1 << len(FIELD_NAMES))
)
