"""The compiled matcher: conditions, actors, fields, feeds, scores, reports, errors, explain."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.errors import ConfigError, ConfigErrors
from monitor.match import ArticleText, Matcher, RuleError, compile_rules
from monitor.models import (
    ActorHit,
    ActorLists,
    ActorSpec,
    Article,
    RuleSet,
    RuleSpec,
    SourceRef,
    TermLists,
    TermSpec,
)
from tests.conftest import EXAMPLE


def terms(*texts: str) -> tuple[TermSpec, ...]:
    return tuple(TermSpec(text) for text in texts)


def actor(
    actor_id: str, *names: str, part_of: tuple[str, ...] = (), kind: str = "country"
) -> ActorSpec:
    return ActorSpec(actor_id, kind, terms(*names), part_of)


ARMENIA = actor("armenia", "Armenia", "Republic of Armenia", "Yerevan", "Armenian", "Armenians")
AZERBAIJAN = actor(
    "azerbaijan",
    "Azerbaijan",
    "Republic of Azerbaijan",
    "Baku",
    "Azerbaijani",
    "Azerbaijanis",
    "Azeri",
)
RUSSIA = actor("russia", "Russia", "Russian Federation", "Moscow", "Kremlin", "Russian", "Russians")
KOPIRKIN = actor("kopirkin", "Sergey Kopirkin", "Kopirkin", part_of=("russia",), kind="person")
ACTORS = (ARMENIA, AZERBAIJAN, RUSSIA, KOPIRKIN)


def matcher(*rules: RuleSpec, actors: tuple[ActorSpec, ...] = ACTORS) -> Matcher:
    return compile_rules(RuleSet(actors=actors, rules=rules))


def matched(
    m: Matcher, article: ArticleText, *, feed_id: str = "tass", tags: tuple[str, ...] = ()
) -> list[str]:
    return [match.rule_id for match in m.match(article, feed_id=feed_id, feed_tags=tags)]


# ---- the example article -------------------------------------------------------------------
def example_article() -> ArticleText:
    return ArticleText.from_text(EXAMPLE.read_text(encoding="utf-8"))


CAUCASUS_PEACE = RuleSpec(
    "caucasus-peace",
    description="Armenia–Azerbaijan peace process",
    fields=("title", "summary", "content"),
    actors=ActorLists(all=("armenia", "azerbaijan")),
    keywords=TermLists(
        any=terms("peace treaty", "peace agreement", "peace deal", "normaliz*", "normalis*"),
        none=terms("football"),
    ),
)


def test_example_article_matches_the_design_rule() -> None:
    (match,) = matcher(CAUCASUS_PEACE).match(example_article(), feed_id="tass")
    assert match.rule_id == "caucasus-peace"
    assert [(hit.term, hit.field) for hit in match.keywords] == [
        ("peace treaty", "title"),
        ("peace treaty", "content"),
        ("normaliz*", "content"),
    ]
    assert match.keywords[0].snippet.startswith("Kopirkin: Peace treaty between Armenia")
    assert "normalization of relations" in match.keywords[2].snippet
    assert match.actors == (
        ActorHit("armenia", "Armenia", ("Armenia", "Yerevan", "Armenian")),
        ActorHit("azerbaijan", "Azerbaijan", ("Azerbaijan", "Baku", "Azerbaijani")),
    )
    # peace treaty (title) 2 + normaliz* 1 + armenia (title) 2 + azerbaijan (title) 2
    assert match.score == 7.0


def test_example_article_reaches_russia_through_moscow_russian_and_the_ambassador() -> None:
    rule = RuleSpec(
        "russia-in-caucasus",
        actors=ActorLists(all=("armenia", "azerbaijan", "russia")),
        keywords=TermLists(any=terms("peace treaty")),
    )
    (match,) = matcher(rule).match(example_article(), feed_id="tass")
    russia = match.actors[2]
    assert russia.id == "russia"
    assert russia.mentions == ("Kopirkin", "Russian", "Sergey Kopirkin", "Moscow", "Russia")


def test_example_article_content_only_rule_is_not_fooled_by_the_title() -> None:
    rule = RuleSpec("title-only", fields=("title",), keywords=TermLists(any=terms("Moscow")))
    assert matched(matcher(rule), example_article()) == []


def test_from_article_uses_the_plain_text_fields() -> None:
    article = Article(
        feed_id="tass",
        key="k",
        url=None,
        link=None,
        title="Talks in Baku",
        summary="<p>Yerevan &amp; Baku</p>",
        content="<p>Peace <b>treaty</b></p>",
        summary_text="Yerevan & Baku",
        content_text="Peace treaty",
        authors=("Jane Roe",),
        tags=("politics",),
        published=datetime(2026, 11, 26, tzinfo=UTC),
    )
    text = ArticleText.from_article(article)
    assert text == ArticleText(
        "Talks in Baku", "Yerevan & Baku", "Peace treaty", ("Jane Roe",), ("politics",)
    )


def test_from_text_takes_the_first_line_as_title() -> None:
    assert ArticleText.from_text("\n  Title line \nbody\nmore\n") == ArticleText(
        title="Title line", content="body\nmore"
    )


# ---- conditions ------------------------------------------------------------------------------
CONDITION_CASES = [
    # keywords lists
    (TermLists(any=terms("peace", "truce")), "a truce", True, "any-one"),
    (TermLists(any=terms("peace", "truce")), "a war", False, "any-none"),
    (TermLists(all=terms("peace", "treaty")), "peace and treaty", True, "all-both"),
    (TermLists(all=terms("peace", "treaty")), "peace only", False, "all-one"),
    (
        TermLists(any=terms("peace"), none=terms("football")),
        "peace in football",
        False,
        "none-excludes",
    ),
    (TermLists(any=terms("peace"), none=terms("football")), "peace talks", True, "none-absent"),
    (
        TermLists(none=terms("football")),
        "nothing relevant",
        True,
        "only-none-matches-anything-else",
    ),
    (TermLists(none=terms("football")), "football scores", False, "only-none-excludes"),
    (TermLists(all=terms("peace"), any=terms("treaty", "deal")), "peace deal", True, "all-and-any"),
    (
        TermLists(all=terms("peace"), any=terms("treaty", "deal")),
        "peace talks",
        False,
        "all-without-any",
    ),
]


@pytest.mark.parametrize(
    ("keywords", "text", "expected"),
    [case[:3] for case in CONDITION_CASES],
    ids=[case[3] for case in CONDITION_CASES],
)
def test_keyword_lists(keywords: TermLists, text: str, expected: bool) -> None:
    m = matcher(RuleSpec("r", keywords=keywords))
    assert bool(matched(m, ArticleText(content=text))) is expected


ACTOR_CASES = [
    (ActorLists(any=("armenia", "azerbaijan")), "talks in Baku", True, "any"),
    (ActorLists(all=("armenia", "azerbaijan")), "talks in Baku", False, "all-one-missing"),
    (ActorLists(all=("armenia", "azerbaijan")), "Yerevan and Baku", True, "all-by-capitals"),
    (ActorLists(any=("armenia",), none=("russia",)), "Yerevan and the Kremlin", False, "none"),
    (ActorLists(any=("armenia",), none=("russia",)), "Yerevan and Baku", True, "none-absent"),
    (ActorLists(any=("russia",)), "Sergey Kopirkin said", True, "part-of"),
    (ActorLists(none=("russia",)), "Kopirkin said", False, "part-of-excludes"),
    (ActorLists(any=("armenia",)), "Armenia's security", True, "possessive"),
]


@pytest.mark.parametrize(
    ("actors", "text", "expected"),
    [case[:3] for case in ACTOR_CASES],
    ids=[case[3] for case in ACTOR_CASES],
)
def test_actor_lists(actors: ActorLists, text: str, expected: bool) -> None:
    m = matcher(RuleSpec("r", actors=actors))
    assert bool(matched(m, ArticleText(content=text))) is expected


def test_all_conditions_must_hold() -> None:
    rule = RuleSpec(
        "r",
        actors=ActorLists(any=("armenia",)),
        keywords=TermLists(any=terms("treaty")),
        query="NOT war",
    )
    m = matcher(rule)
    assert matched(m, ArticleText(content="Yerevan treaty")) == ["r"]
    assert matched(m, ArticleText(content="Yerevan treaty war")) == []
    assert matched(m, ArticleText(content="treaty")) == []
    assert matched(m, ArticleText(content="Yerevan")) == []


# ---- fields ------------------------------------------------------------------------------------
FIELD_CASES = [
    (("title",), ArticleText(title="Peace treaty"), True, "title-in-title"),
    (("title",), ArticleText(content="Peace treaty"), False, "title-only-ignores-content"),
    (("content",), ArticleText(title="Peace treaty"), False, "content-only-ignores-title"),
    (("summary",), ArticleText(summary="peace treaty"), True, "summary"),
    (("author",), ArticleText(authors=("Peace Treaty Desk",)), True, "author"),
    (
        ("title", "summary", "content"),
        ArticleText(authors=("Peace Treaty",)),
        False,
        "default-skips-author",
    ),
    (("tags",), ArticleText(tags=("world", "peace treaty")), True, "tags"),
    (("tags",), ArticleText(content="peace treaty", tags=("world",)), False, "tags-only"),
]


@pytest.mark.parametrize(
    ("fields", "article", "expected"),
    [case[:3] for case in FIELD_CASES],
    ids=[case[3] for case in FIELD_CASES],
)
def test_fields(fields: tuple[str, ...], article: ArticleText, expected: bool) -> None:
    m = matcher(RuleSpec("r", fields=fields, keywords=TermLists(any=terms("peace treaty"))))
    assert bool(matched(m, article)) is expected


def test_actor_field_restriction() -> None:
    m = matcher(RuleSpec("r", fields=("title",), actors=ActorLists(any=("armenia",))))
    assert matched(m, ArticleText(title="News", content="Yerevan")) == []
    assert matched(m, ArticleText(title="Yerevan news")) == ["r"]


def test_a_none_term_only_excludes_within_the_rules_fields() -> None:
    m = matcher(
        RuleSpec(
            "r", fields=("title",), keywords=TermLists(any=terms("peace"), none=terms("football"))
        )
    )
    assert matched(m, ArticleText(title="peace", content="football")) == ["r"]


# ---- feeds -------------------------------------------------------------------------------------
FEED_CASES = [
    ((), "bbc", (), True, "no-restriction"),
    (("tass", "tag:wire"), "tass", (), True, "by-id"),
    (("tass", "tag:wire"), "reuters", ("wire", "world"), True, "by-tag"),
    (("tass", "tag:wire"), "bbc", ("world",), False, "neither"),
    (("tag:wire",), "wire", (), False, "tag-is-not-an-id"),
]


@pytest.mark.parametrize(
    ("feeds", "feed_id", "tags", "expected"),
    [case[:4] for case in FEED_CASES],
    ids=[case[4] for case in FEED_CASES],
)
def test_feeds(feeds: tuple[str, ...], feed_id: str, tags: tuple[str, ...], expected: bool) -> None:
    m = matcher(RuleSpec("r", feeds=feeds, keywords=TermLists(any=terms("peace"))))
    assert bool(matched(m, ArticleText(title="peace"), feed_id=feed_id, tags=tags)) is expected


# ---- actors: part_of ---------------------------------------------------------------------------
def test_part_of_chain_is_transitive_and_mentions_come_from_members() -> None:
    chain = (
        actor("c", "Commonwealth"),
        actor("b", "Federation", part_of=("c",)),
        actor("a", "Minister Ivanov", "Ivanov", part_of=("b",), kind="person"),
    )
    m = matcher(RuleSpec("r", actors=ActorLists(any=("c",))), actors=chain)
    (match,) = m.match(ArticleText(content="Minister Ivanov met the press."), feed_id="f")
    assert match.actors == (ActorHit("c", "Commonwealth", ("Minister Ivanov",)),)
    assert matched(m, ArticleText(content="The Federation said")) == ["r"]
    assert matched(m, ArticleText(content="Nothing")) == []


def test_part_of_does_not_go_downwards() -> None:
    chain = (actor("c", "Commonwealth"), actor("b", "Federation", part_of=("c",)))
    m = matcher(RuleSpec("r", actors=ActorLists(any=("b",))), actors=chain)
    assert matched(m, ArticleText(content="The Commonwealth said")) == []


def test_part_of_cycles_do_not_hang() -> None:
    cycle = (
        actor("a", "Alpha", part_of=("b",)),
        actor("b", "Beta", part_of=("a",)),
        actor("s", "Self", part_of=("s",)),
    )
    m = matcher(
        RuleSpec("ra", actors=ActorLists(any=("a",))),
        RuleSpec("rs", actors=ActorLists(any=("s",))),
        actors=cycle,
    )
    assert matched(m, ArticleText(content="Beta spoke")) == ["ra"]
    assert matched(m, ArticleText(content="Self spoke")) == ["rs"]


def test_mentions_keep_the_longest_form_and_the_text_as_written() -> None:
    m = matcher(RuleSpec("r", actors=ActorLists(any=("armenia",))))
    (match,) = m.match(
        ArticleText(content="The REPUBLIC OF ARMENIA, or Armenia’s government"), feed_id="f"
    )
    assert match.actors[0].mentions == ("REPUBLIC OF ARMENIA", "Armenia")


def test_prefix_mentions_show_the_whole_word() -> None:
    russia = actor("russia", "Росси*")
    m = matcher(RuleSpec("r", actors=ActorLists(any=("russia",))), actors=(russia,))
    (match,) = m.match(ArticleText(content="Министр России и Россия"), feed_id="f")
    assert match.actors[0].mentions == ("России", "Россия")


def test_snippets_and_mentions_where_characters_fold_to_several() -> None:
    # "ß" folds to "ss" and "ﬁ" to "fi": the spans still land on the text as written.
    strasbourg = actor("strasbourg", "Straßburg", kind="place")
    text = "Großer Streit: die Außenminister trafen sich in Straßburg, sagt ﬁnanz.de. " * 3
    rule = RuleSpec(
        "r",
        keywords=TermLists(any=terms("aussenminister", "finanz")),
        actors=ActorLists(any=("strasbourg",)),
    )
    (match,) = matcher(rule, actors=(strasbourg,)).match(ArticleText(content=text), feed_id="f")
    snippets = {hit.term: hit.snippet for hit in match.keywords}
    assert snippets["aussenminister"].startswith("Großer Streit: die Außenminister trafen")
    assert snippets["finanz"].startswith("Großer Streit") and "sagt ﬁnanz.de." in snippets["finanz"]
    assert match.actors[0].mentions == ("Straßburg",)


def test_snippets_and_mentions_in_decomposed_text() -> None:
    # "e" + U+0301 (a combining acute) folds to "e" and nothing: the accent leaves no character.
    geneva = actor("geneva", "Genève", kind="place")
    text = unicodedata.normalize("NFD", "Le café était fermé. On parla de Genève et d'été. ") * 3
    rule = RuleSpec("r", keywords=TermLists(any=terms("ete")), actors=ActorLists(any=("geneva",)))
    (match,) = matcher(rule, actors=(geneva,)).match(ArticleText(content=text), feed_id="f")
    assert match.keywords[0].snippet.startswith(unicodedata.normalize("NFD", "Le café était"))
    assert match.actors[0].mentions == (unicodedata.normalize("NFD", "Genève"),)


def test_a_mention_keeps_the_accent_written_after_its_last_letter() -> None:
    pele = actor("pele", "Pele", kind="person")
    text = unicodedata.normalize("NFD", "Pelé a marqué.")
    (match,) = matcher(RuleSpec("r", actors=ActorLists(any=("pele",))), actors=(pele,)).match(
        ArticleText(content=text), feed_id="f"
    )
    assert match.actors[0].mentions == (unicodedata.normalize("NFD", "Pelé"),)


# ---- actors: a name inside a longer name of another actor -------------------------------------
NESTED_ACTORS = (
    actor("guinea", "Guinea", "Conakry"),
    actor("papua-new-guinea", "Papua New Guinea", "Port Moresby"),
    actor("equatorial-guinea", "Equatorial Guinea", "Malabo"),
    actor("niger", "Niger", "Niamey"),
    actor("nigeria", "Nigeria", "Abuja"),
    actor("congo", "Republic of the Congo", "Congo", "Brazzaville"),
    actor("dr-congo", "Democratic Republic of the Congo", "DR Congo", "Congo", "Kinshasa"),
    actor("un", "United Nations", "UN"),
    actor("unsc", "UN Security Council", part_of=("un",), kind="organization"),
)


def nested_matcher(*extra: RuleSpec) -> Matcher:
    rules = [RuleSpec(a.id, actors=ActorLists(any=(a.id,))) for a in NESTED_ACTORS]
    return matcher(*rules, *extra, actors=NESTED_ACTORS)


@pytest.mark.parametrize(
    ("text", "mentioned"),
    [
        ("Papua New Guinea votes", {"papua-new-guinea": ("Papua New Guinea",)}),
        ("Equatorial Guinea votes", {"equatorial-guinea": ("Equatorial Guinea",)}),
        ("Guinea votes", {"guinea": ("Guinea",)}),
        (
            "Papua New Guinea and Guinea vote",
            {"guinea": ("Guinea",), "papua-new-guinea": ("Papua New Guinea",)},
        ),
        ("Niger votes", {"niger": ("Niger",)}),
        ("Nigeria votes", {"nigeria": ("Nigeria",)}),
        (
            "The Democratic Republic of the Congo votes",
            {"dr-congo": ("Democratic Republic of the Congo",)},
        ),
        ("The Republic of the Congo votes", {"congo": ("Republic of the Congo",)}),
        ("Congo votes", {"congo": ("Congo",), "dr-congo": ("Congo",)}),
        ("DR Congo votes", {"dr-congo": ("DR Congo",)}),
        # A longer name of a member still counts for the actor it is part of.
        (
            "The UN Security Council votes",
            {"un": ("UN Security Council",), "unsc": ("UN Security Council",)},
        ),
    ],
    ids=str,
)
def test_a_name_inside_a_longer_name_of_another_actor_is_not_a_mention(
    text: str, mentioned: dict[str, tuple[str, ...]]
) -> None:
    matches = nested_matcher().match(ArticleText(content=text), feed_id="f")
    assert {m.rule_id: m.actors[0].mentions for m in matches} == mentioned


def test_a_keyword_still_matches_inside_a_longer_actor_name() -> None:
    keyword = RuleSpec("guinea-word", keywords=TermLists(any=terms("Guinea")))
    both = RuleSpec(
        "guinea-both", keywords=TermLists(any=terms("Guinea")), actors=ActorLists(any=("guinea",))
    )
    m = nested_matcher(keyword, both)
    assert matched(m, ArticleText(content="Papua New Guinea votes")) == [
        "papua-new-guinea",
        "guinea-word",
    ]


def test_the_longer_name_hides_in_its_field_only() -> None:
    rules = [
        RuleSpec("anywhere", actors=ActorLists(any=("guinea",))),
        RuleSpec("title", fields=("title",), actors=ActorLists(any=("guinea",))),
    ]
    article = ArticleText(title="Papua New Guinea votes", content="Guinea abstains")
    m = matcher(*rules, actors=NESTED_ACTORS)
    (match,) = m.match(article, feed_id="f")
    assert match.rule_id == "anywhere"
    assert match.actors[0].mentions == ("Guinea",)
    assert match.score == 1.0  # found in the content, not the title


def test_a_longer_name_of_an_actor_no_rule_names_still_hides() -> None:
    m = matcher(RuleSpec("r", actors=ActorLists(any=("guinea",))), actors=NESTED_ACTORS)
    assert matched(m, ArticleText(content="Papua New Guinea votes")) == []
    assert matched(m, ArticleText(content="Equatorial Guinea, then Conakry")) == ["r"]


def test_a_hidden_name_counts_for_no_query_or_explanation() -> None:
    rule = RuleSpec("r", query="@guinea NEAR/1 votes OR (@guinea AND NOT abstains)")
    m = matcher(rule, actors=NESTED_ACTORS)
    article = ArticleText(title="Papua New Guinea votes")
    assert matched(m, article) == []
    assert matched(m, ArticleText(title="Guinea votes")) == ["r"]
    explanation = m.explain(article, "r", feed_id="f")
    assert not explanation.matched
    assert "    @guinea not found" in explanation.lines


# ---- score and min_score ----------------------------------------------------------------------
SCORE_CASES = [
    (ArticleText(content="peace treaty"), 1.0, "one-term"),
    (ArticleText(title="peace treaty"), 2.0, "title-doubles"),
    (
        ArticleText(title="peace treaty", content="peace deal in Yerevan"),
        4.0,
        "term-title-term-actor",
    ),
    (ArticleText(content="peace treaty peace treaty, peace deal"), 2.0, "distinct-terms"),
]


@pytest.mark.parametrize(
    ("article", "score"), [case[:2] for case in SCORE_CASES], ids=[case[2] for case in SCORE_CASES]
)
def test_score(article: ArticleText, score: float) -> None:
    rule = RuleSpec(
        "r",
        keywords=TermLists(any=terms("peace treaty", "peace deal")),
        query="NOT war OR @armenia",
    )
    (match,) = matcher(rule).match(article, feed_id="f")
    assert match.score == score


def test_min_score_drops_weaker_matches() -> None:
    rule = RuleSpec("r", keywords=TermLists(any=terms("peace", "treaty", "deal")), min_score=2.0)
    m = matcher(rule)
    assert matched(m, ArticleText(content="peace")) == []
    assert matched(m, ArticleText(content="peace treaty")) == ["r"]
    assert matched(m, ArticleText(title="peace")) == ["r"]


# ---- match report ------------------------------------------------------------------------------
def test_results_come_in_rule_order_with_term_hits_per_field() -> None:
    m = matcher(
        RuleSpec("z-last", keywords=TermLists(any=terms("Baku"))),
        RuleSpec("a-first", keywords=TermLists(all=terms("treaty", "Baku"))),
    )
    results = m.match(
        ArticleText(title="Treaty", content="Signed in Baku. The treaty text"), feed_id="f"
    )
    assert [r.rule_id for r in results] == ["z-last", "a-first"]
    assert [(h.term, h.field, h.snippet) for h in results[1].keywords] == [
        ("treaty", "title", "Treaty"),
        ("treaty", "content", "Signed in Baku. The treaty text"),
        ("Baku", "content", "Signed in Baku. The treaty text"),
    ]


def test_term_hit_shows_the_term_as_written() -> None:
    m = matcher(RuleSpec("r", keywords=TermLists(any=(TermSpec("Peace-Treaty"),))))
    (match,) = m.match(ArticleText(content="a PEACE TREATY"), feed_id="f")
    assert match.keywords[0].term == "Peace-Treaty"


def test_html_in_text_is_stripped_for_matching_and_snippets() -> None:
    m = matcher(RuleSpec("r", keywords=TermLists(any=terms("peace treaty"))))
    (match,) = m.match(ArticleText(content="<p>The <b>peace</b>&nbsp;treaty</p>"), feed_id="f")
    assert match.keywords[0].snippet == "The peace treaty"


def test_regex_only_rule_is_evaluated_on_every_article() -> None:
    m = matcher(RuleSpec("r", keywords=TermLists(any=(TermSpec(r"re:\d{3}-\d{4}"),))))
    (match,) = m.match(ArticleText(content="call 555-1234 now"), feed_id="f")
    assert match.keywords[0].snippet == "call 555-1234 now"
    assert matched(m, ArticleText(content="no number")) == []


def test_case_sensitive_and_insensitive_forms_of_a_term_are_distinct() -> None:
    m = matcher(
        RuleSpec("upper", keywords=TermLists(any=(TermSpec("US", case_sensitive=True),))),
        RuleSpec("any-case", keywords=TermLists(any=terms("us"))),
    )
    assert matched(m, ArticleText(content="tell us")) == ["any-case"]
    assert matched(m, ArticleText(content="the US")) == ["upper", "any-case"]


def test_matcher_reports_rule_ids_and_length() -> None:
    m = matcher(CAUCASUS_PEACE, RuleSpec("other", query="x"))
    assert m.rule_ids == ("caucasus-peace", "other")
    assert len(m) == 2
    assert m.matching(example_article(), feed_id="f") == ["caucasus-peace"]


def test_empty_rule_set_matches_nothing() -> None:
    m = compile_rules(RuleSet())
    assert m.match(example_article(), feed_id="f") == []
    assert len(m) == 0


# ---- compile errors ---------------------------------------------------------------------------
def located(rule_id: str, line: int, **fields: Any) -> RuleSpec:
    return RuleSpec(rule_id, where=SourceRef("rules/a.yaml", line), **fields)


ERROR_CASES = [
    (
        located(
            "r",
            4,
            keywords=TermLists(any=(TermSpec(r"re:(a)\1", where=SourceRef("rules/a.yaml", 6)),)),
        ),
        6,
        "rules[0].keywords.any[0]",
        r'"re:(a)\1" is not a regular expression RE2 accepts',
    ),
    (
        located("r", 4, keywords=TermLists(all=terms("peace", "--"))),
        4,
        "rules[0].keywords.all[1]",
        '"--" has no letters or digits: it would match nothing',
    ),
    (located("r", 4), 4, "rules[0]", "rule has no condition"),
    (located("r", 4, feeds=("tass",)), 4, "rules[0]", "rule has no condition"),
    (
        located("r", 4, actors=ActorLists(all=("armenia", "georgia"))),
        4,
        "rules[0].actors.all",
        'unknown actor "georgia"',
    ),
    (
        located("r", 4, query="(a OR b", query_where=SourceRef("rules/a.yaml", 5)),
        5,
        "rules[0].query",
        "unbalanced parenthesis at column 1",
    ),
    (
        located("r", 4, fields=("title", "body"), keywords=TermLists(any=terms("x"))),
        4,
        "rules[0].fields",
        'unknown field "body"',
    ),
    (
        located("r", 4, fields=(), keywords=TermLists(any=terms("x"))),
        4,
        "rules[0].fields",
        "fields is empty",
    ),
    (
        located("r", 4, feeds=("tag:",), keywords=TermLists(any=terms("x"))),
        4,
        "rules[0].feeds",
        '"tag:" needs a tag name',
    ),
]


@pytest.mark.parametrize(
    ("rule", "line", "field", "message"),
    [case[:4] for case in ERROR_CASES],
    ids=[
        "backreference",
        "empty-term",
        "no-condition",
        "feeds-only",
        "unknown-actor",
        "query-syntax",
        "unknown-field",
        "no-fields",
        "empty-tag",
    ],
)
def test_compile_errors(rule: RuleSpec, line: int, field: str, message: str) -> None:
    with pytest.raises(ConfigErrors) as caught:
        matcher(rule)
    (error,) = caught.value.errors
    assert (error.path, error.line, error.field) == ("rules/a.yaml", line, field)
    assert message in error.message


def test_every_problem_is_reported_at_once_in_file_and_line_order() -> None:
    where_b = SourceRef("rules/b.yaml", 2)
    actors = (
        ActorSpec("x", "other", terms("--"), where=SourceRef("rules/actors.yaml", 3)),
        ActorSpec(
            "y", "other", terms("Y"), part_of=("nowhere",), where=SourceRef("rules/actors.yaml", 9)
        ),
        ActorSpec("y", "other", terms("Y2"), where=SourceRef("rules/actors.yaml", 12)),
        ActorSpec("z", "other", (), where=SourceRef("rules/actors.yaml", 15)),
    )
    rules = (
        RuleSpec("r1", keywords=TermLists(any=terms("re:(?=x)")), where=where_b),
        RuleSpec("r1", keywords=TermLists(any=terms("x")), where=SourceRef("rules/a.yaml", 7)),
        RuleSpec("r2", query="@nobody", where=SourceRef("rules/a.yaml", 1)),
    )
    with pytest.raises(ConfigErrors) as caught:
        compile_rules(RuleSet(actors=actors, rules=rules))
    shown = [(e.path, e.line, e.field) for e in caught.value.errors]
    assert shown == [
        ("rules/a.yaml", 1, "rules[1].query"),
        ("rules/a.yaml", 7, "rules[0].id"),
        ("rules/actors.yaml", 3, "actors[0].names[0]"),
        ("rules/actors.yaml", 9, "actors[1].part_of"),
        ("rules/actors.yaml", 12, "actors[2].id"),
        ("rules/actors.yaml", 15, "actors[3].names"),
        ("rules/b.yaml", 2, "rules[0].keywords.any[0]"),
    ]
    text = str(caught.value)
    assert 'rules/a.yaml:7: rules[0].id: duplicate rule id "r1"' in text
    assert 'rules/actors.yaml:9: actors[1].part_of: unknown actor "nowhere"' in text
    assert isinstance(caught.value, ConfigError)


def test_compile_errors_without_locations_still_name_the_field() -> None:
    with pytest.raises(ConfigErrors) as caught:
        compile_rules(RuleSet(rules=(RuleSpec("r", actors=ActorLists(any=("ghost",))),)))
    assert str(caught.value) == 'rules[0].actors.any: unknown actor "ghost"'


# ---- explain ------------------------------------------------------------------------------------
def test_explain_a_match() -> None:
    explanation = matcher(CAUCASUS_PEACE).explain(
        example_article(), "caucasus-peace", feed_id="tass"
    )
    assert explanation.matched
    assert explanation.match is not None and explanation.match.rule_id == "caucasus-peace"
    assert explanation.failed == ()
    assert (
        'keywords.any: "peace treaty" found in title, content; "normaliz*" found in content'
        in explanation.lines
    )
    assert 'keywords.none: none of "football" found' in explanation.lines


def test_explain_why_not() -> None:
    rule = RuleSpec(
        "r",
        feeds=("tass", "tag:wire"),
        fields=("title",),
        actors=ActorLists(all=("armenia", "azerbaijan")),
        keywords=TermLists(any=terms("treaty"), none=terms("football")),
        query='"peace treaty" NEAR/0 @armenia',
    )
    article = ArticleText(title="Armenia football: peace treaty", content="Baku")
    explanation = matcher(rule).explain(article, "r", feed_id="bbc", feed_tags=("world",))
    assert not explanation.matched
    assert explanation.match is None
    lines = explanation.lines
    assert "feeds: feed bbc (tags: world) is not in [tass, tag:wire]" in lines
    assert "actors.all: azerbaijan not mentioned in title (only in content)" in lines
    assert 'keywords.none: "football" found in title' in lines
    assert 'keywords.any: "treaty" found in title' in lines
    assert 'query: "peace treaty" NEAR/0 @armenia: not within 0 words of each other' in lines
    assert '  "peace treaty" found in title' in lines
    assert [c.name for c in explanation.failed] == ["feeds", "keywords.none", "actors.all", "query"]


def test_explain_min_score() -> None:
    rule = RuleSpec("r", keywords=TermLists(any=terms("peace")), min_score=3)
    explanation = matcher(rule).explain(ArticleText(title="peace"), "r", feed_id="f")
    assert not explanation.matched
    assert explanation.lines[-1] == "min_score: score 2 is below 3"


def test_explain_unknown_rule() -> None:
    with pytest.raises(RuleError, match='unknown rule "nope"'):
        matcher(CAUCASUS_PEACE).explain(example_article(), "nope", feed_id="f")
