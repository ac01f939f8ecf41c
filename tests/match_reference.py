"""A slow reference evaluator of a `RuleSet`, written for plainness, against which tests hold
the compiled matcher: every rule, every term, a straightforward search of the normalised text.

It shares only the character folding (`text.fold_offsets`), HTML stripping, the snippet cut and
the query parser with the matcher; no automaton, candidate index, bit masks or bisection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import re2

from monitor.match import query as q
from monitor.match.text import fold, fold_offsets, is_unspaced, snippet, strip_html, surface
from monitor.models import RULE_FIELDS, ActorHit, RuleMatch, RuleSet, RuleSpec, TermHit, TermSpec

__all__ = ["reference_match"]


@dataclass(frozen=True, slots=True)
class _Occurrence:
    start: int  # in the field's source (HTML stripped)
    end: int
    first_word: int
    last_word: int


class _Field:
    def __init__(self, text: str) -> None:
        self.source = strip_html(text)
        self.forms = {cased: fold_offsets(self.source, keep_case=cased) for cased in (False, True)}

    def word_of(self, cased: bool, index: int) -> int:
        return self.forms[cased][0].count(" ", 0, index) - 1


def _term_identity(spec: TermSpec) -> tuple[object, ...]:
    if spec.text.startswith("re:"):
        return ("re", spec.text[3:], spec.case_sensitive)
    body = spec.text.strip()
    prefix = body.endswith("*")
    words = fold(body[:-1] if prefix else body, keep_case=spec.case_sensitive).strip()
    return ("literal", words, prefix, spec.case_sensitive)


def _occurrences(spec: TermSpec, field: _Field) -> list[_Occurrence]:
    identity = _term_identity(spec)
    if identity[0] == "re":
        return _regex_occurrences(str(identity[1]), spec.case_sensitive, field)
    _, words, prefix, cased = identity
    assert isinstance(words, str) and isinstance(prefix, bool) and isinstance(cased, bool)
    text, offsets = field.forms[cased]
    found = []
    start = text.find(words)
    while start >= 0 and words:
        end = start + len(words)
        left_ok = is_unspaced(words[0]) or text[start - 1] == " "
        right_ok = prefix or is_unspaced(words[-1]) or text[end] == " "
        if left_ok and right_ok:
            stop = text.index(" ", end) if prefix and " " in text[end:] else end
            found.append(
                _Occurrence(
                    offsets[start],
                    offsets[stop - 1] + 1,
                    field.word_of(cased, start),
                    field.word_of(cased, end),
                )
            )
        start = text.find(words, start + 1)
    return found


def _regex_occurrences(pattern: str, cased: bool, field: _Field) -> list[_Occurrence]:
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = cased
    text, offsets = field.forms[False]
    found = []
    for match in re2.compile(pattern, options).finditer(field.source):
        start, end = match.span()
        if end == start:
            continue
        inside = [i for i, o in enumerate(offsets) if start <= o < end and text[i] != " "]
        words = [field.word_of(False, i) for i in inside]
        if not words:  # separators only: the words after and before the gap
            after = next(i for i, o in enumerate(offsets) if o >= start)
            last = max(i for i, o in enumerate(offsets) if o < end)
            words = [text.count(" ", 0, after + 1) - 1, text.count(" ", 0, max(after, last)) - 1]
            found.append(_Occurrence(start, end, words[0], words[1]))
            continue
        found.append(_Occurrence(start, end, min(words), max(words)))
    return found


class _Reference:
    def __init__(self, ruleset: RuleSet, fields: dict[str, _Field]) -> None:
        self.actors = {actor.id: actor for actor in ruleset.actors}
        self.fields = fields

    def members(self, actor_id: str) -> list[str]:
        """The actor and every actor part of it, directly or not."""
        found = [actor_id]
        for candidate in self.actors.values():
            if candidate.id not in found and self.is_part(candidate.id, actor_id, set()):
                found.append(candidate.id)
        return found

    def is_part(self, member: str, whole: str, seen: set[str]) -> bool:
        if member in seen:
            return False
        seen.add(member)
        parents = self.actors[member].part_of if member in self.actors else ()
        return any(p == whole or self.is_part(p, whole, seen) for p in parents)

    def term_in(self, spec: TermSpec, names: Sequence[str]) -> list[tuple[str, _Occurrence]]:
        return [
            (n, o) for n in names if n in self.fields for o in _occurrences(spec, self.fields[n])
        ]

    def actor_in(self, actor_id: str, names: Sequence[str]) -> list[tuple[str, _Occurrence]]:
        """The mentions of an actor's names and its members' names, without those inside a
        longer mention of a name that is not one of them ("Guinea" in "Papua New Guinea")."""
        specs = [name for member in self.members(actor_id) for name in self.actors[member].names]
        own = {_term_identity(spec) for spec in specs}
        return [
            (name, occurrence)
            for spec in specs
            for name, occurrence in self.term_in(spec, names)
            if spec.text.startswith("re:") or not self.inside_another_name(name, occurrence, own)
        ]

    def inside_another_name(
        self, name: str, occurrence: _Occurrence, own: set[tuple[object, ...]]
    ) -> bool:
        """Whether a longer occurrence of a literal name of any actor, not one of `own`, holds
        the occurrence."""
        span = (occurrence.start, occurrence.end)
        for actor in self.actors.values():
            for spec in actor.names:
                identity = _term_identity(spec)
                if identity[0] == "re" or identity in own:
                    continue
                for other in _occurrences(spec, self.fields[name]):
                    outer = (other.start, other.end)
                    if outer[0] <= span[0] and span[1] <= outer[1] and outer != span:
                        return True
        return False

    def holds(self, node: q.QueryNode, names: Sequence[str]) -> bool:
        if isinstance(node, q.Term):
            return bool(self.term_in(TermSpec(node.text), names))
        if isinstance(node, q.ActorRef):
            return bool(self.actor_in(node.id, names))
        if isinstance(node, q.Not):
            return not self.holds(node.operand, names)
        if isinstance(node, q.And):
            return all(self.holds(child, names) for child in node.operands)
        if isinstance(node, q.Or):
            return any(self.holds(child, names) for child in node.operands)
        return any(self.near(node, name) for name in names if name in self.fields)

    def near(self, node: q.Near, name: str) -> list[tuple[int, int]]:
        pairs = []
        for a in self.spans(node.left, name):
            for b in self.spans(node.right, name):
                between = b[0] - a[1] - 1 if b[0] > a[1] else a[0] - b[1] - 1
                if between <= node.distance:
                    pairs.append((min(a[0], b[0]), max(a[1], b[1])))
        return pairs

    def spans(self, node: q.QueryNode, name: str) -> list[tuple[int, int]]:
        if isinstance(node, q.Term):
            hits = self.term_in(TermSpec(node.text), [name])
        elif isinstance(node, q.ActorRef):
            hits = self.actor_in(node.id, [name])
        elif isinstance(node, q.Or):
            return [span for child in node.operands for span in self.spans(child, name)]
        else:
            assert isinstance(node, q.Near)
            return self.near(node, name)
        return [(o.first_word, o.last_word) for _, o in hits]


def _positive(node: q.QueryNode | None) -> list[q.Leaf]:
    """The terms and @actors outside any NOT, in order."""
    return [atom for atom, negated in q.walk(node) if isinstance(atom, q.Leaf) and not negated]


def _rule_holds(rule: RuleSpec, ref: _Reference, names: Sequence[str]) -> bool:
    kw, ac = rule.keywords, rule.actors
    checks = [
        all(ref.term_in(t, names) for t in kw.all),
        not kw.any or any(ref.term_in(t, names) for t in kw.any),
        not any(ref.term_in(t, names) for t in kw.none),
        all(ref.actor_in(a, names) for a in ac.all),
        not ac.any or any(ref.actor_in(a, names) for a in ac.any),
        not any(ref.actor_in(a, names) for a in ac.none),
        rule.query is None or ref.holds(q.parse_query(rule.query), names),
    ]
    return all(checks)


def _feed_allowed(rule: RuleSpec, feed_id: str, feed_tags: Iterable[str]) -> bool:
    tags = {f"tag:{tag}" for tag in feed_tags}
    return not rule.feeds or any(f == feed_id or f in tags for f in rule.feeds)


def _report(rule: RuleSpec, ref: _Reference, names: Sequence[str]) -> RuleMatch:
    query = q.parse_query(rule.query) if rule.query is not None else None
    written = [*rule.keywords.any, *rule.keywords.all, *rule.keywords.none]
    if query is not None:
        written += [TermSpec(t.text) for t in _all_terms(query)]
    labels: dict[tuple[object, ...], str] = {}
    for spec in written:
        labels.setdefault(_term_identity(spec), spec.text)
    positive = [*rule.keywords.any, *rule.keywords.all]
    positive += [TermSpec(atom.text) for atom in _positive(query) if isinstance(atom, q.Term)]
    score, hits, done = 0.0, [], set()
    for spec in positive:
        identity = _term_identity(spec)
        found = ref.term_in(spec, names)
        if identity in done or not found:
            continue
        done.add(identity)
        score += 2.0 if any(n == "title" for n, _ in found) else 1.0
        for name in names:
            first = min((o for n, o in found if n == name), key=lambda o: o.start, default=None)
            if first is not None:
                text = snippet(ref.fields[name].source, first.start, first.end)
                hits.append(TermHit(labels[identity], name, text))
    actor_ids = [*rule.actors.any, *rule.actors.all]
    actor_ids += [atom.id for atom in _positive(query) if isinstance(atom, q.ActorRef)]
    actors = []
    for actor_id in dict.fromkeys(actor_ids):
        found = ref.actor_in(actor_id, names)
        if found:
            score += 2.0 if any(n == "title" for n, _ in found) else 1.0
            actor = ref.actors[actor_id]
            display = actor.names[0].text if actor.names else actor.id
            actors.append(ActorHit(actor_id, display, _mentions(ref, found, names)))
    return RuleMatch(rule.id, tuple(hits), tuple(actors), score)


def _all_terms(node: q.QueryNode) -> list[q.Term]:
    return [term for term, _ in q.walk(node) if isinstance(term, q.Term)]


def _mentions(
    ref: _Reference, found: list[tuple[str, _Occurrence]], names: Sequence[str]
) -> tuple[str, ...]:
    surfaces: list[str] = []
    for name in names:
        spans = sorted({(o.start, o.end) for n, o in found if n == name})
        for start, end in spans:
            inside = any(s <= start and end <= e and (s, e) != (start, end) for s, e in spans)
            written = surface(ref.fields[name].source, start, end)
            if not inside and written not in surfaces:
                surfaces.append(written)
    return tuple(surfaces)


def reference_match(
    ruleset: RuleSet,
    texts: dict[str, str],
    *,
    feed_id: str,
    feed_tags: Sequence[str] = (),
) -> list[RuleMatch]:
    """What the rules should report for an article given as {field name: text}."""
    fields = {name: _Field(text) for name, text in texts.items() if text}
    ref = _Reference(ruleset, fields)
    results = []
    for rule in ruleset.rules:
        names = [name for name in RULE_FIELDS if name in rule.fields]
        if not _feed_allowed(rule, feed_id, feed_tags) or not _rule_holds(rule, ref, names):
            continue
        result = _report(rule, ref, names)
        if rule.min_score is None or result.score >= rule.min_score:
            results.append(result)
    return results
