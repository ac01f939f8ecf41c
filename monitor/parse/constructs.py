"""feedparser's handlers for text constructs (title, description, summary, content): their
content type and language, and which of summary and content a description fills. `FeedReader`
(feed_reader.py) adds the other elements' handlers."""

from __future__ import annotations

from monitor.parse.values import Node
from monitor.parse.walk import MARKUP_ELEMENTS, TEXT_TYPES, Decline, ElementWalk, Handler

CONTENT_TYPE_NAMES = {
    "text": "text/plain",
    "plain": "text/plain",
    "html": "text/html",
    "xhtml": "application/xhtml+xml",
}


class TextConstructs(ElementWalk):
    """feedparser's `_start_*`/`_end_*` for text constructs, and its `push_content`."""

    def _push_content(self, tag: str, attrs: Node, default_type: str, expecting: int) -> None:
        self.incontent += 1
        if self.lang:
            self.lang = self.lang.replace("_", "-")
        content_type = content_type_name(attrs["type"]) if "type" in attrs else default_type
        if tag in MARKUP_ELEMENTS and (content_type not in TEXT_TYPES or "mode" in attrs):
            raise Decline(f"{content_type} content")  # xhtml, base64, ...
        self.contentparams = {"type": content_type, "language": self.lang, "base": self.base}
        self.stack.append((tag, bool(expecting), []))

    def _pop_content(self, tag: str) -> str | None:
        value = self._pop(tag)
        self.incontent -= 1
        self.contentparams.clear()
        return value

    def _start_title(self, attrs: Node) -> None:
        self._push_content(
            "title", attrs, "text/plain", self.infeed or self.inentry or self.insource
        )

    def _end_title(self) -> None:
        if self._pop_content("title"):
            self.title_depth = self.depth

    def _end_media_title(self) -> None:
        title_depth = self.title_depth
        self._end_title()
        self.title_depth = title_depth

    def _start_description(self, attrs: Node) -> None:
        if "summary" in self._context() and not self.has_content:
            self.summary_key = "content"
            self._start_content(attrs)
        else:
            self._push_content(
                "description", attrs, "text/html", self.infeed or self.inentry or self.insource
            )

    def _start_abstract(self, attrs: Node) -> None:
        self._push_content(
            "description", attrs, "text/plain", self.infeed or self.inentry or self.insource
        )

    def _end_description(self) -> None:
        if self.summary_key == "content":
            self._end_content()
        else:
            self._pop_content("description")
        self.summary_key = None

    def _start_summary(self, attrs: Node) -> None:
        if "summary" in self._context() and not self.has_content:
            self.summary_key = "content"
            self._start_content(attrs)
        else:
            self.summary_key = "summary"
            self._push_content("summary", attrs, "text/plain", 1)

    def _end_summary(self) -> None:
        if self.summary_key == "content":
            self._end_content()
        else:
            self._pop_content(self.summary_key or "summary")
        self.summary_key = None

    def _start_content(self, attrs: Node) -> None:
        self.has_content = 1
        self._push_content("content", attrs, "text/plain", 1)
        if attrs.get("src"):
            self.contentparams["src"] = attrs["src"]
        self._push("content", 1)  # feedparser pushes twice; the first entry stays behind

    def _start_content_encoded(self, attrs: Node) -> None:
        self.has_content = 1
        self._push_content("content", attrs, "text/html", 1)

    def _end_content(self) -> None:
        content_type = self.contentparams.get("type")
        if content_type is None:
            raise Decline("content end without content")
        value = self._pop_content("content")
        if content_type in TEXT_TYPES:
            self._save("summary", value)


def content_type_name(value: str) -> str:
    """feedparser's `map_content_type` ("html" is text/html, ...)."""
    lower = value.lower()
    return CONTENT_TYPE_NAMES.get(lower, lower)


def content_of(tag: str, default_type: str) -> Handler:
    return lambda r, attrs: r._push_content(tag, attrs, default_type, 1)
