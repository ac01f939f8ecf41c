"""Text normalisation shared by rule terms and articles, with a map back to the original offsets.

Each character is folded on its own: NFKC, casefolded (unless case is kept), accents dropped
(Türkiye = Turkiye; also й = и and ё = е in Cyrillic, harmless as both sides fold alike); any
character that is not a letter, digit or kept mark is a separator and every run of separators is
one space. A normalised text starts and ends with a space, so a whole word is always between two.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable
from functools import cache
from itertools import accumulate, compress, repeat
from operator import add

__all__ = [
    "NormalizedText",
    "fold",
    "is_unspaced",
    "normalize",
    "snippet",
    "strip_html",
    "surface",
]

SEPARATOR = " "
MARK = "\x00"  # what an accent folds to on its own: removed before matching
_SEPARATORS = re.compile(" +")
SNIPPET_WIDTH = 80
ELLIPSIS = "…"

# Combining marks that carry accents or vowel points and are dropped: generic diacritics (Latin,
# Greek, Cyrillic), Cyrillic titlo, Hebrew points and Arabic harakat. Other marks (Indic vowel
# signs, viramas, Thai vowels) are part of the word and are kept.
_STRIPPED_MARKS = (
    (0x0300, 0x036F),
    (0x0483, 0x0489),
    (0x0591, 0x05BD),
    (0x05BF, 0x05BF),
    (0x05C1, 0x05C2),
    (0x05C4, 0x05C5),
    (0x05C7, 0x05C7),
    (0x0610, 0x061A),
    (0x064B, 0x065F),
    (0x0670, 0x0670),
    (0x06D6, 0x06DC),
    (0x06DF, 0x06E4),
    (0x06E7, 0x06E8),
    (0x06EA, 0x06ED),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)

# Scripts written without spaces between words: a term in them matches inside a longer run.
_UNSPACED = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul compatibility Jamo
    (0x31F0, 0x31FF),  # Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables (particles attach to the noun)
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)


def _in_ranges(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code <= high for low, high in ranges)


def is_unspaced(char: str) -> bool:
    """True for a character of a script written without spaces (Chinese, Japanese, Thai, ...)."""
    return _in_ranges(ord(char), _UNSPACED)


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM"


def _strip_marks(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(ch for ch in decomposed if not _in_ranges(ord(ch), _STRIPPED_MARKS))
    if len(kept) == len(decomposed):
        return text  # nothing to drop: keep the composed form (Hangul syllables stay whole)
    return unicodedata.normalize("NFC", kept)


def _words_only(text: str) -> str:
    """Non-word characters replaced by one separator per run (a run collapses anyway later)."""
    return _SEPARATORS.sub(
        SEPARATOR, "".join(ch if _is_word_char(ch) else SEPARATOR for ch in text)
    )


def _shape(text: str) -> tuple[bool, bool, bool, int]:
    return (text == "", text[:1] == SEPARATOR, text[-1:] == SEPARATOR, len(text.split()))


@cache
def _fold_char(code: int) -> tuple[str, str]:
    """The folded (casefolded) and case-kept forms of one character.

    A character that folds to nothing (an accent on its own) gives MARK, removed before
    separators are collapsed, so that a translated text is as long as its source whenever no
    character folds to several (ß -> ss, ﬁ -> fi), which keeps `_OffsetMap` simple.
    """
    kept = _strip_marks(unicodedata.normalize("NFKC", chr(code)))
    folded = _strip_marks(kept.casefold())
    kept, folded = _words_only(kept), _words_only(folded)
    if _shape(kept) != _shape(folded):
        # Both forms must split into the same words, so that word positions agree (NEAR).
        kept = folded
    return folded or MARK, kept or MARK


class _FoldTable(dict[int, str]):
    """A `str.translate` table filled on first use of each character.

    It also knows the characters seen so far that fold to several (ß -> ss) or to none (an
    accent on its own), to find them fast.
    """

    def __init__(self, *, keep_case: bool) -> None:
        super().__init__()
        self._which = 1 if keep_case else 0
        self._reshaping: set[str] = set()
        self._pattern: tuple[int, re.Pattern[str]] | None = None  # (characters covered, regex)
        for code in range(128):
            self[code] = _fold_char(code)[self._which]

    def __missing__(self, code: int) -> str:
        value = _fold_char(code)[self._which]
        if len(value) > 1 or value == MARK:
            self._reshaping.add(chr(code))
        self[code] = value
        return value

    def reshaped(self, text: str) -> list[tuple[int, int]]:
        """(index, folded length) of each character of `text` (translated with this table
        already) that folds to several characters or to none (length 0)."""
        chars = self._pattern
        if chars is None or chars[0] != len(self._reshaping):  # characters only get added
            reshaping = sorted(self._reshaping)
            if not reshaping:
                return []
            chars = self._pattern = (
                len(reshaping),
                re.compile(f"[{re.escape(''.join(reshaping))}]"),
            )
        return [(m.start(), self._length(m.group())) for m in chars[1].finditer(text)]

    def _length(self, char: str) -> int:
        folded = self[ord(char)]
        return 0 if folded == MARK else len(folded)


_FOLDED = _FoldTable(keep_case=False)
_CASED = _FoldTable(keep_case=True)


def _table(keep_case: bool) -> _FoldTable:
    return _CASED if keep_case else _FOLDED


def _collapse(translated: str) -> str:
    if MARK in translated:
        translated = translated.replace(MARK, "")
    words = translated.split()
    return f" {' '.join(words)} " if words else SEPARATOR


def fold(text: str, *, keep_case: bool = False) -> str:
    """`text` normalised, with a leading and a trailing space (a single space when it is empty).

    No HTML handling: this is the form of rule terms, and of article text once HTML is gone.
    """
    return _collapse(text.translate(_table(keep_case)))


def fold_offsets(text: str, *, keep_case: bool = False) -> tuple[str, list[int]]:
    """`fold(text)` and, for each of its characters, the index in `text` it comes from.

    A separator maps to the first character of the run it replaces; the leading space maps to 0,
    the final one to the end of the last word. Character by character: the slow, plain
    definition (`NormalizedText` maps positions faster when it can).
    """
    table = _table(keep_case)
    chars = [SEPARATOR]
    offsets = [0]
    for index, char in enumerate(text):
        for out in table[ord(char)]:
            if out != MARK and (out != SEPARATOR or chars[-1] != SEPARATOR):
                chars.append(out)
                offsets.append(index)
    if chars[-1] != SEPARATOR:
        chars.append(SEPARATOR)
        offsets.append(len(text))
    return "".join(chars), offsets


def _same_index(index: int) -> int:
    """The aligned -> source map of a text whose characters each folded to one."""
    return index


class _AlignedToSource:
    """Aligned index -> source index (`NormalizedText.aligned`, without its leading space), for
    a text where some characters folded to several (ß -> ss) or to none: by bisection on where
    each of them starts in the aligned text."""

    __slots__ = ("_expanded", "_starts", "_stops")

    def __init__(self, reshaped: list[tuple[int, int]]) -> None:
        self._starts: list[int] = []  # aligned index where a reshaped character starts
        self._stops: list[int] = []  # ... and ends (the same for one that folded to none)
        self._expanded: list[int] = []  # extra characters (fewer when negative) up to its end
        extra = 0
        for index, length in reshaped:
            self._starts.append(index + extra)
            extra += length - 1
            self._stops.append(index + extra + 1)
            self._expanded.append(extra)

    def __call__(self, translated: int) -> int:
        expansion = bisect_right(self._starts, translated) - 1
        if expansion < 0:
            return translated
        if translated < self._stops[expansion]:
            return self._stops[expansion] - self._expanded[expansion] - 1
        return translated - self._expanded[expansion]


class _OffsetMap:
    """Normalised index -> source index by bisection, built with C-level list operations.

    Normalised -> aligned (the translated text without MARK) through the start of each word in
    both, then aligned -> source through the characters that folded to several or to none. The
    word tables are built a chunk at a time, only as far into the text as the lookups go.
    """

    __slots__ = (
        "_done",
        "_lengths",
        "_next",
        "_norm_starts",
        "_to_source",
        "_translated",
        "_word_starts",
    )

    def __init__(self, unmarked: str, to_source: Callable[[int], int]) -> None:
        self._translated = unmarked
        self._to_source = to_source
        self._done = 0  # how much of `translated` the word tables cover (up to after a space)
        self._next = 1  # normalised index of the next word not yet in the tables
        self._word_starts: list[int] = []  # translated index of each word
        self._norm_starts: list[int] = []  # normalised index of each word
        self._lengths: list[int] = []

    def _extend(self, index: int) -> None:
        """Add words to the tables until they cover normalised `index` (or the whole text)."""
        text = self._translated
        while index >= self._next and self._done < len(text):
            want = self._done + max(_CHUNK, self._done, 2 * (index - self._next))
            cut = text.find(SEPARATOR, want)
            cut = len(text) if cut < 0 else cut + 1
            pieces = text[self._done : cut].split(SEPARATOR)
            starts = accumulate(map(add, map(len, pieces), repeat(1)), initial=self._done)
            lengths = list(map(len, filter(None, pieces)))
            norm_starts = list(accumulate(map(add, lengths, repeat(1)), initial=self._next))
            self._next = norm_starts.pop()
            self._word_starts += compress(starts, pieces)
            self._norm_starts += norm_starts
            self._lengths += lengths
            self._done = cut

    def __call__(self, index: int) -> int:
        if index >= self._next:
            self._extend(index)
        if index == 0 or not self._lengths:
            return 0
        word = bisect_right(self._norm_starts, index) - 1
        within = min(index - self._norm_starts[word], self._lengths[word])
        return self._to_source(self._word_starts[word] + within)


_CHUNK = 512


_HTML_ELEMENTS = (
    "a|abbr|address|article|aside|audio|b|big|blockquote|body|br|button|caption|center|cite|code|"
    "col|colgroup|dd|del|details|dfn|div|dl|dt|em|embed|figcaption|figure|font|footer|form|h[1-6]|"
    "head|header|hr|html|i|iframe|img|input|ins|kbd|label|li|link|main|mark|meta|nav|noscript|"
    "object|ol|option|p|param|picture|pre|q|s|samp|section|select|small|source|span|strike|"
    "strong|sub|summary|sup|svg|table|tbody|td|textarea|tfoot|th|thead|time|title|tr|tt|u|ul|"
    "var|video|wbr"
)
_HTML = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<(script|style)\b[^>]*>.*?(?:</\1\s*>|\Z)"
    rf"|</?(?:{_HTML_ELEMENTS})(?:\s[^<>]*)?/?>"
    r"|<![A-Za-z][^<>]*>"
    r"|(&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)",
    re.IGNORECASE | re.DOTALL,
)


def _html_replacement(match: re.Match[str]) -> str:
    entity = match.group(2)
    return html.unescape(entity) if entity else SEPARATOR


def strip_html(text: str) -> str:
    """`text` without HTML elements, comments, scripts and styles, entities decoded.

    Only known HTML element names count as tags, so that "1 < 2", "<Kopirkin>" or "AT&T" in
    plain text survive. Tags become a space (a word boundary).
    """
    if "<" not in text and "&" not in text:
        return text
    return _HTML.sub(_html_replacement, text)


class NormalizedText:
    """A text as matched: `source` (the input, HTML removed) and its normalised form `text`.

    `offsets[i]` is the index in `source` of the character `text[i]` comes from; `source_span`
    maps a span. Both are computed on first use: matching itself needs only `text`.
    """

    __slots__ = (
        "_aligned",
        "_map",
        "_offsets",
        "_to_source",
        "_translated",
        "keep_case",
        "source",
        "text",
    )

    def __init__(self, source: str, *, keep_case: bool = False) -> None:
        self.source = source
        self.keep_case = keep_case
        self._translated = source.translate(_table(keep_case))
        self.text = _collapse(self._translated)
        self._offsets: list[int] | None = None
        self._map: Callable[[int], int] | None = None
        self._aligned: str | None = None
        self._to_source: Callable[[int], int] | None = None

    @property
    def aligned(self) -> str:
        """`source` folded character by character, separators kept as they are, between two
        spaces: its character i + 1 comes from `source[aligned_source(i)]` (`source[i]` when
        `one_to_one`)."""
        if self._aligned is None:
            self._aligned = f" {self._unmarked()} "
        return self._aligned

    @property
    def one_to_one(self) -> bool:
        """Whether each character of `source` folds to exactly one character."""
        return self._aligned_to_source() is _same_index

    def aligned_source(self, index: int) -> int:
        """The index in `source` of the character `aligned[index + 1]` comes from."""
        return self._aligned_to_source()(index)

    def _unmarked(self) -> str:
        translated = self._translated
        return translated.replace(MARK, "") if MARK in translated else translated

    def _aligned_to_source(self) -> Callable[[int], int]:
        if self._to_source is None:
            translated = self._translated
            if len(translated) == len(self.source) and MARK not in translated:
                self._to_source = _same_index
            else:
                self._to_source = _AlignedToSource(_table(self.keep_case).reshaped(self.source))
        return self._to_source

    @property
    def offsets(self) -> list[int]:
        if self._offsets is None:
            text, self._offsets = fold_offsets(self.source, keep_case=self.keep_case)
            assert text == self.text, "fold and fold_offsets disagree"
        return self._offsets

    def source_index(self, index: int) -> int:
        """The index in `source` of the character `text[index]` comes from."""
        if self._map is None:
            self._map = _OffsetMap(self._unmarked(), self._aligned_to_source())
        return self._map(index)

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of `source` that the normalised span `text[start:end]` comes from."""
        first = self.source_index(start)
        return (first, first) if end <= start else (first, self.source_index(end - 1) + 1)

    def __repr__(self) -> str:
        return f"NormalizedText({self.text!r})"


def normalize(text: str, *, keep_case: bool = False) -> NormalizedText:
    """Normalise an article field or any text: HTML stripped, then folded (see the module doc)."""
    return NormalizedText(strip_html(text), keep_case=keep_case)


def surface(source: str, start: int, end: int) -> str:
    """`source[start:end]` as written, whitespace collapsed, with the accents written after its
    last letter: in decomposed text ("e" + U+0301) they fold to nothing, so no span ends
    after them."""
    while end < len(source) and _FOLDED[ord(source[end])] == MARK:
        end += 1
    return " ".join(source[start:end].split())


def snippet(source: str, start: int, end: int, width: int = SNIPPET_WIDTH) -> str:
    """About `width` characters of `source` either side of `source[start:end]`.

    Cut at word boundaries, whitespace collapsed, with an ellipsis where text was left out.
    """
    low = max(0, start - width)
    high = min(len(source), end + width)
    if low > 0 and not source[low - 1].isspace():  # the cut falls inside a word: drop it
        low = _after_first_space(source, low, start)
    if high < len(source) and not source[high].isspace():
        high = _last_space(source, end, high)
    text = " ".join(source[low:high].split())
    if _text_before(source, low):
        text = ELLIPSIS + text
    if _text_after(source, high):
        text += ELLIPSIS
    return text


def _text_before(source: str, index: int) -> bool:
    """Whether `source[:index]` has a character that is not whitespace."""
    start = 0
    while start < index and source[start].isspace():
        start += 1
    return start < index


def _text_after(source: str, index: int) -> bool:
    """Whether `source[index:]` has a character that is not whitespace."""
    end = len(source)
    while end > index and source[end - 1].isspace():
        end -= 1
    return end > index


def _after_first_space(source: str, low: int, high: int) -> int:
    """The index after the first whitespace in `source[low:high]`, else `high`."""
    if low >= high:
        return high
    if source[low].isspace():
        return low + 1
    word = source[low:high].split(None, 1)[0]
    return high if len(word) == high - low else low + len(word) + 1


def _last_space(source: str, low: int, high: int) -> int:
    """The index of the last whitespace in `source[low:high]`, else `low`."""
    if low >= high:
        return low
    if source[high - 1].isspace():
        return high - 1
    word = source[low:high].rsplit(None, 1)[-1]
    return low if len(word) == high - low else high - len(word) - 1
