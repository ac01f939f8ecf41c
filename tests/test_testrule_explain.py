"""`test-rule --why-not` on a `query:`: its sub-expressions as a tree, each held or failed for
the query, so that the lines explain the verdict (a `NOT football` holds when football is not
found)."""

from __future__ import annotations

import pytest

from monitor.match import ArticleText, Condition, Matcher, compile_rules
from monitor.models import ActorSpec, RuleSet, RuleSpec, TermSpec

ACTORS = (
    ActorSpec("armenia", "country", (TermSpec("Armenia"), TermSpec("Yerevan"))),
    ActorSpec("azerbaijan", "country", (TermSpec("Azerbaijan"), TermSpec("Baku"))),
)
PEACE = '"peace treaty" AND @armenia AND NOT football'


def matcher(query: str) -> Matcher:
    return compile_rules(RuleSet(actors=ACTORS, rules=(RuleSpec("r", query=query),)))


def tree(condition: Condition) -> list[str]:
    """The condition's lines as test-rule prints them: a mark, indented by depth."""
    return [
        "  " * depth + ("ok " if part.held else "FAIL ") + part.line
        for depth, part in condition.tree()
    ]


def explain(query: str, title: str, content: str = "") -> list[str]:
    explanation = matcher(query).explain(
        ArticleText(title=title, content=content), "r", feed_id="f"
    )
    [condition] = explanation.conditions
    assert condition.name == "query" and not condition.is_part
    assert explanation.matched is condition.held
    return tree(condition)


def test_a_matching_query_marks_its_not_as_held() -> None:
    assert explain(PEACE, "Peace treaty signed", "in Yerevan") == [
        f"ok query: {PEACE} holds",
        '  ok "peace treaty" found in title',
        "  ok @armenia found in content (Yerevan)",
        "  ok NOT football: football not found",
    ]


def test_an_excluded_text_fails_on_its_not() -> None:
    assert explain(PEACE, "Peace treaty football", "in Yerevan") == [
        f"FAIL query: {PEACE} does not hold",
        '  ok "peace treaty" found in title',
        "  ok @armenia found in content (Yerevan)",
        "  FAIL NOT football: football found in title",
    ]


def test_nested_groups_get_their_own_lines() -> None:
    query = '("peace treaty" OR "peace deal") AND (@armenia NEAR/3 @azerbaijan)'
    assert explain(query, "Peace deal", "Yerevan and then Baku") == [
        'ok query: ("peace treaty" OR "peace deal") AND @armenia NEAR/3 @azerbaijan holds',
        '  ok "peace treaty" OR "peace deal" holds',
        '    FAIL "peace treaty" not found',
        '    ok "peace deal" found in title',
        "  ok @armenia NEAR/3 @azerbaijan holds in content",
        "    ok @armenia found in content (Yerevan)",
        "    ok @azerbaijan found in content (Baku)",
    ]


def test_under_a_not_a_part_holds_when_its_expression_does_not() -> None:
    query = "treaty AND NOT (football OR chess)"
    assert explain(query, "treaty", "chess club") == [
        f"FAIL query: {query} does not hold",
        "  ok treaty found in title",
        "  FAIL NOT (football OR chess): football OR chess holds",
        "    ok football not found",
        "    FAIL chess found in content",
    ]
    assert explain(query, "treaty") == [
        f"ok query: {query} holds",
        "  ok treaty found in title",
        "  ok NOT (football OR chess): football OR chess does not hold",
        "    ok football not found",
        "    ok chess not found",
    ]


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        ("Yerevan, then three more words, Baku", "not within 1 word of each other"),
        ("Yerevan alone", "does not hold"),
    ],
    ids=["too-far", "one-side-missing"],
)
def test_a_near_says_why_it_fails(content: str, detail: str) -> None:
    lines = explain("@armenia NEAR/1 @azerbaijan", "t", content)
    assert lines[0].startswith("FAIL query: @armenia NEAR/1 @azerbaijan")
    assert lines[0].endswith(detail)


def test_a_doubled_not_flips_back() -> None:
    assert explain("treaty AND NOT (NOT Baku)", "treaty", "Baku")[-1] == (
        "  ok NOT (NOT Baku): NOT Baku: Baku found in content"
    )
