"""Properties: normalisation keeps offsets right, and the compiled matcher agrees with the slow
reference evaluator (and with its own explanations) on random rule sets and texts."""

from __future__ import annotations

from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.match import ArticleText, compile_rules, term_problem
from monitor.match.compiled import FIELD_NAMES
from monitor.match.query import ActorRef, And, Near, Not, Or, QueryNode, Term, render
from monitor.match.text import NormalizedText, fold, fold_offsets, normalize
from monitor.models import ActorLists, ActorSpec, RuleSet, RuleSpec, TermLists, TermSpec
from tests.match_reference import reference_match

T = TypeVar("T")


def words(text: str) -> list[str]:
    return text.split()


# ---- normalisation ---------------------------------------------------------------------------
PIECES = words("a Z é É ß ẞ İ ı Я й ё 中 国 ア ไ 한 ١ ½ ﬁ ™ … ’ - , . _ <b> &amp; \U0001f600")
PIECES += ["e\u0301", "\u0301", "\u0345", " ", "  ", "\n", "\t", "\u00a0", "\u200b", "\x00"]
TEXTS = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=30).map("".join),
    st.text(max_size=40),
)


@given(TEXTS, st.booleans())
def test_offsets_are_complete_monotonic_and_agree(text: str, keep_case: bool) -> None:
    normalized = NormalizedText(text, keep_case=keep_case)
    folded, offsets = fold_offsets(text, keep_case=keep_case)
    assert normalized.text == folded == fold(text, keep_case=keep_case)
    assert folded.startswith(" ") and folded.endswith(" ") and "  " not in folded
    assert len(offsets) == len(folded)
    assert all(0 <= index <= len(text) for index in offsets)
    assert offsets == sorted(offsets)
    assert [normalized.source_index(i) for i in range(len(folded))] == offsets


@given(TEXTS)
def test_both_forms_split_into_the_same_words(text: str) -> None:
    assert len(fold(text).split()) == len(fold(text, keep_case=True).split())


@given(TEXTS, st.booleans(), st.data())
def test_the_source_span_of_a_match_contains_the_matched_words(
    text: str, keep_case: bool, data: st.DataObject
) -> None:
    normalized = NormalizedText(text, keep_case=keep_case)
    words = normalized.text.split()
    if not words:
        return
    first = data.draw(st.integers(0, len(words) - 1))
    last = data.draw(st.integers(first, min(first + 2, len(words) - 1)))
    phrase = " ".join(words[first : last + 1])
    start = len(" " + " ".join(words[:first])) + (1 if first else 0)
    assert normalized.text[start : start + len(phrase)] == phrase
    begin, end = normalized.source_span(start, start + len(phrase))
    assert f" {phrase} " in fold(text[begin:end], keep_case=keep_case)


@given(st.lists(st.sampled_from(PIECES), max_size=20).map("".join))
def test_normalize_offsets_index_the_html_free_source(text: str) -> None:
    normalized = normalize(text)
    assert "<b>" not in normalized.source and "&amp;" not in normalized.source
    assert normalized.offsets == fold_offsets(normalized.source)[1]


# ---- compiled matcher against the reference ----------------------------------------------------
WORDS = words(
    "peace treaty Armenia Armenia's Yerevan Baku us US Prussia Russia Россия Армения Армении 中国 "
    "normalization normalize deal war football 2020 Türkiye"
)
SEPARATORS = [" ", " ", " ", ", ", "-", "\n", ". ", " <b>", "</b> ", " &amp; "]
TERM_TEXTS = words("peace treaty us Russia russia Армени* Россия 中国 normaliz* deal war football")
TERM_TEXTS += ["peace treaty", "peace-treaty", "turkiye", "armenia s"]
TERM_TEXTS += [r"re:peace\s+treaty", r"re:\d+", r"re:Arm\w+"]
ACTOR_IDS = ["armenia", "russia", "envoy", "bloc"]
ACTOR_NAMES = [*words("Armenia Yerevan Армени* Russia Россия Baku US peace treaty"), "peace treaty"]


def _article_texts() -> st.SearchStrategy[str]:
    tokens = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=12)
    return tokens.map(lambda pairs: "".join(word + sep for word, sep in pairs))


ARTICLES = st.builds(
    ArticleText,
    title=_article_texts(),
    summary=_article_texts(),
    content=_article_texts(),
    authors=st.lists(st.sampled_from(["Jane Peace", "US Desk", "Armenia Bureau"]), max_size=2).map(
        tuple
    ),
    tags=st.lists(st.sampled_from(["war", "peace treaty", "Baku"]), max_size=2).map(tuple),
)
TERMS = st.builds(TermSpec, st.sampled_from(TERM_TEXTS), st.booleans())
TERM_LISTS = st.lists(TERMS, max_size=3).map(tuple)


def _actors() -> st.SearchStrategy[tuple[ActorSpec, ...]]:
    def actor(actor_id: str) -> st.SearchStrategy[ActorSpec]:
        names = st.lists(
            st.builds(TermSpec, st.sampled_from(ACTOR_NAMES), st.booleans()), min_size=1, max_size=3
        )
        part_of = st.lists(st.sampled_from(ACTOR_IDS), max_size=2, unique=True)
        return st.builds(
            ActorSpec, st.just(actor_id), st.just("other"), names.map(tuple), part_of.map(tuple)
        )

    return st.tuples(*(actor(actor_id) for actor_id in ACTOR_IDS))


def _queries() -> st.SearchStrategy[QueryNode]:
    words = st.sampled_from(
        ["peace", "treaty", "peace treaty", "us", "war", "Армени*", "中国", "normaliz*"]
    )
    terms = st.builds(lambda text: Term(text, 0, " " in text), words)
    atoms = st.one_of(terms, st.builds(ActorRef, st.sampled_from(ACTOR_IDS), st.just(0)))
    positional = st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.builds(lambda a, b: Or((a, b)), inner, inner),
            st.builds(lambda a, b, n: Near(a, b, n, 0), inner, inner, st.integers(0, 3)),
        ),
        max_leaves=3,
    )

    def extend(children: st.SearchStrategy[QueryNode]) -> st.SearchStrategy[QueryNode]:
        return st.one_of(
            st.builds(lambda c: Not(c, 0), children),
            st.builds(lambda a, b: And((a, b)), children, children),
            st.builds(lambda a, b: Or((a, b)), children, children),
        )

    return st.recursive(positional, extend, max_leaves=5)


FIELD_SETS = st.lists(st.sampled_from(FIELD_NAMES), min_size=1, max_size=5, unique=True).map(tuple)


def _often_empty(
    strategy: st.SearchStrategy[tuple[str, ...]],
) -> st.SearchStrategy[tuple[str, ...]]:
    return st.one_of(st.just(()), st.just(()), strategy)


@st.composite
def _rules(draw: st.DrawFn, index: int) -> RuleSpec:
    """A rule with a few conditions (most absent), so that rules do match now and then."""
    some_terms = st.lists(TERMS, min_size=1, max_size=3).map(tuple)
    keywords = TermLists(
        draw(st.one_of(st.just(()), some_terms)),
        draw(_often_empty(some_terms)),
        draw(_often_empty(some_terms)),
    )
    some_actors = st.lists(st.sampled_from(ACTOR_IDS), min_size=1, max_size=2).map(tuple)
    actors = ActorLists(
        draw(_often_empty(some_actors)),
        draw(_often_empty(some_actors)),
        draw(_often_empty(some_actors)),
    )
    query = draw(st.one_of(st.none(), st.none(), _queries().map(render)))
    if not (keywords or actors or query):
        keywords = TermLists(any=(TermSpec("peace"),))
    feeds = draw(
        _often_empty(
            st.lists(
                st.sampled_from(["f1", "f2", "tag:t1"]), min_size=1, max_size=2, unique=True
            ).map(tuple)
        )
    )
    min_score = draw(st.sampled_from([None, None, None, 1.0, 2.0, 4.0]))
    fields = draw(st.one_of(st.just(("title", "summary", "content")), FIELD_SETS))
    return RuleSpec(
        f"rule{index}",
        feeds=feeds,
        fields=fields,
        keywords=keywords,
        actors=actors,
        query=query,
        min_score=min_score,
    )


@st.composite
def _rule_sets(draw: st.DrawFn) -> RuleSet:
    count = draw(st.integers(1, 4))
    return RuleSet(actors=draw(_actors()), rules=tuple(draw(_rules(i)) for i in range(count)))


FEEDS = st.tuples(
    st.sampled_from(["f1", "f2", "f3"]), st.lists(st.sampled_from(["t1", "t2"]), max_size=2)
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_rule_sets(), st.lists(ARTICLES, min_size=1, max_size=3), FEEDS)
def test_compiled_matcher_agrees_with_the_reference(
    rules: RuleSet, articles: list[ArticleText], feed: tuple[str, list[str]]
) -> None:
    matcher = compile_rules(rules)
    feed_id, tags = feed
    for article in articles:
        texts = {name: article.field_text(i) for i, name in enumerate(FIELD_NAMES)}
        expected = reference_match(rules, texts, feed_id=feed_id, feed_tags=tags)
        assert matcher.match(article, feed_id=feed_id, feed_tags=tags) == expected
        assert matcher.matching(article, feed_id=feed_id, feed_tags=tags) == [
            m.rule_id for m in expected
        ]
        found = {m.rule_id: m for m in expected}
        for rule in rules.rules:
            explanation = matcher.explain(article, rule.id, feed_id=feed_id, feed_tags=tags)
            assert explanation.matched is (rule.id in found)
            assert explanation.match == found.get(rule.id)


def test_reference_agrees_on_the_traps() -> None:
    # A fixed example, so that a failure here is easy to read.
    rules = RuleSet(
        actors=(ActorSpec("russia", "country", (TermSpec("Russia"),)),),
        rules=(
            RuleSpec(
                "r",
                keywords=TermLists(any=(TermSpec("US", True),)),
                actors=ActorLists(any=("russia",)),
            ),
        ),
    )
    article = ArticleText(title="Prussia and us", content="Russia and the US")
    texts = {name: article.field_text(i) for i, name in enumerate(FIELD_NAMES)}
    expected = reference_match(rules, texts, feed_id="f")
    assert [m.rule_id for m in expected] == ["r"]
    assert compile_rules(rules).match(article, feed_id="f") == expected


def test_reference_agrees_on_names_inside_longer_names() -> None:
    actors = (
        ActorSpec("guinea", "country", (TermSpec("Guinea", True), TermSpec("Guinean"))),
        ActorSpec("png", "country", (TermSpec("Papua New Guinea"), TermSpec("Papua New Guinean"))),
        ActorSpec("unused", "country", (TermSpec("Equatorial Guinea"),)),
    )
    rules = RuleSet(
        actors=actors,
        rules=(
            RuleSpec("guinea", actors=ActorLists(any=("guinea",))),
            RuleSpec("png", actors=ActorLists(any=("png",))),
            RuleSpec("near", query="@guinea NEAR/2 troops"),
            RuleSpec("word", keywords=TermLists(any=(TermSpec("guinea"),))),
        ),
    )
    matcher = compile_rules(rules)
    for text in [
        "Papua New Guinean troops in Papua New Guinea",
        "Equatorial Guinea: Guinean troops",
        "Guinea troops, Papua New Guinea",
    ]:
        article = ArticleText(title=text, content=text.upper())
        texts = {name: article.field_text(i) for i, name in enumerate(FIELD_NAMES)}
        expected = reference_match(rules, texts, feed_id="f")
        assert "word" in [m.rule_id for m in expected]
        assert matcher.match(article, feed_id="f") == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*PIECES, "Ab", "ab", "cd"]), min_size=1, max_size=30), st.data())
def test_spans_agree_with_the_reference_on_any_text(pieces: list[str], data: st.DataObject) -> None:
    """Snippets and mentions come from the spans of terms in the text as written: on text
    with characters that fold to several or to none, spaced or not, they agree."""
    text = "".join(pieces)
    cased = data.draw(st.booleans())
    found = fold(text, keep_case=cased).split()
    if not found:
        return
    first = data.draw(st.integers(0, len(found) - 1))
    phrase = " ".join(found[first : first + data.draw(st.integers(1, 2))])
    prefix = phrase + "*"
    # A prefix needs 3 letters before "*" (the term syntax): a shorter one is a whole word.
    wanted = data.draw(st.booleans()) and term_problem(prefix) is None
    term = TermSpec(prefix if wanted else phrase, cased)
    assert term_problem(term.text) is None
    rules = RuleSet(
        actors=(ActorSpec("a", "other", (term,)),),
        rules=(
            RuleSpec("terms", keywords=TermLists(any=(term,))),
            RuleSpec("actors", actors=ActorLists(any=("a",))),
        ),
    )
    article = ArticleText(title=text, content=f"{text} {text}")
    texts = {name: article.field_text(i) for i, name in enumerate(FIELD_NAMES)}
    expected = reference_match(rules, texts, feed_id="f")
    assert compile_rules(rules).match(article, feed_id="f") == expected


NEAR_ATOMS = st.sampled_from(
    ['"peace treaty"', "peace", "treaty", "war", "Армени*", "@armenia", "@russia"]
)
NEAR_TEXTS = st.lists(
    st.sampled_from(["peace", "treaty", "war", "Armenia", "Армении", "Russia", "the"]),
    min_size=2,
    max_size=9,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(NEAR_ATOMS, NEAR_ATOMS, st.integers(0, 3), st.lists(NEAR_TEXTS, min_size=1, max_size=4))
def test_near_agrees_with_the_reference(
    left: str, right: str, distance: int, texts: list[str]
) -> None:
    actors = (
        ActorSpec("armenia", "country", (TermSpec("Armenia"), TermSpec("Армени*"))),
        ActorSpec("russia", "country", (TermSpec("Russia"),)),
    )
    rules = RuleSet(
        actors=actors, rules=(RuleSpec("near", query=f"{left} NEAR/{distance} {right}"),)
    )
    matcher = compile_rules(rules)
    for text in texts:
        expected = reference_match(rules, {"content": text}, feed_id="f")
        assert matcher.match(ArticleText(content=text), feed_id="f") == expected
