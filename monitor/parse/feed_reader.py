"""feedparser's element handlers (`mixin.py` and `namespaces/`), for the elements that decide
Articles: `FeedReader` is `ElementWalk` with its `_start_*`/`_end_*` rules, quirks included."""

from __future__ import annotations

import re

from monitor.parse.constructs import TextConstructs, content_of, content_type_name
from monitor.parse.values import Node, joined, parsed_date
from monitor.parse.walk import (
    HTML_TYPES,
    Decline,
    Pop,
    Push,
)

RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
EMAIL = re.compile(
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)
NOTHING = Push("", False)  # a start handler that does nothing


class FeedReader(TextConstructs):
    """feedparser's `_FeedParserMixin` state machine, for the elements that decide Articles."""

    def _start_rss(self, attrs: Node) -> None:
        if not self.version or not self.version.startswith("rss"):
            declared = attrs.get("version", "")
            self.version = RSS_VERSIONS.get(declared) or (
                "rss20" if declared.startswith("2.") else "rss"
            )

    def _start_channel(self, attrs: Node) -> None:
        self.infeed = 1
        self._cdf_common(attrs)

    def _start_feed(self, attrs: Node) -> None:
        self.infeed = 1
        if not self.version:
            version = {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}
            self.version = version.get(attrs.get("version") or "", "atom")

    def _end_channel(self) -> None:
        self.infeed = 0

    @staticmethod
    def _cdf_common(attrs: Node) -> None:
        if "lastmod" in attrs or "href" in attrs:
            raise Decline("CDF attributes")

    def _start_item(self, attrs: Node) -> None:
        self.entries.append({})
        self.depths.append({})
        self.stack.append(("item", False, []))
        self.inentry = 1
        self.guidislink = False
        self.title_depth = -1
        if attrs:
            about = attrs.get(self._standard_prefix("rdf:about"))
            if about:
                self._context()["id"] = about
            self._cdf_common(attrs)

    def _standard_prefix(self, name: str) -> str:
        prefix, _, suffix = name.partition(":")
        return f"{self.namespacemap.get(prefix, prefix)}:{suffix}"

    def _end_item(self) -> None:
        self._pop("item")
        self.inentry = 0
        self.has_content = 0

    def _start_image(self, attrs: Node) -> None:
        context = self._context()
        if not self.inentry:
            context.setdefault("image", {})
        self.inimage = 1
        self.title_depth = -1
        self._push("image", 0)

    def _end_image(self) -> None:
        self._pop("image")
        self.inimage = 0

    def _start_textinput(self, attrs: Node) -> None:
        self._context().setdefault("textinput", {})
        self.intextinput = 1
        self.title_depth = -1
        self._push("textinput", 0)

    def _end_textinput(self) -> None:
        self._pop("textinput")
        self.intextinput = 0

    def _start_author(self, attrs: Node) -> None:
        self.inauthor = 1
        self._push("author", 1)
        self._context().setdefault("authors", []).append({})

    def _end_author(self) -> None:
        self._pop("author")
        self.inauthor = 0
        self._sync_author_detail()

    def _start_contributor(self, attrs: Node) -> None:
        self.incontributor = 1
        self._push("contributor", 0)

    def _end_contributor(self) -> None:
        self._pop("contributor")
        self.incontributor = 0

    def _start_dc_contributor(self, attrs: Node) -> None:
        self.incontributor = 1
        self._push("name", 0)

    def _end_dc_contributor(self) -> None:
        self._end_name()
        self.incontributor = 0

    def _start_owner(self, attrs: Node) -> None:
        self.inpublisher = 1
        self._push("publisher", 0)

    def _end_owner(self) -> None:
        self._pop("publisher")
        self.inpublisher = 0

    def _end_name(self) -> None:
        value = self._pop("name")
        if self.inpublisher:
            self._save_author("name", value, "publisher")
        elif self.inauthor:
            self._save_author("name", value)
        elif self.intextinput:
            self._context()["name"] = value

    def _end_email(self) -> None:
        value = self._pop("email")
        if self.inpublisher:
            self._save_author("email", value, "publisher")
        elif self.inauthor:
            self._save_author("email", value)

    def _end_url(self) -> None:
        value = self._pop("href")
        if self.inauthor:
            self._save_author("href", value)

    def _save_author(self, key: str, value: str | None, prefix: str = "author") -> None:
        context = self._context()
        context.setdefault(prefix + "_detail", {})[key] = value
        self._sync_author_detail()
        context.setdefault("authors", [{}])[-1][key] = value

    def _sync_author_detail(self) -> None:
        """feedparser's: "Name (email)" from the last author, or name and email from the text."""
        context = self._context()
        detail: Node = context.get("authors", [{}])[-1]
        if detail:
            name, email = detail.get("name"), detail.get("email")
            if name and email:
                context["author"] = f"{name} ({email})"
            elif name or email:
                context["author"] = name or email
            return
        author = context.get("author")
        if not author:
            return
        found = EMAIL.search(author)
        email = None
        if found:
            email = found.group(0)
            author = author.replace(email, "").replace("()", "").replace("<>", "")
            author = author.replace("&lt;&gt;", "").strip()
            if author and author[0] == "(":
                author = author[1:]
            if author and author[-1] == ")":
                author = author[:-1]
            author = author.strip()
        if author or email:
            context.setdefault("author_detail", detail)
        if author:
            detail["name"] = author
        if email:
            detail["email"] = email

    def _start_link(self, attrs: Node) -> None:
        if not attrs:  # RSS: the link is the text (what follows with rel and type defaulted)
            context = self._context()
            if not (self.inentry and self.inimage):
                context["_links"] = context.get("_links", 0) + 1
            self.stack.append(("link", bool(self.infeed or self.inentry or self.insource), []))
            return
        attrs = dict(attrs)
        attrs.setdefault("rel", "alternate")
        attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self" else "text/html")
        context = self._context()
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if href:
            attrs["href"] = href
        if "href" in attrs:
            attrs["href"] = joined(self.base or "", attrs["href"])
        if not (self.inentry and self.inimage):
            context["_links"] = context.get("_links", 0) + 1
        if "href" not in attrs:
            self._push("link", self.infeed or self.inentry or self.insource)
        elif attrs["rel"] == "alternate" and (content_type_name(attrs["type"]) in HTML_TYPES):
            context["link"] = attrs["href"]

    def _start_guid(self, attrs: Node) -> None:
        self.guidislink = attrs.get("ispermalink", "true") == "true"
        self.stack.append(("id", True, []))

    def _end_guid(self) -> None:
        value = self._pop("id")
        self._save("guidislink", self.guidislink and "link" not in self._context())
        if self.guidislink:
            self._save("link", value)

    def _end_language(self) -> None:
        self.lang = self._pop("language")

    def _end_date(self, name: str, parsed: str) -> None:
        value = self._pop(name)
        context = self._context()
        if self.inentry and context is self.entries[-1]:  # feed-level dates are not read
            context[parsed] = parsed_date(value) if value else None

    def _start_category(self, attrs: Node) -> None:
        scheme = attrs.get("scheme", attrs.get("domain"))
        self._add_tag(attrs.get("term"), scheme, attrs.get("label"))
        self._push("category", 1)

    def _start_media_category(self, attrs: Node) -> None:
        attrs.setdefault("scheme", "http://search.yahoo.com/mrss/category_schema")
        self._start_category(attrs)

    def _start_itunes_category(self, attrs: Node) -> None:
        self._add_tag(attrs.get("text"), "http://www.itunes.com/", None)
        self._push("category", 1)

    def _end_category(self) -> None:
        value = self._pop("category")
        if not value:
            return
        tags = self._context().get("tags")
        if tags is None:
            raise Decline("category end without tags")
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            self._add_tag(value, None, None)

    def _end_keywords(self, element: str, scheme: str | None) -> None:
        value = self._pop(element)
        if value is None:  # feedparser's AttributeError, swallowed
            return
        for term in value.split(","):
            if term.strip() or element == "tags":
                self._add_tag(term.strip(), scheme, None)

    def _add_tag(self, term: str | None, scheme: str | None, label: str | None) -> None:
        tags = self._context().setdefault("tags", [])
        if not term and not scheme and not label:
            return
        value = {"term": term, "scheme": scheme, "label": label}
        if value not in tags:
            tags.append(value)

    def _start_enclosure(self, attrs: Node) -> None:
        context = self._context()
        context["_links"] = context.get("_links", 0) + 1

    def _start_source(self, attrs: Node) -> None:
        self._push("source", 1)
        self.insource = 1
        self.title_depth = -1

    def _end_source(self) -> None:
        self.insource = 0
        self._pop("source")
        self._context()["source"] = dict(self.sourcedata)
        self.sourcedata.clear()

    def _end_number(self, element: str) -> None:
        if self._pop(element) is None:
            raise Decline("feedparser fails on int(None)")

    def _start_itunes_image(self, attrs: Node) -> None:
        self._push("itunes_image", 0)
        if attrs.get("href") or attrs.get("url"):
            self._context()["image"] = {"href": attrs.get("href") or attrs.get("url")}


# feedparser's handlers by name (without _start_/_end_).
FeedReader.set_handlers(
    [
        ("rss", FeedReader._start_rss, None),
        ("channel", FeedReader._start_channel, FeedReader._end_channel),
        ("feed", FeedReader._start_feed, FeedReader._end_channel),
        ("item entry", FeedReader._start_item, FeedReader._end_item),
        ("image", FeedReader._start_image, FeedReader._end_image),
        ("textinput", FeedReader._start_textinput, FeedReader._end_textinput),
        (
            "author managingeditor dc_author dc_creator itunes_author",
            FeedReader._start_author,
            FeedReader._end_author,
        ),
        ("contributor", FeedReader._start_contributor, FeedReader._end_contributor),
        ("dc_contributor", FeedReader._start_dc_contributor, FeedReader._end_dc_contributor),
        ("name itunes_name", Push("name", False), FeedReader._end_name),
        ("email itunes_email", Push("email", False), FeedReader._end_email),
        ("url homepage uri", Push("href", True), FeedReader._end_url),
        ("webmaster dc_publisher", Push("publisher", True), Pop("publisher")),
        ("itunes_owner", FeedReader._start_owner, FeedReader._end_owner),
        (
            "subtitle tagline itunes_subtitle",
            content_of("subtitle", "text/plain"),
            lambda r: r._pop_content("subtitle"),
        ),
        (
            "rights copyright dc_rights",
            content_of("rights", "text/plain"),
            lambda r: r._pop_content("rights"),
        ),
        (
            "info feedburner_browserfriendly",
            content_of("info", "text/plain"),
            lambda r: r._pop_content("info"),
        ),
        ("title dc_title", FeedReader._start_title, FeedReader._end_title),
        ("media_title", FeedReader._start_title, FeedReader._end_media_title),
        (
            "description dc_description media_description",
            FeedReader._start_description,
            FeedReader._end_description,
        ),
        ("abstract", FeedReader._start_abstract, FeedReader._end_description),
        ("summary itunes_summary", FeedReader._start_summary, FeedReader._end_summary),
        ("content", FeedReader._start_content, FeedReader._end_content),
        ("content_encoded fullitem", FeedReader._start_content_encoded, FeedReader._end_content),
        ("link", FeedReader._start_link, Pop("link")),
        ("guid id", FeedReader._start_guid, FeedReader._end_guid),
        ("language dc_language", Push("language", True), FeedReader._end_language),
        (
            "published pubdate issued dcterms_issued",
            Push("published", True),
            lambda r: r._end_date("published", "published_parsed"),
        ),
        (
            "updated modified lastbuilddate dc_date dcterms_modified",
            Push("updated", True),
            lambda r: r._end_date("updated", "updated_parsed"),
        ),
        ("created dcterms_created", Push("created", True), Pop("created")),
        ("expirationdate", Push("expired", True), Pop("expired")),
        ("category keywords dc_subject", FeedReader._start_category, FeedReader._end_category),
        ("media_category", FeedReader._start_media_category, FeedReader._end_category),
        ("itunes_category", FeedReader._start_itunes_category, FeedReader._end_category),
        ("media_keywords", None, lambda r: r._end_keywords("media_keywords", None)),
        (
            "itunes_keywords",
            None,
            lambda r: r._end_keywords("itunes_keywords", "http://www.itunes.com/"),
        ),
        ("tags", Push("tags", True), lambda r: r._end_keywords("tags", None)),
        ("enclosure", FeedReader._start_enclosure, None),
        ("source", FeedReader._start_source, FeedReader._end_source),
        ("cloud media_content media_group", NOTHING, None),
        ("generator", Push("generator", True), Pop("generator")),
        ("newlocation", Push("newlocation", True), Pop("newlocation")),
        ("width", Push("width", False), lambda r: r._end_number("width")),
        ("height", Push("height", False), lambda r: r._end_number("height")),
        ("media_thumbnail", Push("url", True), Pop("url")),
        ("media_rating", Push("rating", True), Pop("rating")),
        ("media_credit", Push("credit", True), Pop("credit")),
        ("media_restriction", Push("restriction", True), Pop("restriction")),
        ("media_license", Push("license", True), Pop("license")),
        ("media_player", Push("media_player", False), Pop("media_player")),
        (
            "itunes_image itunes_link",
            FeedReader._start_itunes_image,
            None,  # feedparser's generic pop: itunes_link's never matches, and stays
        ),
        ("itunes_block", None, Pop("itunes_block")),  # feedparser pops these unstripped,
        ("itunes_explicit", None, Pop("itunes_explicit")),  # and syndication never reads them
    ]
)
