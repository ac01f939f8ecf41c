"""The query language: parsing, precedence, errors with columns, and what queries match."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ConfigErrors
from monitor.match import ArticleText, RuleError, compile_rules, parse_query
from monitor.match.query import (
    UNRESOLVED,
    ActorRef,
    And,
    Near,
    Not,
    Or,
    QueryNode,
    Term,
    render,
    resolve,
    walk,
)
from monitor.models import ActorSpec, RuleSet, RuleSpec, SourceRef, TermLists, TermSpec


def t(text: str, column: int, quoted: bool = False) -> Term:
    return Term(text, column, quoted)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("peace", t("peace", 1)),
        ('"peace treaty"', t("peace treaty", 1, True)),
        ("normaliz*", t("normaliz*", 1)),
        ("@armenia", ActorRef("armenia", 1)),
        ("a AND b", And((t("a", 1), t("b", 7)))),
        ("a OR b AND c", Or((t("a", 1), And((t("b", 6), t("c", 12)))))),
        ("(a OR b) AND c", And((Or((t("a", 2), t("b", 7))), t("c", 14)))),
        ("NOT a AND b", And((Not(t("a", 5), 1), t("b", 11)))),
        ("a AND NOT NOT b", And((t("a", 1), Not(Not(t("b", 15), 11), 7)))),
        ("a NEAR/3 b AND c", And((Near(t("a", 1), t("b", 10), 3, 3), t("c", 16)))),
        ("a OR b NEAR/2 c", Or((t("a", 1), Near(t("b", 6), t("c", 15), 2, 8)))),
        (
            '"peace treaty" NEAR/5 @armenia',
            Near(t("peace treaty", 1, True), ActorRef("armenia", 23), 5, 16),
        ),
        ("(a OR b) NEAR/4 c", Near(Or((t("a", 2), t("b", 7))), t("c", 17), 4, 10)),
        ("a NEAR/1 b NEAR/2 c", Near(Near(t("a", 1), t("b", 10), 1, 3), t("c", 19), 2, 12)),
        ("“peace treaty” OR x", Or((t("peace treaty", 1, True), t("x", 19)))),
        ("a  AND\n b", And((t("a", 1), t("b", 9)))),
    ],
    ids=[
        "word",
        "phrase",
        "prefix",
        "actor",
        "and",
        "and-binds-tighter-than-or",
        "parentheses",
        "not-binds-tightest",
        "double-not",
        "near-binds-tighter-than-and",
        "near-under-or",
        "design-example",
        "or-group-under-near",
        "near-chain",
        "typographic-quotes",
        "newlines",
    ],
)
def test_parse(query: str, tree: QueryNode) -> None:
    assert parse_query(query) == tree


@pytest.mark.parametrize(
    ("query", "message", "column"),
    [
        ("(peace AND treaty", "unbalanced parenthesis at column 1", 1),
        ("peace AND (treaty OR (deal)", "unbalanced parenthesis at column 11", 11),
        ("peace) AND treaty", "unbalanced parenthesis at column 6", 6),
        ("(a OR b)) AND c", "unbalanced parenthesis at column 9", 9),
        ('"peace treaty AND x', "unterminated quote at column 1", 1),
        ('x AND ""', "empty phrase at column 7", 7),
        ("peace treaty", 'missing operator between "peace" and "treaty" at column 7', 7),
        ("peace and treaty", "(operators are written in capitals)", 7),
        ("(a OR b) c", "missing operator", 10),
        ("AND peace", "expected a term, phrase, @actor or ( before AND at column 1", 1),
        ("peace AND", "before the end of the query at column 10", 10),
        ("peace OR OR war", "before OR at column 10", 10),
        ("a NEAR b", "NEAR needs a distance, like NEAR/5, at column 3", 3),
        ("a NEAR/x b", "NEAR needs a distance", 3),
        ("a NEAR/3 NOT b", "NEAR at column 3 joins terms", 3),
        ("(a AND b) NEAR/3 c", "NEAR at column 11 joins terms", 11),
        ("a AND @", "expected an actor id after @ at column 7", 7),
        ("re:pea.e", "regular expressions are not supported in a query (column 1)", 1),
        ("peace AND -football", "use NOT to exclude a term", 11),
        ("", "empty query", 1),
        ("   ", "empty query", 1),
        ("()", "empty parentheses at column 1", 1),
    ],
    ids=[
        "unclosed-paren",
        "unclosed-inner-paren",
        "extra-close-paren",
        "extra-close-after-group",
        "unterminated-quote",
        "empty-phrase",
        "implicit-and",
        "lower-case-operator",
        "implicit-and-after-group",
        "leading-operator",
        "trailing-operator",
        "double-operator",
        "near-without-distance",
        "near-bad-distance",
        "near-not",
        "near-and",
        "bare-at",
        "regex",
        "minus",
        "empty",
        "blank",
        "empty-parens",
    ],
)
def test_parse_errors(query: str, message: str, column: int) -> None:
    with pytest.raises(RuleError) as caught:
        parse_query(query)
    assert message in caught.value.message
    assert caught.value.column == column


_WORDS = st.sampled_from(["peace", "treaty", "normaliz*", "Баку", "中国", "AT&T"])


def _trees() -> st.SearchStrategy[QueryNode]:
    atoms = st.one_of(
        st.builds(Term, _WORDS, st.just(0), st.booleans()),
        st.builds(ActorRef, st.sampled_from(["armenia", "russia-1"]), st.just(0)),
    )

    def extend(children: st.SearchStrategy[QueryNode]) -> st.SearchStrategy[QueryNode]:
        pairs = st.tuples(children, children)
        return st.one_of(
            st.builds(lambda c: Not(c, 0), children),
            st.builds(And, pairs),
            st.builds(Or, pairs),
        )

    return st.recursive(atoms, extend, max_leaves=6)


def _without_columns(node: QueryNode) -> QueryNode:
    if isinstance(node, Term):
        return Term(node.text, 0, node.quoted or " " in node.text)
    if isinstance(node, ActorRef):
        return ActorRef(node.id, 0)
    if isinstance(node, Not):
        return Not(_without_columns(node.operand), 0)
    if isinstance(node, Near):
        return Near(_without_columns(node.left), _without_columns(node.right), node.distance, 0)
    children = tuple(_without_columns(child) for child in node.operands)
    return And(children) if isinstance(node, And) else Or(children)


@given(_trees())
def test_render_then_parse_gives_the_same_tree(tree: QueryNode) -> None:
    assert _without_columns(parse_query(render(tree))) == _without_columns(tree)


# ---- what queries match -----------------------------------------------------------------------
ACTORS = (
    ActorSpec(
        "armenia", "country", (TermSpec("Armenia"), TermSpec("Yerevan"), TermSpec("Armenian"))
    ),
    ActorSpec("azerbaijan", "country", (TermSpec("Azerbaijan"), TermSpec("Baku"))),
)


def query_matches(query: str, text: str) -> bool:
    rules = RuleSet(actors=ACTORS, rules=(RuleSpec("q", query=query),))
    return bool(compile_rules(rules).match(ArticleText(content=text), feed_id="f"))


QUERY_CASES = [
    ("peace AND treaty", "peace and a treaty", True, "and"),
    ("peace AND treaty", "peace alone", False, "and-missing"),
    ("peace OR war", "only war here", True, "or"),
    ("NOT football", "a treaty", True, "not-alone-matches-without"),
    ("NOT football", "a football match", False, "not-alone-excludes"),
    ('"peace treaty" AND NOT football', "peace treaty and football", False, "and-not"),
    ("(peace OR truce) AND @armenia", "truce in Yerevan", True, "group-and-actor"),
    ("(peace OR truce) AND @armenia", "truce in Baku", False, "group-actor-missing"),
    ('"peace treaty" NEAR/5 @armenia', "the peace treaty with Armenia", True, "near-after"),
    ('"peace treaty" NEAR/5 @armenia', "Armenia wants a peace treaty", True, "near-before"),
    (
        '"peace treaty" NEAR/2 @armenia',
        "Armenia wants a fair and lasting peace treaty",
        False,
        "near-out-of-range",
    ),
    ("peace NEAR/0 treaty", "peace treaty", True, "near-zero-adjacent"),
    ("peace NEAR/0 treaty", "treaty, peace", True, "near-zero-either-order"),
    ("peace NEAR/0 treaty", "peace and treaty", False, "near-zero-one-between"),
    ("peace NEAR/1 treaty", "peace and treaty", True, "near-one-one-between"),
    ("peace NEAR/1 treaty", "peace and a treaty", False, "near-one-two-between"),
    ("(peace OR truce) NEAR/2 @azerbaijan", "a truce with Baku", True, "near-or-group"),
    (
        "peace NEAR/3 treaty",
        "peace. New paragraph about a treaty",
        False,
        "near-counts-words-not-chars",
    ),
    ("peace NEAR/1 treaty NEAR/1 Baku", "peace treaty in Baku", True, "near-chain"),
    (
        "peace NEAR/1 treaty NEAR/1 Baku",
        "peace treaty signed far away in Baku",
        False,
        "near-chain-far",
    ),
    ("normaliz* NEAR/2 relations", "normalization of relations", True, "near-prefix"),
    ('"peace treaty" NEAR/3 treaty', "peace treaty", True, "near-overlapping"),
]


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [case[:3] for case in QUERY_CASES],
    ids=[case[3] for case in QUERY_CASES],
)
def test_query_matching(query: str, text: str, expected: bool) -> None:
    assert query_matches(query, text) is expected


def test_near_needs_both_sides_in_the_same_field() -> None:
    rules = RuleSet(rules=(RuleSpec("q", query="peace NEAR/3 treaty"),))
    matcher = compile_rules(rules)
    split = ArticleText(title="peace", content="treaty")
    assert matcher.match(split, feed_id="f") == []
    assert matcher.match(ArticleText(title="peace treaty"), feed_id="f") != []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("peace AND (treaty", "unbalanced parenthesis at column 11"),
        ("@armenia AND @georgia", 'unknown actor "@georgia" at column 14'),
        ('peace AND "--"', '"--" has no letters or digits: it would match nothing at column 11'),
        (
            "peace AND pe*",
            '"pe*" is too short a prefix: give at least 3 letters before "*" at column 11',
        ),
    ],
    ids=["syntax", "unknown-actor", "empty-term", "short-prefix"],
)
def test_query_errors_name_file_line_field_and_column(query: str, message: str) -> None:
    where = SourceRef("rules/watch.yaml", 10)
    first = RuleSpec("first", keywords=_any("peace"), where=SourceRef("rules/watch.yaml", 3))
    rule = RuleSpec(
        "second", query=query, where=where, query_where=SourceRef("rules/watch.yaml", 12)
    )
    with pytest.raises(ConfigErrors) as caught:
        compile_rules(RuleSet(actors=ACTORS, rules=(first, rule)))
    (error,) = caught.value.errors
    assert (error.path, error.line, error.field) == ("rules/watch.yaml", 12, "rules[1].query")
    assert message in error.message
    assert str(error) == f"rules/watch.yaml:12: rules[1].query: {error.message}"


def _any(*terms: str) -> TermLists:
    return TermLists(any=tuple(TermSpec(term) for term in terms))


# ---- one tree: the parsed query is the one compiled and evaluated -------------------------------
WALKED = 'peace AND NOT (war OR @azerbaijan) AND "peace treaty" NEAR/2 @armenia'


def test_walk_gives_every_leaf_in_order_with_whether_it_is_under_a_not() -> None:
    leaves = [(render(node), negated) for node, negated in walk(parse_query(WALKED))]
    assert [leaf for leaf in leaves if leaf[0] in ("peace", "war", "@azerbaijan")] == [
        ("peace", False),
        ("war", True),
        ("@azerbaijan", True),
    ]
    assert ('"peace treaty"', False) in leaves and ("@armenia", False) in leaves
    assert leaves[0] == (render(parse_query(WALKED)), False)  # the root first


def test_compiling_gives_the_parsed_tree_its_refs() -> None:
    matcher = compile_rules(RuleSet(actors=ACTORS, rules=(RuleSpec("r", query=WALKED),)))
    compiled = matcher._compiled.rules[0].query
    assert compiled is not None

    leaves = [node for node, _ in walk(compiled) if isinstance(node, Term | ActorRef)]
    assert len(leaves) == 5
    assert all(
        (node.ref if isinstance(node, Term) else node.actor) != UNRESOLVED for node in leaves
    )
    unresolved = resolve(compiled, lambda leaf: replace(leaf, **{_REF[type(leaf)]: UNRESOLVED}))
    assert unresolved == parse_query(WALKED)


_REF = {Term: "ref", ActorRef: "actor"}
