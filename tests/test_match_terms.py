"""Terms: whole words, phrases, prefixes, case, regular expressions, other scripts."""

from __future__ import annotations

import pytest

from monitor.match import ArticleText, RuleError, compile_rules, term_problem
from monitor.match.terms import Literal, Regex, compile_term
from monitor.models import RuleSet, RuleSpec, TermLists, TermSpec


@pytest.mark.parametrize(
    ("text", "case_sensitive", "key", "prefix"),
    [
        ("Iran", False, " iran ", False),
        ("  Peace-Treaty ", False, " peace treaty ", False),
        ("normaliz*", False, " normaliz", True),
        ("Армени*", False, " армени", True),
        ("Türkiye", False, " turkiye ", False),
        ("US", True, " US ", False),
        ("中国", False, "中国", False),
        ("北京 Olympics", False, "北京 olympics ", False),
    ],
    ids=["word", "phrase", "prefix", "cyrillic-prefix", "accent", "case", "cjk", "cjk-then-latin"],
)
def test_literal_keys(text: str, case_sensitive: bool, key: str, prefix: bool) -> None:
    literal = compile_term(TermSpec(text, case_sensitive))
    assert literal == Literal(key, case_sensitive, prefix)


def test_regex_term_compiles_with_re2() -> None:
    regex = compile_term(TermSpec(r"re:\bU\.S\."))
    assert isinstance(regex, Regex)
    assert regex.finditer("The U.S. and the US, or u.s.") == [(4, 8), (24, 28)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("--", '"--" has no letters or digits: it would match nothing'),
        ("*", '"*" has no letters or digits: it would match nothing'),
        ("*ism", '"*" only works at the end'),
        ("peace*treaty", '"*" only works at the end'),
        ("re:", '"re:" is an empty regular expression'),
        (r"re:(a)\1", r'"re:(a)\1" is not a regular expression RE2 accepts'),
        ("re:(?=peace)", '"re:(?=peace)" is not a regular expression RE2 accepts'),
        ("re:(?<!a)b", "is not a regular expression RE2 accepts"),
        ("re:(unclosed", "missing )"),
    ],
    ids=[
        "punctuation",
        "star",
        "suffix",
        "inner-star",
        "empty-regex",
        "backreference",
        "lookahead",
        "lookbehind",
        "unbalanced",
    ],
)
def test_invalid_terms(text: str, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        compile_term(TermSpec(text))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("term", "problem"),
    [
        ("Armenia", None),
        ("peace treaty", None),
        ("normaliz*", None),
        ("Армени*", None),
        ("re:\\bH5N1\\b", None),
        ("C++", None),
        ("...", "has no letters or digits: it would match nothing"),
        ("ab*", 'is too short a prefix: give at least 3 letters before "*"'),
        ("*peace", 'has "*" inside: "*" only works at the end of a term, where it makes a prefix'),
        ("re:  ", "is an empty regular expression"),
    ],
    ids=str,
)
def test_term_problem(term: str, problem: str | None) -> None:
    assert term_problem(term) == problem


def test_a_term_checked_for_config_is_compiled_once() -> None:
    text = r"re:\bH5N[0-9]\b"
    assert term_problem(text) is None
    first = compile_term(TermSpec(text))
    assert isinstance(first, Regex)
    assert compile_term(TermSpec(text)).compiled is first.compiled  # RE2 ran once


def found(term: TermSpec, text: str) -> bool:
    """Whether a rule with the single keyword `term` matches an article whose content is text."""
    rules = RuleSet(rules=(RuleSpec("r", keywords=TermLists(any=(term,))),))
    return bool(compile_rules(rules).match(ArticleText(content=text), feed_id="f"))


TERM_CASES = [
    # whole words
    ("Iran", False, "Talks in Iran today", True, "word"),
    ("Iran", False, "Tirana is the capital of Albania", False, "iran-in-tirana"),
    ("Russia", False, "the history of Prussia", False, "russia-in-prussia"),
    ("Russia", False, "Russia's ambassador", True, "possessive"),
    ("Armenia", False, "Armenia’s security", True, "curly-possessive"),
    ("Armenia", False, "ARMENIA", True, "upper-case"),
    ("Armenia", False, "Armenian partners", False, "longer-word"),
    ("Armenia", False, "(Armenia)", True, "parenthesised"),
    ("Baku", False, "Baku-based", True, "hyphenated"),
    # case
    ("US", True, "the US said", True, "case-sensitive-hit"),
    ("US", True, "let us say", False, "us-is-not-US"),
    ("US", True, "the Us said", False, "mixed-case-miss"),
    ("us", False, "the US said", True, "insensitive-hits-upper"),
    # phrases
    ("peace treaty", False, "a peace-treaty was signed", True, "phrase-hyphen"),
    ("peace treaty", False, "a peace\ntreaty was signed", True, "phrase-newline"),
    ("peace treaty", False, "a Peace  Treaty", True, "phrase-spaces-case"),
    ("peace treaty", False, "peace, treaty", True, "phrase-punctuation"),
    ("peace treaty", False, "peace and treaty", False, "phrase-word-between"),
    ("peace treaty", False, "peace treaty's", True, "phrase-possessive"),
    ("peace treaty", False, "peace treatys", False, "phrase-longer"),
    # prefixes
    ("normaliz*", False, "normalization of relations", True, "prefix"),
    ("normaliz*", False, "to normalize", True, "prefix-exact-stem"),
    ("normaliz*", False, "renormalization", False, "prefix-left-boundary"),
    ("Армени*", False, "Армения", True, "cyrillic-nominative"),
    ("Армени*", False, "в Армении", True, "cyrillic-locative"),
    ("Армени*", False, "с Арменией", True, "cyrillic-instrumental"),
    ("Армени*", False, "армяне", False, "cyrillic-other-stem"),
    ("Россия", False, "Россиянин", False, "cyrillic-whole-word"),
    ("Москва", False, "МОСКВА", True, "cyrillic-case"),
    # accents and scripts
    ("Türkiye", False, "Turkiye", True, "accent-folded-term"),
    ("Turkiye", False, "TÜRKİYE", True, "accent-folded-text"),
    ("Ёлка", False, "елка", True, "yo-folded"),
    ("中国", False, "中华人民共和国和中国的关系", True, "cjk-substring"),
    ("中国", False, "美国", False, "cjk-miss"),
    ("Ελλάδα", False, "ΕΛΛΑΔΑ", True, "greek"),
    # regular expressions: on the text before normalisation
    (r"re:\bU\.S\.", False, "the U.S. said", True, "regex-punctuation"),
    (r"re:\bU\.S\.", False, "the US said", False, "regex-needs-dots"),
    ("re:peace\\s+treaty", False, "PEACE Treaty", True, "regex-case-insensitive"),
    ("re:peace\\s+treaty", True, "PEACE Treaty", False, "regex-case-sensitive"),
    (r"re:\d{4}-\d{4}", False, "the 2020-2022 agreements", True, "regex-digits"),
    (r"re:Москв\pL*", False, "в Москве", True, "regex-cyrillic"),
]


@pytest.mark.parametrize(
    ("term", "case_sensitive", "text", "expected"),
    [case[:4] for case in TERM_CASES],
    ids=[case[4] for case in TERM_CASES],
)
def test_term_matching(term: str, case_sensitive: bool, text: str, expected: bool) -> None:
    assert found(TermSpec(term, case_sensitive), text) is expected
