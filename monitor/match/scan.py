"""One article as the compiled rules see it: each field normalised once and scanned once.

An `ArticleScan` normalises each field, runs the Aho-Corasick automata over it and keeps which
literals hit in which fields (bit masks). Regular expressions, word positions (NEAR), offsets
and snippets are computed on demand, for the rules that need them. The source spans of a term
(snippets, mentions) are found by searching the text folded character by character
(`NormalizedText.aligned`), whose indexes map to the source; only the hits an actor must not
count (a name inside another actor's longer name) go through the normalised text's offsets.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

from monitor.match.compiled import FIELD_NAMES, CompiledRules, LiteralSearch
from monitor.match.text import SEPARATOR, NormalizedText, normalize, snippet, surface
from monitor.models import Article

__all__ = ["ArticleScan", "ArticleText", "FieldScan", "Span"]

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

    def aligned_spans(self, search: LiteralSearch, *, first: bool = False) -> list[Span]:
        """The source spans of a literal found in the aligned form of the text (the same
        occurrences, in order, as in the normalised text). With `first`, only the first. The
        spans are first taken as if each character had folded to one, then mapped to the
        source where some folded to several or to none."""
        head, rest, trail, prefix, cased, lead = search
        form = self.form(cased)
        aligned = form.aligned
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
        if spans and not form.one_to_one:  # some characters folded to several (ß) or none
            to_source = form.aligned_source
            spans = [(to_source(start), to_source(end - 1) + 1) for start, end in spans]
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
            return scan.aligned_spans(self.compiled.searches[ref], first=first)
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
            start, end = self.term_spans(ref, field, first=True)[0]
            text = self._snippets[key] = snippet(self.fields[field].source, start, end)
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
                    found.setdefault(surface(source, start, end))
        return tuple(found)


def _outer_first(span: Span) -> tuple[int, int]:
    return span[0], -span[1]
