"""Normalisation shared by terms and articles: folding, separators, HTML, offsets, snippets."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.match.text import fold, fold_offsets, is_unspaced, normalize, snippet, strip_html


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Türkiye", " turkiye "),
        ("TÜRKİYE", " turkiye "),
        ("Armenia's", " armenia s "),
        ("Armenia’s", " armenia s "),
        ("peace-treaty", " peace treaty "),
        ("peace\ntreaty", " peace treaty "),
        ("  Peace,  —  Treaty!  ", " peace treaty "),
        ("Straße", " strasse "),
        ("ｆｕｌｌ　ｗｉｄｔｈ", " full width "),
        ("ﬁnance", " finance "),
        ("Армения", " армения "),
        ("Ёлка и Йошкар-Ола", " елка и иошкар ола "),
        ("Ελλάδα", " ελλαδα "),
        ("ΟΔΥΣΣΕΥΣ", " οδυσσευσ "),
        ("e\u0301te\u0301", " ete "),
        ("مُحَمَّد", " محمد "),
        ("भारत सरकार", " भारत सरकार "),
        ("中国外交部", " 中国外交部 "),
        ("snake_case", " snake case "),
        ("U.S.", " u s "),
        ("2020-2022", " 2020 2022 "),
        ("½", " 1 2 "),
        ("", " "),
        ("--", " "),
        ("…", " "),
    ],
    ids=lambda value: repr(value)[:24],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded
    assert fold_offsets(text)[0] == folded


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("US and us", " US and us "),
        ("Türkiye", " Turkiye "),
        ("STRAẞE", " STRAẞE "),
        ("peace-Treaty", " peace Treaty "),
    ],
    ids=["us", "accent", "capital-sharp-s", "separator"],
)
def test_fold_keeping_case(text: str, kept: str) -> None:
    assert fold(text, keep_case=True) == kept


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello&nbsp;<b>world</b></p>", " hello world "),
        ("AT&amp;T &#8212; &#x41;BC", " at t abc "),
        ("<script>var armenia = 1;</script>Baku", " baku "),
        ("<style>p { color: red }</style>Baku", " baku "),
        ("before<!-- Armenia -->after", " before after "),
        ("line<br/>break", " line break "),
        ('<a href="https://example.org/armenia">link</a>', " link "),
        ("1 < 2 and 3 > 2", " 1 2 and 3 2 "),
        ("<Kopirkin> said", " kopirkin said "),
        ("AT&T and R&D", " at t and r d "),
    ],
    ids=[
        "tags-entities",
        "numeric-entities",
        "script",
        "style",
        "comment",
        "self-closing",
        "attributes",
        "less-than",
        "not-a-tag",
        "bare-ampersand",
    ],
)
def test_normalize_strips_html(html: str, text: str) -> None:
    assert normalize(html).text == text


def test_strip_html_leaves_plain_text_alone() -> None:
    plain = "Plain text: 5 < 6, AT&T, and <no tag here>."
    assert strip_html(plain) is plain or strip_html(plain) == plain


@pytest.mark.parametrize(
    ("char", "unspaced"),
    [
        ("中", True),
        ("の", True),
        ("ア", True),
        ("ไ", True),
        ("한", True),
        ("a", False),
        ("я", False),
    ],
    ids=["han", "hiragana", "katakana", "thai", "hangul", "latin", "cyrillic"],
)
def test_unspaced_scripts(char: str, unspaced: bool) -> None:
    assert is_unspaced(char) is unspaced


def test_offsets_map_back_to_the_source() -> None:
    source = "Türkiye’s  peace-treaty, Straße"
    normalized = normalize(source)
    assert normalized.text == " turkiye s peace treaty strasse "
    start = normalized.text.index("peace treaty")
    span = normalized.source_span(start, start + len("peace treaty"))
    assert source[span[0] : span[1]] == "peace-treaty"
    start = normalized.text.index("strasse")
    span = normalized.source_span(start, start + len("strasse"))
    assert source[span[0] : span[1]] == "Straße"
    assert normalized.offsets == fold_offsets(source)[1]
    assert [normalized.source_index(i) for i in range(len(normalized.text))] == normalized.offsets


def test_offsets_after_html_index_the_stripped_text() -> None:
    normalized = normalize("<p>Armenia&nbsp;and <b>Baku</b></p>")
    start = normalized.text.index("baku")
    begin, end = normalized.source_span(start, start + 4)
    assert normalized.source[begin:end] == "Baku"


LONG = (
    "The foreign ministers met in Almaty on Tuesday. After two days of talks the delegations "
    "agreed that the peace treaty between Armenia and Azerbaijan should be signed before the "
    "end of the year, according to a statement published by both ministries late on Wednesday."
)


@pytest.mark.parametrize(
    ("source", "term", "expected"),
    [
        ("Peace treaty signed", "Peace treaty", "Peace treaty signed"),
        (
            LONG,
            "peace treaty",
            "…in Almaty on Tuesday. After two days of talks the delegations agreed that the "
            "peace treaty between Armenia and Azerbaijan should be signed before the end of the "
            "year,…",
        ),
        ("Short\n\n  text   with\tspaces peace treaty", "peace treaty", None),
        ("x" * 200 + " peace treaty " + "y" * 200, "peace treaty", "…peace treaty…"),
    ],
    ids=["whole-text", "cut-at-words", "whitespace-collapsed", "one-long-word-each-side"],
)
def test_snippet(source: str, term: str, expected: str | None) -> None:
    start = source.index(term)
    text = snippet(source, start, start + len(term))
    if expected is None:
        assert text == "Short text with spaces peace treaty"
    else:
        assert text == expected
    assert term in text
    assert len(text) <= len(term) + 2 * 80 + 2


def test_snippet_never_starts_or_ends_inside_a_word() -> None:
    start = LONG.index("Armenia")
    text = snippet(LONG, start, start + len("Armenia"))
    body = text.strip("…")
    assert LONG.find(body) >= 0
    begin = LONG.find(body)
    assert begin == 0 or LONG[begin - 1].isspace()
    end = begin + len(body)
    assert end == len(LONG) or LONG[end].isspace()


def _plain_snippet(source: str, start: int, end: int, width: int) -> str:
    """The snippet's definition with regular expressions, written for plainness."""
    low, high = max(0, start - width), min(len(source), end + width)
    if low > 0 and not source[low - 1].isspace():
        space = re.compile(r"\s").search(source, low, start)
        low = start if space is None else space.end()
    if high < len(source) and not source[high].isspace():
        space = re.compile(r"\s\S*\Z").search(source, end, high)
        high = end if space is None else space.start()
    text = " ".join(source[low:high].split())
    before = re.compile(r"\S").search(source, 0, low)
    after = re.compile(r"\S").search(source, high)
    return ("…" if before else "") + text + ("…" if after else "")


SNIPPET_PIECES = ["a", "bc", "déf", " ", "  ", "\n", "\t", "\xa0", "\u2003", "\u200b", "\x1c", "中"]


@given(
    st.lists(st.sampled_from(SNIPPET_PIECES), min_size=1, max_size=40).map("".join),
    st.data(),
)
def test_snippet_agrees_with_its_plain_definition(source: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(source)))
    end = data.draw(st.integers(start, len(source)))
    width = data.draw(st.integers(0, 12))
    assert snippet(source, start, end, width) == _plain_snippet(source, start, end, width)
