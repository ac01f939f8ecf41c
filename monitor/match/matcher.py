"""The compiled matcher: one scan of an article's fields, then only the candidate rules evaluated.

An `ArticleScan` normalises each field once, runs the Aho-Corasick automata over it and keeps
which literals hit in which fields (bit masks). Regular expressions, word positions (NEAR),
offsets and snippets are computed on demand, for the rules that need them. The source spans of
a term (snippets, mentions) are found by searching the text folded character for character,
which lines up with the source, where there is such a text; otherwise through the offsets.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING

from monitor.match.compile import (
    ALL,
    ANY,
    FIELD_NAMES,
    TITLE,
    CompiledRule,
    CompiledRules,
    LiteralSearch,
    QActor,
    QAnd,
    QNear,
    QNode,
    QNot,
    QOr,
    QTerm,
)
from monitor.match.terms import RuleError
from monitor.match.text import SEPARATOR, NormalizedText, normalize, snippet
from monitor.models import ActorHit, Article, RuleMatch, TermHit

if TYPE_CHECKING:
    from monitor.match.explain import Explanation

__all__ = ["ArticleScan", "ArticleText", "Matcher", "rule_holds"]

_second = itemgetter(1)
ITEM_SEPARATOR = "; "  # between authors, and between tags, in the text of those fields
Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ArticleText:
    """The text of an article as rules see it: plain text (HTML, if any, is stripped)."""

    title: str = ""
    summary: str = ""
    content: str = ""
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @classmethod
    def from_article(cls, article: Article) -> ArticleText:
        return cls(
            title=article.title,
            summary=article.summary_text,
            content=article.content_text,
            authors=article.authors,
            tags=article.tags,
        )

    @classmethod
    def from_text(cls, text: str) -> ArticleText:
        """A bare text: its first non-empty line is the title, the rest the content."""
        title, _, content = text.strip().partition("\n")
        return cls(title=title.strip(), content=content.strip())

    def field_text(self, field: int) -> str:
        """The text of a field, by its index in FIELD_NAMES."""
        name = FIELD_NAMES[field]
        if name == "author":
            return ITEM_SEPARATOR.join(self.authors)
        if name == "tags":
            return ITEM_SEPARATOR.join(self.tags)
        text: str = getattr(self, name)
        return text


class FieldScan:
    """One field: its normalised forms, the automaton hits, and word positions on demand."""

    __slots__ = ("_spaces", "_spans", "cased", "folded", "hits")

    def __init__(self, source: str, compiled: CompiledRules) -> None:
        self.folded = normalize(source)
        self.cased: NormalizedText | None = None
        self.hits: list[tuple[int, int]] = []  # (index of the key's last char, literal id)
        if compiled.folded is not None:
            self.hits = list(compiled.folded.iter(self.folded.text))
        if compiled.cased is not None:
            self.cased = NormalizedText(self.folded.source, keep_case=True)
            self.hits += compiled.cased.iter(self.cased.text)
        self._spans: dict[int, list[int]] | None = None  # literal id -> ends of its hits
        self._spaces: dict[bool, list[int]] = {}

    @property
    def source(self) -> str:
        return self.folded.source

    def form(self, case_sensitive: bool) -> NormalizedText:
        return self.cased if case_sensitive and self.cased is not None else self.folded

    def literal_spans(
        self,
        literal: int,
        compiled: CompiledRules,
        *,
        first: bool = False,
        hidden: set[tuple[int, int]] | None = None,
    ) -> list[Span]:
        """Where a literal's word or phrase is, in its form's normalised text, in text order
        (with `first`, only the first; without the hits in `hidden`)."""
        back, cut = compiled.literal_bounds[literal]
        if first and not hidden:  # the first occurrence is a substring search away
            key = compiled.literals[literal]
            at = self.form(key.case_sensitive).text.find(key.key)
            end = at + len(key.key) - 1
            return [] if at < 0 else [(end - back, end + 1 - cut)]
        if self._spans is None:
            self._spans = {}
            for end, hit in self.hits:
                self._spans.setdefault(hit, []).append(end)
        ends = self._spans.get(literal, [])
        if hidden:
            ends = [end for end in ends if (literal, end) not in hidden]
        if first:
            ends = ends[:1]
        return [(end - back, end + 1 - cut) for end in ends]

    def aligned_spans(self, search: LiteralSearch, *, first: bool = False) -> list[Span] | None:
        """The source spans of a literal found in the aligned form of the text (the same
        occurrences, in order, as in the normalised text), or None where there is no such form.
        With `first`, only the first."""
        head, rest, trail, prefix, cased, lead = search
        aligned = self.form(cased).aligned
        if aligned is None:
            return None
        size = len(aligned)
        spans = []
        at = aligned.find(head)
        while at >= 0:
            end = at + len(head)
            for word in rest:
                if aligned[end] != SEPARATOR:
                    break
                end += 1
                while end < size and aligned[end] == SEPARATOR:
                    end += 1
                if not aligned.startswith(word, end):
                    break
                end += len(word)
            else:
                if prefix:
                    end = aligned.find(SEPARATOR, end)
                if not trail or aligned[end] == SEPARATOR:
                    spans.append((at + lead - 1, end - 1))  # aligned index i is source i - 1
                    if first:
                        break
            at = aligned.find(head, at + 1)
        return spans

    def hit_span(self, literal: int, end: int, compiled: CompiledRules) -> Span:
        """The source span of the hit of a literal ending at `end` (a prefix's to the word end)."""
        back, cut = compiled.literal_bounds[literal]
        key = compiled.literals[literal]
        form = self.form(key.case_sensitive)
        stop = end + 1 - cut
        if key.prefix:
            stop = max(stop, form.text.find(SEPARATOR, stop))
        return form.source_span(end - back, stop)

    def words(self, case_sensitive: bool, span: Span) -> Span:
        """The indexes of the first and last words of a normalised span."""
        spaces = self._spaces.get(case_sensitive)
        if spaces is None:
            text = self.form(case_sensitive).text
            spaces = self._spaces[case_sensitive] = [m.start() for m in re.finditer(" ", text)]
        return bisect_right(spaces, span[0]) - 1, bisect_left(spaces, span[1] - 1) - 1

    def source_words(self, span: Span) -> Span:
        """The word indexes of a span of the source (a regular expression's match)."""
        offsets = self.folded.offsets
        first = bisect_left(offsets, span[0])
        last = bisect_left(offsets, span[1]) - 1
        return self.words(False, (first, max(first, last) + 1))


class ArticleScan:
    """Everything known about one article: which literals hit where, the rest computed lazily."""

    def __init__(
        self, compiled: CompiledRules, article: ArticleText, fields: Sequence[int] | None = None
    ) -> None:
        """Scan the fields any rule searches, or `fields` (indexes in FIELD_NAMES)."""
        self.compiled = compiled
        self.fields: dict[int, FieldScan] = {}
        # (field, actor) -> the hits, as (literal, end), inside a longer name of another actor
        self.hidden: dict[tuple[int, int], set[tuple[int, int]]] = {}
        masks: dict[int, int] = {}
        for index in compiled.fields if fields is None else fields:
            source = article.field_text(index)
            if not source:
                continue
            scan = self.fields[index] = FieldScan(source, compiled)
            if not scan.hits:
                continue
            found = dict.fromkeys(map(_second, scan.hits), 1 << index)
            if compiled.containers and not compiled.containers.isdisjoint(found):
                self._hide_inner_hits(index, scan)
            if masks:
                for literal in masks.keys() & found.keys():
                    found[literal] |= masks[literal]
                masks.update(found)
            else:
                masks = found
        self.literal_masks = masks
        actor_masks: dict[int, int] = {}
        literal_actors = compiled.literal_actors
        for literal in compiled.actor_literals.intersection(masks):
            mask = masks[literal]
            for actor in literal_actors[literal]:
                actor_masks[actor] = actor_masks.get(actor, 0) | mask
        if self.hidden:
            self._unmask_hidden(actor_masks)
        self.actor_masks = actor_masks
        self._regex_spans: dict[int, dict[int, list[Span]]] = {}
        self._snippets: dict[tuple[int, int], str] = {}
        self._mentions: dict[tuple[int, tuple[int, ...]], tuple[str, ...]] = {}

    def _hide_inner_hits(self, field: int, scan: FieldScan) -> None:
        """Record the hits of actor names inside a longer hit of a name that does not count for
        the actor ("Guinea" in "Papua New Guinea")."""
        compiled = self.compiled
        literal_actors = compiled.literal_actors
        outer = [
            (scan.hit_span(literal, end, compiled), literal)
            for end, literal in scan.hits
            if literal in compiled.containers
        ]
        for end, literal in scan.hits:
            if not literal_actors[literal]:
                continue
            start, stop = span = scan.hit_span(literal, end, compiled)
            for (outer_start, outer_stop), container in outer:
                if (
                    outer_start <= start
                    and stop <= outer_stop
                    and (outer_start, outer_stop) != span
                ):
                    for actor in literal_actors[literal]:
                        if actor not in literal_actors[container]:
                            self.hidden.setdefault((field, actor), set()).add((literal, end))

    def _unmask_hidden(self, actor_masks: dict[int, int]) -> None:
        """Clear an actor's bit for a field where each hit of its names is hidden."""
        literal_actors = self.compiled.literal_actors
        for (field, actor), hidden in self.hidden.items():
            hits = self.fields[field].hits
            if all((lit, end) in hidden for end, lit in hits if actor in literal_actors[lit]):
                mask = actor_masks.get(actor, 0) & ~(1 << field)
                if mask:
                    actor_masks[actor] = mask
                else:
                    actor_masks.pop(actor, None)

    def candidates(self) -> list[int]:
        """Indexes of the rules worth evaluating, in rule order."""
        compiled = self.compiled
        literals = self.literal_masks
        found = set(chain.from_iterable(map(compiled.first_triggers.__getitem__, literals)))
        if found:
            second = chain.from_iterable(map(compiled.second_triggers.__getitem__, literals))
            found.intersection_update(second)
        found.update(compiled.always)
        return sorted(found)

    def regex_spans(self, regex: int) -> dict[int, list[Span]]:
        """Field index -> source spans of a regular expression's matches (run once, on demand)."""
        spans = self._regex_spans.get(regex)
        if spans is None:
            pattern = self.compiled.regexes[regex]
            found = {f: pattern.finditer(scan.source) for f, scan in self.fields.items()}
            spans = self._regex_spans[regex] = {f: s for f, s in found.items() if s}
        return spans

    def term_mask(self, ref: int, _: int = 0) -> int:
        """The bits of the fields a term was found in (the second argument mirrors dict.get)."""
        if ref >= 0:
            return self.literal_masks.get(ref, 0)
        return sum(1 << f for f in self.regex_spans(~ref))

    def actor_mask(self, actor: int, _: int = 0) -> int:
        """The bits of the fields an actor (or a member of it) is mentioned in."""
        mask = self.actor_masks.get(actor, 0)
        for ref in self.compiled.actors[actor].regexes:
            mask |= self.term_mask(ref)
        return mask

    def term_spans(
        self, ref: int, field: int, *, first: bool = False, actor: int | None = None
    ) -> list[Span]:
        """Source spans of a term in a field, in text order; prefixes extended to the word end.

        With `first`, only the first one; with `actor`, without the hits hidden for the actor.
        """
        scan = self.fields[field]
        if ref < 0:
            spans = self.regex_spans(~ref).get(field, [])
            return spans[:1] if first else spans
        hidden = None if actor is None else self.hidden.get((field, actor))
        if not hidden:
            found = scan.aligned_spans(self.compiled.searches[ref], first=first)
            if found is not None:
                return found
        literal = self.compiled.literals[ref]
        form = scan.form(literal.case_sensitive)
        result = []
        for start, end in scan.literal_spans(ref, self.compiled, first=first, hidden=hidden):
            stop = max(end, form.text.find(SEPARATOR, end)) if literal.prefix else end
            result.append(form.source_span(start, stop))
        return result

    def term_words(self, ref: int, field: int, actor: int | None = None) -> list[Span]:
        """Word-index spans of a term in a field (for NEAR); with `actor`, as in term_spans."""
        if not self.term_mask(ref) & (1 << field):
            return []
        scan = self.fields[field]
        if ref < 0:
            return [scan.source_words(span) for span in self.regex_spans(~ref)[field]]
        cased = self.compiled.literals[ref].case_sensitive
        hidden = None if actor is None else self.hidden.get((field, actor))
        spans = scan.literal_spans(ref, self.compiled, hidden=hidden)
        return [scan.words(cased, span) for span in spans]

    def snippet(self, ref: int, field: int) -> str:
        """The text around a term's first occurrence in a field."""
        key = (ref, field)
        text = self._snippets.get(key)
        if text is None:
            scan = self.fields[field]
            spans = None
            if ref >= 0:
                spans = scan.aligned_spans(self.compiled.searches[ref], first=True)
            start, end = (spans or self.term_spans(ref, field, first=True))[0]
            text = self._snippets[key] = snippet(scan.source, start, end)
        return text

    def actor_refs(self, actor: int, field: int) -> list[int]:
        """The refs of an actor's names (and its members' names) found in a field."""
        entry = self.compiled.actors[actor]
        bit = 1 << field
        found = [ref for ref in entry.literals if self.literal_masks.get(ref, 0) & bit]
        return found + [ref for ref in entry.regexes if self.term_mask(ref) & bit]

    def actor_words(self, actor: int, field: int) -> list[Span]:
        return [
            span
            for ref in self.actor_refs(actor, field)
            for span in self.term_words(ref, field, actor)
        ]

    def mentions(self, actor: int, fields: tuple[int, ...]) -> tuple[str, ...]:
        """The surface forms of an actor's mentions, as written, in order of first appearance."""
        key = (actor, fields)
        found = self._mentions.get(key)
        if found is None:
            found = self._mentions[key] = self._find_mentions(actor, fields)
        return found

    def _find_mentions(self, actor: int, fields: tuple[int, ...]) -> tuple[str, ...]:
        found: dict[str, None] = {}
        mask = self.actor_mask(actor)
        for field in fields:
            if not mask & (1 << field):
                continue
            refs = self.actor_refs(actor, field)
            spans: list[Span] = []
            for ref in refs:
                spans += self.term_spans(ref, field, actor=actor)
            if len(refs) > 1:  # one term's spans are in text order already
                spans.sort(key=_outer_first)
            source = self.fields[field].source
            reach = -1
            for start, end in spans:
                if end > reach:  # not inside a longer mention ("Armenia" in "Republic of Armenia")
                    reach = end
                    found.setdefault(" ".join(source[start:end].split()))
        return tuple(found)


def _outer_first(span: Span) -> tuple[int, int]:
    return span[0], -span[1]


# ---- evaluation ------------------------------------------------------------------------------
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


def query_holds(node: QNode, scan: ArticleScan, mask: int) -> bool:
    if isinstance(node, QTerm):
        return bool(scan.term_mask(node.ref) & mask)
    if isinstance(node, QActor):
        return bool(scan.actor_mask(node.actor) & mask)
    if isinstance(node, QNot):
        return not query_holds(node.operand, scan, mask)
    if isinstance(node, QAnd):
        return all(query_holds(child, scan, mask) for child in node.operands)
    if isinstance(node, QOr):
        return any(query_holds(child, scan, mask) for child in node.operands)
    return bool(near_fields(node, scan, mask))


def near_fields(node: QNear, scan: ArticleScan, mask: int) -> list[int]:
    """The fields (within `mask`) where a NEAR expression holds."""
    if not (query_holds(node.left, scan, mask) and query_holds(node.right, scan, mask)):
        return []
    fields = [f for f in scan.fields if mask & (1 << f)]
    return [f for f in fields if near_spans(node, scan, f)]


def near_spans(node: QNear, scan: ArticleScan, field: int) -> list[Span]:
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


def positions(node: QNode, scan: ArticleScan, field: int) -> list[Span]:
    if isinstance(node, QTerm):
        return scan.term_words(node.ref, field)
    if isinstance(node, QActor):
        return scan.actor_words(node.actor, field)
    if isinstance(node, QOr):
        return [span for child in node.operands for span in positions(child, scan, field)]
    if isinstance(node, QNear):
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


class Matcher:
    """Every rule of a configuration, compiled: `match` an article, `explain` one rule on it."""

    def __init__(self, compiled: CompiledRules) -> None:
        self._compiled = compiled

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self._compiled.rules)

    def __len__(self) -> int:
        return len(self._compiled.rules)

    def __repr__(self) -> str:
        return f"<Matcher {len(self)} rules, {len(self._compiled.literals)} literals>"

    def match(
        self, article: ArticleText, *, feed_id: str, feed_tags: Sequence[str] = ()
    ) -> list[RuleMatch]:
        """The rules the article matches, in rule order, with what matched and the score."""
        scan, found = self._decide(article, feed_id, feed_tags)
        return [report(rule, scan, score) for rule, score in found]

    def matching(
        self, article: ArticleText, *, feed_id: str, feed_tags: Sequence[str] = ()
    ) -> list[str]:
        """The ids of the rules `match` would return, without building snippets and mentions."""
        return [rule.id for rule, _ in self._decide(article, feed_id, feed_tags)[1]]

    def _decide(
        self, article: ArticleText, feed_id: str, feed_tags: Sequence[str]
    ) -> tuple[ArticleScan, list[tuple[CompiledRule, float]]]:
        scan = ArticleScan(self._compiled, article)
        rules = self._compiled.rules
        fast = not scan.hidden  # the plain checks assume every hit of a name counts
        found: list[tuple[CompiledRule, float]] = []
        for index in scan.candidates():
            rule = rules[index]
            if rule.feeds and not rule.feed_allowed(feed_id, feed_tags):
                continue
            if rule.plain is not None and fast:
                score = plain_score(rule, scan)
                if score is None:
                    continue
            elif rule_holds(rule, scan):
                score = rule_score(rule, scan)
            else:
                continue
            if rule.min_score is None or score >= rule.min_score:
                found.append((rule, score))
        return scan, found

    def explain(
        self, article: ArticleText, rule_id: str, *, feed_id: str, feed_tags: Sequence[str] = ()
    ) -> Explanation:
        """Which conditions of one rule hold on the article and which fail, in words.

        Raises RuleError for a rule id the configuration does not have.
        """
        from monitor.match.explain import explain_rule

        index = self._compiled.by_id.get(rule_id)
        if index is None:
            raise RuleError(f'unknown rule "{rule_id}"')
        scan = ArticleScan(self._compiled, article, range(len(FIELD_NAMES)))
        return explain_rule(self._compiled.rules[index], scan, feed_id, tuple(feed_tags))
