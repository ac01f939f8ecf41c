"""Frozen records passed between the stages: a feed, what a poll brought, an article.

Stages import these and `errors`, never each other; `pipeline` and `service` wire them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

# The one clock: every stage and the wiring take `now` from a Clock, by default this one, so
# that tests pass time in rather than patch it.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def human_duration(delay: timedelta) -> str:
    """A wait as a person reads it: `5.9s`, `42s`, `2m10s`, `1h05m`."""
    seconds = delay.total_seconds()
    if seconds < 9.95:  # would round to 10.0
        return f"{max(seconds, 0.0):.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def iso_utc(moment: datetime | None) -> str | None:
    """`2026-11-26T15:05:00Z` (whole seconds, UTC), or None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Article:
    """One feed item, normalised. `key` is stable across polls and edits of the item."""

    feed_id: str
    key: str
    url: str | None  # canonical: no utm_*/fbclid/gclid, no fragment, lower-case host
    link: str | None  # as the feed gave it
    title: str  # plain text
    summary: str  # HTML kept for display
    content: str  # HTML kept for display
    summary_text: str  # summary stripped to text, for matching
    content_text: str  # content stripped to text, for matching
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    published: datetime | None = None  # UTC
    updated: datetime | None = None  # UTC
    language: str | None = None
    content_hash: str = ""  # of title, summary and content: tells an edit apart


@dataclass(frozen=True, slots=True)
class ArticleCaps:
    """The longest field the parse stage passes on (README: "Article size caps"): longer ones
    are cut, ending in `text_mark` (title, author, tag) or `markup_mark` (summary, content),
    so that one item cannot fill the store, a log line or a message. A longer URL is dropped,
    as a cut one would lead elsewhere. Lengths are in characters, marks included."""

    title: int = 1_000
    summary: int = 20_000  # and its text, for matching
    content: int = 200_000  # likewise
    author: int = 500
    tag: int = 200
    names: int = 100  # authors, and tags, an article keeps
    url: int = 4_096
    text_mark: str = "…"
    markup_mark: str = " [truncated]"


ARTICLE_CAPS = ArticleCaps()


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed document."""

    format: str  # rss20, rss10, atom10, json11, ... (feedparser's version names)
    title: str
    link: str | None
    language: str | None
    articles: tuple[Article, ...]
    ttl_seconds: int | None = None
    warning: str | None = None  # a problem the parser recovered from
    # The document's items as `monitor.parse.incremental` remembers them for the next parse
    # (None: not readable item by item). With a memo from the last parse, `articles` holds
    # only the items whose bytes are new, and `skipped_items` counts the others. Two parses of
    # one document are equal with or without a memo.
    item_memo: bytes | None = field(default=None, compare=False, repr=False)
    skipped_items: int = 0


class FeedStatus(StrEnum):
    NEW = "new"  # never polled
    OK = "ok"
    ERROR = "error"  # the last poll failed
    UNHEALTHY = "unhealthy"  # failed several times in a row
    DISABLED = "disabled"  # no longer in the config


@dataclass(frozen=True, slots=True)
class Validators:
    """What a conditional GET sends back (RFC 9110 §13.1) and the hash of the body they name."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed row: its configuration as synced from monitor.yaml and its polling state."""

    id: str
    url: str
    interval_seconds: float
    backfill: int = 0
    tags: tuple[str, ...] = ()
    title: str | None = None
    status: FeedStatus = FeedStatus.NEW
    validators: Validators = field(default_factory=Validators)
    last_status_code: int | None = None
    error_count: int = 0
    last_error: str | None = None
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    next_poll_at: datetime | None = None
    min_interval_seconds: float | None = None  # adaptive polling's bounds (None: the interval)
    max_interval_seconds: float | None = None
    poll_interval_seconds: float | None = None  # what the publishing rate gave (None: not yet)
    item_memo: bytes | None = field(default=None, repr=False)  # the last parse's ParsedFeed's

    @property
    def interval(self) -> timedelta:
        """The configured interval."""
        return timedelta(seconds=self.interval_seconds)

    @property
    def interval_bounds(self) -> tuple[timedelta, timedelta]:
        """The shortest and longest interval adaptive polling may choose."""
        low, high = self.min_interval_seconds, self.max_interval_seconds
        return (
            self.interval if low is None else timedelta(seconds=low),
            self.interval if high is None else timedelta(seconds=high),
        )

    @property
    def poll_interval(self) -> timedelta:
        """The interval polls of this feed follow now: the adaptive one once measured."""
        seconds = self.poll_interval_seconds
        return self.interval if seconds is None else timedelta(seconds=seconds)

    @property
    def first_poll(self) -> bool:
        """True until the feed has been read successfully once (DESIGN: no alerts on it)."""
        return self.last_success_at is None


@dataclass(frozen=True, slots=True)
class FeedSummary:
    """A feed row with its article count, as `monitor feeds` shows it."""

    feed: Feed
    articles: int


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A completed HTTP exchange: 200 with a body, or 304 without one."""

    status_code: int
    url: str  # after redirects
    permanent_url: str | None  # set when every redirect on the way was permanent (301/308)
    body: bytes | None  # None on 304 Not Modified
    etag: str | None
    last_modified: str | None
    content_type: str | None
    max_age_seconds: float | None = None  # from Cache-Control

    @property
    def not_modified(self) -> bool:
        return self.status_code == 304


@dataclass(frozen=True, slots=True)
class FeedStateUpdate:
    """What one poll changes on the feed row. `validators=None` keeps the stored ones."""

    polled_at: datetime
    next_poll_at: datetime
    status: FeedStatus
    status_code: int | None = None
    error: str | None = None  # None on success: resets the error count
    validators: Validators | None = None
    url: str | None = None  # a permanent redirect's target
    title: str | None = None
    poll_interval_seconds: float | None = None  # a new adaptive interval (None keeps it)
    item_memo: bytes | None = None  # a parse's `ParsedFeed.item_memo`: None keeps, b"" clears


class PollStatus(StrEnum):
    NEW_ITEMS = "ok"  # fetched and parsed
    NOT_MODIFIED = "not_modified"  # 304
    UNCHANGED = "unchanged"  # 200 with the same body as last time: not parsed
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """The result of polling one feed, end to end."""

    feed_id: str
    status: PollStatus
    recorded: int = 0  # articles stored for the first time
    new_articles: tuple[Article, ...] = ()  # of those, the ones matched against the rules
    error: str | None = None
    alerts: tuple[Alert, ...] = ()  # created by this poll
    items: int = 0  # articles in the parsed feed, new or not
    skipped_items: int = 0  # of those, the ones not parsed again: their bytes were known
    matched_rules: tuple[str, ...] = ()  # a rule id per match found in the new articles
    seconds: float = 0.0  # the whole poll
    parse_seconds: float | None = None  # of it, parsing (None: not parsed)
    # The feed's first poll: its articles were recorded as existing ones, not as new (backfill).
    first_poll: bool = False


# ---- rules: what config loads and match compiles -------------------------------------------
@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a definition was written, for `file:line` errors; `field` is its path in the file
    (`rules[2].keywords.any[0]`), so that match reports its problems where config read them."""

    path: str
    line: int
    field: str | None = field(default=None, compare=False)  # where it is, not what it is

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class TermSpec:
    """A term as written: a word or phrase, `prefix*`, or `re:pattern`."""

    text: str
    case_sensitive: bool = False
    where: SourceRef | None = None


@dataclass(frozen=True, slots=True)
class TermLists:
    """`any` / `all` / `none` lists of keywords."""

    any: tuple[TermSpec, ...] = ()
    all: tuple[TermSpec, ...] = ()
    none: tuple[TermSpec, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.any or self.all or self.none)


@dataclass(frozen=True, slots=True)
class ActorLists:
    """`any` / `all` / `none` lists of actor ids."""

    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.any or self.all or self.none)


ACTOR_KINDS = ("country", "person", "organization", "place", "other")
RULE_FIELDS = ("title", "summary", "content", "author", "tags")
DEFAULT_RULE_FIELDS = ("title", "summary", "content")


@dataclass(frozen=True, slots=True)
class ActorSpec:
    """A country, person or organisation with every surface form a news text uses for it."""

    id: str
    kind: str  # one of ACTOR_KINDS
    names: tuple[TermSpec, ...]
    part_of: tuple[str, ...] = ()  # a mention of this actor also counts for these
    where: SourceRef | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A watch rule as written. It matches when every condition it has holds."""

    id: str
    description: str = ""
    feeds: tuple[str, ...] = ()  # feed ids and "tag:NAME"; empty = every feed
    fields: tuple[str, ...] = DEFAULT_RULE_FIELDS
    keywords: TermLists = field(default_factory=TermLists)
    actors: ActorLists = field(default_factory=ActorLists)
    query: str | None = None
    notify: tuple[str, ...] = ()
    min_score: float | None = None
    where: SourceRef | None = None
    query_where: SourceRef | None = None  # the line of `query:`, for column-precise errors
    # Within this long after an alert, the rule's alerts on the same story (an equal folded
    # title: the same wire story under other links) are stored but not sent.
    realert: timedelta | None = None


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every actor and rule of a configuration, ids unique across files."""

    actors: tuple[ActorSpec, ...] = ()
    rules: tuple[RuleSpec, ...] = ()


# ---- match results: exactly what the webhook payload carries --------------------------------
@dataclass(frozen=True, slots=True)
class TermHit:
    term: str  # as written in the rule
    field: str  # title, summary, content, author, tags
    snippet: str  # about 80 characters either side, cut at word boundaries


@dataclass(frozen=True, slots=True)
class ActorHit:
    id: str
    name: str  # the actor's first name (its display name)
    mentions: tuple[str, ...]  # the surface forms found in the text, as they appear there


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule_id: str
    keywords: tuple[TermHit, ...]
    actors: tuple[ActorHit, ...]
    score: float

    def hits_json(self) -> dict[str, Any]:
        """The `matches` object of the webhook payload (README, "Webhook payload"), also what
        the store keeps of a match and what `alerts --json` and `test-rule --json` show."""
        return {
            "keywords": [
                {"term": hit.term, "field": hit.field, "snippet": hit.snippet}
                for hit in self.keywords
            ],
            "actors": [
                {"id": hit.id, "name": hit.name, "mentions": list(hit.mentions)}
                for hit in self.actors
            ],
        }

    @classmethod
    def from_hits_json(cls, rule_id: str, score: float, data: Mapping[str, Any]) -> RuleMatch:
        """The match `hits_json` gave `data` for."""
        return cls(
            rule_id=rule_id,
            keywords=tuple(TermHit(k["term"], k["field"], k["snippet"]) for k in data["keywords"]),
            actors=tuple(
                ActorHit(a["id"], a["name"], tuple(a["mentions"])) for a in data["actors"]
            ),
            score=score,
        )


# ---- delivery: the worker's limits --------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeliveryLimits:
    """How the delivery worker retries and claims; the defaults are the MONITOR_DELIVERY_*
    settings' defaults."""

    max_attempts: int = 10
    max_age: timedelta = timedelta(days=1)
    first_retry: timedelta = timedelta(seconds=10)
    longest_retry: timedelta = timedelta(hours=1)
    batch: int = 200  # deliveries claimed per round
    # A claim lasts this long and is renewed while its sends run: after a crash (kill -9), the
    # deliveries it held are free again within this time.
    lease: timedelta = timedelta(seconds=60)


# ---- alerts: what the store keeps of a match ------------------------------------------------
@dataclass(frozen=True, slots=True)
class Alert:
    """A rule matched a new article: stored once per rule and story (unique rule × story)."""

    id: str  # uuid4 hex, stable: the webhook payload's "id"
    rule_id: str
    feed_id: str
    article_key: str
    url: str | None  # the article's canonical URL, else its link
    detected_at: datetime  # UTC: when the poll that stored the article ran
    score: float
    match: RuleMatch
    title: str = ""  # the article's title, for listings


# ---- delivery: the outbox -----------------------------------------------------------------
class DeliveryState(StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    HELD = "held"  # waits for its notifier's digest, or for the end of a rate cap's hour
    SENT = "sent"
    DEAD = "dead"  # given up: a permanent error, too many attempts, or too old
    SUPPRESSED = "suppressed"  # never sent: silenced, or a repeat within `realert`


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """One notifier's delivery of an alert, as `monitor alerts` shows it."""

    id: str
    notifier: str
    state: DeliveryState
    attempts: int
    last_error: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxPlan:
    """Where a poll's alerts and notices go, from the configuration.

    `routes` maps a rule id to its notifiers; deliveries to a `digest` notifier (in `held`) wait
    for its digest; `realert` maps a rule id to its window; `ops` are the `ops_notify` notifiers.
    """

    routes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    held: frozenset[str] = frozenset()
    realert: Mapping[str, timedelta] = field(default_factory=dict)
    ops: tuple[str, ...] = ()


# ---- HTTP hints read by fetch and by the webhook notifier -----------------------------------
MAX_RETRY_AFTER = 24 * 60 * 60.0  # seconds: a server cannot park a feed for longer than a day
_DELTA_SECONDS = re.compile(r"[0-9]+")  # RFC 9110 §10.2.3: Retry-After = HTTP-date / delay-seconds


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header: delay-seconds or an HTTP-date.

    Clamped to [0, 24 h]; a date in the past gives 0. Anything else (empty, negative,
    fractional, unparsable) gives None, meaning the server gave no usable hint.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return min(float(text), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    seconds = (_as_utc(when) - _as_utc(now)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _as_utc(moment: datetime) -> datetime:
    # A date with a "-0000" zone parses naive; HTTP dates are always GMT (RFC 9110 §5.6.7).
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ---- delivery: what the outbox hands the worker, and what the worker hands back -------------
class NoticeKind(StrEnum):
    FEED_DOWN = "feed_down"
    FEED_RECOVERED = "feed_recovered"


@dataclass(frozen=True, slots=True)
class HealthNotice:
    """A feed turned unhealthy, or recovered: the ops notice the store writes in the poll's
    transaction and the `ops_notify` notifiers get. Kept in the outbox as `as_json()`."""

    kind: NoticeKind
    at: datetime  # UTC: the poll that changed the feed's health
    feed_id: str
    feed_title: str | None
    feed_url: str  # redacted: no credentials or token-like query values
    failures: int  # consecutive failures (FEED_DOWN), or how many it had (FEED_RECOVERED)
    error: str | None  # the last error, already free of secrets
    since: datetime | None  # when it started failing (the last success)

    def as_json(self) -> dict[str, object]:
        """The row's `notice` column."""
        return {
            "kind": self.kind.value,
            "at": self.at.astimezone(UTC).isoformat(),
            "feed": {"id": self.feed_id, "title": self.feed_title, "url": self.feed_url},
            "failures": self.failures,
            "error": self.error,
            "since": self.since.astimezone(UTC).isoformat() if self.since else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> HealthNotice:
        """Read back a `notice` column (written by `as_json`, by this or an earlier version)."""
        feed = data.get("feed")
        feed_data: Mapping[str, object] = feed if isinstance(feed, Mapping) else {}
        title = feed_data.get("title")
        error = data.get("error")
        return cls(
            kind=NoticeKind(str(data.get("kind"))),
            at=_json_time(data.get("at")) or utc_now(),
            feed_id=str(feed_data.get("id", "")),
            feed_title=None if title is None else str(title),
            feed_url=str(feed_data.get("url", "")),
            failures=int(str(data.get("failures") or 0)),
            error=None if error is None else str(error),
            since=_json_time(data.get("since")),
        )


def _json_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery leased to a worker, with what its message needs."""

    id: str
    notifier_id: str
    kind: str  # alert | notice
    batch_id: str | None
    attempts: int
    created_at: datetime
    alert: Alert | None = None
    article: Article | None = None
    feed_title: str | None = None
    feed_url: str | None = None
    notice: HealthNotice | None = None


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """How one message's send ended, for the deliveries (`ids`) it carried."""

    ids: tuple[str, ...]
    state: DeliveryState  # SENT, PENDING (retry at `next_attempt_at`) or DEAD
    attempted: bool = True  # False: put back untouched (the worker is stopping)
    next_attempt_at: datetime | None = None
    error: str | None = None
    answer: str | None = None


# ---- notifier options: built by config from monitor.yaml, used by notify -------------------
WebhookFormat = Literal["json", "slack", "discord", "teams", "template"]


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    url: str  # may hold a token: never log it unredacted
    format: WebhookFormat = "json"
    secret: str | None = None  # Standard Webhooks signing key; `whsec_` + base64, or raw text
    headers: Mapping[str, str] = field(default_factory=dict)
    template: Path | None = None  # format: template; a Jinja2 file, relative paths resolved
    content_type: str = "application/json"  # format: template
    timeout: float = 10.0  # seconds, for the whole request
    concurrency: int = 8


@dataclass(frozen=True, slots=True)
class EmailOptions:
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    subject: str | None = None  # a Jinja2 template string; None for the default subject
    concurrency: int = 2


@dataclass(frozen=True, slots=True)
class FileOptions:
    path: Path  # JSON lines, appended


@dataclass(frozen=True, slots=True)
class ConsoleOptions:
    pass


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """When a notifier's deliveries go out: at once, or gathered into digests; and its cap.

    A digest fires `every` interval or on a five-field `cron` expression (exactly one is set).
    Over `max_per_hour` immediate deliveries in the last hour, the rest are held and sent as
    one summary when the hour has passed.
    """

    mode: Literal["immediate", "digest"] = "immediate"
    every: timedelta | None = None
    cron: str | None = None
    max_per_hour: int | None = None


NotifierOptions = WebhookOptions | EmailOptions | FileOptions | ConsoleOptions


NotifierCheckKind = Literal["secret", "template", "subject", "cron"]


@dataclass(frozen=True, slots=True)
class NotifierOptionCheck:
    """A notifier option only notify can judge (a signing key, a Jinja2 template file or
    subject, a cron expression) and where it was written: config records it, the wiring has
    `monitor.notify.check_notifier_options` judge it beside rule compilation."""

    kind: NotifierCheckKind
    value: str  # for a template, its file resolved against monitor.yaml's folder
    path: str  # for the ConfigError: file:line and field, as config gives them
    line: int
    field: str | None
    shown: str  # the value as a message quotes it; an expanded `${VAR}` as written
    from_environment: bool = False
