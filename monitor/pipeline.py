"""One feed, end to end: fetch, skip what did not change, parse off the loop, match what is new,
record, hand on.

The only module besides `service` that wires stages together (as miniflux's RefreshFeed does).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from monitor.errors import FetchError, ParseError, StoreError, StoreFullError
from monitor.fetch import adaptive_interval, next_poll_at, publishing_gap, retry_delay
from monitor.models import (
    Alert,
    Article,
    Clock,
    Feed,
    FeedStateUpdate,
    FeedStatus,
    FetchResult,
    OutboxPlan,
    ParsedFeed,
    PollOutcome,
    PollStatus,
    RuleMatch,
    Validators,
    human_duration,
    utc_now,
)
from monitor.parse import body_hash
from monitor.parse.memo import memo_published
from monitor.unrecorded import UnrecordedPolls

log = logging.getLogger(__name__)

NewArticlesHook = Callable[[Feed, Sequence[Article]], Awaitable[None]]
# Runs the compiled rules on new articles: article key -> the rules it matches.
MatchArticles = Callable[[Feed, Sequence[Article]], Mapping[str, Sequence[RuleMatch]]]

# A feed is unhealthy (and `ops_notify` hears of it) after this many failed polls in a row over
# at least this long since it last worked: a glitch, or a short outage, is only an error. A feed
# that never worked (a wrong URL, most likely: a configuration mistake) needs no such wait.
UNHEALTHY_AFTER = 3
UNHEALTHY_WINDOW = timedelta(minutes=15)
# New articles with more text than this (characters, all of a poll's) are matched on a thread,
# at most MATCH_THREADS polls at a time: a 10 MB article takes ~0.5 s, which would stall every
# other poll on the event loop. Smaller ones (nearly all) are matched inline, without the hop.
INLINE_MATCH_CHARS = 32_768
MATCH_THREADS = 2
# A document with at most this many new or edited items (what is left once the memo cut out
# the known ones: nearly every poll) is matched whole, without first reading which items the
# store has: matching an edit for nothing costs less than the read.
MATCH_UNREAD_ITEMS = 4


class FetchesFeeds(Protocol):
    async def fetch(self, *, feed_id: str, url: str, validators: Validators) -> FetchResult: ...


class ParsesFeeds(Protocol):
    async def parse(
        self,
        body: bytes,
        *,
        feed_id: str,
        url: str,
        content_type: str | None,
        memo: bytes | None = None,
    ) -> ParsedFeed: ...


class RecordsPolls(Protocol):
    async def unseen_articles(self, feed_id: str, articles: Sequence[Article]) -> list[Article]: ...

    async def record_poll(
        self,
        feed_id: str,
        update: FeedStateUpdate,
        articles: Sequence[Article] = (),
        *,
        owner: str | None = None,
        plan: OutboxPlan | None = None,
        matches: Mapping[str, Sequence[RuleMatch]] | None = None,
    ) -> RecordResultLike: ...

    async def record_state(
        self,
        feed_id: str,
        update: FeedStateUpdate,
        *,
        owner: str | None = None,
        plan: OutboxPlan | None = None,
    ) -> None: ...


class RecordResultLike(Protocol):
    @property
    def inserted(self) -> tuple[Article, ...]: ...

    @property
    def alerts(self) -> tuple[Alert, ...]: ...


def select_new(feed: Feed, inserted: Sequence[Article]) -> tuple[Article, ...]:
    """The articles to alert on: all newly stored ones, except on a feed's first poll, where
    only the newest `backfill` count (DESIGN: a new feed's existing items are not alerts)."""
    if not feed.first_poll:
        return tuple(inserted)
    if feed.backfill <= 0:
        return ()
    oldest = datetime.min.replace(tzinfo=UTC)
    newest_first = sorted(
        enumerate(inserted), key=lambda pair: (pair[1].published or oldest, -pair[0]), reverse=True
    )
    return tuple(article for _, article in newest_first[: feed.backfill])


class Poller:
    """Polls one claimed feed and records what came of it; never raises for a feed's fault."""

    def __init__(
        self,
        store: RecordsPolls,
        fetcher: FetchesFeeds,
        parser: ParsesFeeds,
        *,
        owner: str,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        match: MatchArticles | None = None,
        on_new_articles: NewArticlesHook | None = None,
        plan: OutboxPlan | None = None,
        unrecorded: UnrecordedPolls | None = None,
    ) -> None:
        self._store = store
        self._fetcher = fetcher
        self._parser = parser
        self._owner = owner
        self._clock = clock
        self._rng = rng or random.Random()
        self._match = match
        self._on_new_articles = on_new_articles
        self._plan = plan
        self._unrecorded = unrecorded or UnrecordedPolls(clock=clock)
        self._match_threads = asyncio.Semaphore(MATCH_THREADS)

    @property
    def plan(self) -> OutboxPlan | None:
        return self._plan

    @plan.setter
    def plan(self, plan: OutboxPlan | None) -> None:
        """A reloaded configuration's routes: polls that start from now on use them."""
        self._plan = plan

    async def poll(self, feed: Feed) -> PollOutcome:
        started = time.perf_counter()
        outcome = await self._poll(feed)
        return dataclasses.replace(outcome, seconds=time.perf_counter() - started)

    async def _poll(self, feed: Feed) -> PollOutcome:
        try:
            result = await self._fetcher.fetch(
                feed_id=feed.id, url=feed.url, validators=feed.validators
            )
        except FetchError as exc:
            return await self._record_failure(feed, exc, exc.status_code, exc.retry_after)
        if result.not_modified:
            return await self._record_unparsed(feed, result, PollStatus.NOT_MODIFIED)
        assert result.body is not None
        digest = body_hash(result.body)
        if digest == feed.validators.body_hash:
            return await self._record_unparsed(feed, result, PollStatus.UNCHANGED)
        parse_started = time.perf_counter()
        try:
            parsed = await self._parser.parse(
                result.body,
                feed_id=feed.id,
                url=result.url,
                content_type=result.content_type,
                memo=feed.item_memo,
            )
        except ParseError as exc:
            return await self._record_failure(feed, exc, result.status_code, None)
        parse_seconds = time.perf_counter() - parse_started
        outcome = await self._record_parsed(feed, result, parsed, digest)
        return dataclasses.replace(outcome, parse_seconds=parse_seconds)

    def _success(
        self,
        feed: Feed,
        result: FetchResult,
        validators: Validators | None,
        parsed: ParsedFeed | None = None,
    ) -> FeedStateUpdate:
        """A good poll's update. A parsed document measures the publishing rate again
        (adaptive polling); a 304 or an unchanged body keeps the last measure, both follow the
        server's `Cache-Control: max-age`."""
        now = self._clock()
        bounds = feed.interval_bounds
        if parsed is None:
            interval = adaptive_interval(
                feed.poll_interval, bounds, hints=(result.max_age_seconds,)
            )
            measured = None
        else:
            gap = publishing_gap(_published(parsed), now)
            hints = (result.max_age_seconds, parsed.ttl_seconds)
            interval = adaptive_interval(feed.interval, bounds, gap=gap, hints=hints)
            measured = interval.total_seconds()
        return FeedStateUpdate(
            polled_at=now,
            next_poll_at=next_poll_at(now, interval, rng=self._rng),
            status=FeedStatus.OK,
            status_code=result.status_code,
            validators=validators,
            url=result.permanent_url,
            title=(parsed.title or None) if parsed is not None else None,
            poll_interval_seconds=measured,
            item_memo=None if parsed is None else parsed.item_memo or b"",
        )

    async def _record_unparsed(
        self, feed: Feed, result: FetchResult, status: PollStatus
    ) -> PollOutcome:
        # A 304 may carry fresh validators (RFC 9111 §4.3.4); the body hash stays as it was.
        validators = Validators(
            etag=result.etag or feed.validators.etag,
            last_modified=result.last_modified or feed.validators.last_modified,
            body_hash=feed.validators.body_hash,
        )
        try:
            await self._store.record_state(
                feed.id,
                self._success(feed, result, validators),
                owner=self._owner,
                plan=self._plan,
            )
        except StoreError as exc:
            return await self._record_refused(feed, exc, result.status_code)
        self._unrecorded.recorded()
        log.debug("feed %s: %s", feed.id, status.value, extra={"feed_id": feed.id})
        return PollOutcome(feed.id, status)

    async def _record_parsed(
        self, feed: Feed, result: FetchResult, parsed: ParsedFeed, digest: str
    ) -> PollOutcome:
        validators = Validators(result.etag, result.last_modified, digest)
        update = self._success(feed, result, validators, parsed)
        # Matched before the write, on the articles not stored yet, so that no write waits on
        # the matcher; the write then stores articles, alerts and feed state in one transaction
        # (DESIGN: a crash at any point loses nothing and sends nothing twice). An article
        # another writer stores in between is not inserted, so its matches are dropped.
        try:
            selected = await self._select_unseen(feed, parsed.articles)
            matches = await self._match_articles(feed, selected)
            recorded = await self._store.record_poll(
                feed.id,
                update,
                parsed.articles,
                owner=self._owner,
                plan=self._plan,
                matches=matches,
            )
        except StoreError as exc:
            return await self._record_refused(feed, exc, result.status_code)
        self._unrecorded.recorded()
        inserted = {a.key for a in recorded.inserted}
        if selected is None:
            new = select_new(feed, recorded.inserted)
        else:
            new = tuple(a for a in selected if a.key in inserted)
        if parsed.warning:
            log.info(
                "feed %s: recovered from a malformed document: %s",
                feed.id,
                parsed.warning,
                extra={"feed_id": feed.id},
            )
        if new and self._on_new_articles is not None:
            await self._on_new_articles(feed, new)
        return PollOutcome(
            feed.id,
            PollStatus.NEW_ITEMS,
            recorded=len(recorded.inserted),
            new_articles=new,
            alerts=recorded.alerts,
            items=len(parsed.articles) + parsed.skipped_items,
            skipped_items=parsed.skipped_items,
            matched_rules=tuple(m.rule_id for key in inserted for m in matches.get(key, ())),
            first_poll=feed.first_poll,
        )

    async def _select_unseen(
        self, feed: Feed, articles: Sequence[Article]
    ) -> tuple[Article, ...] | None:
        """The articles to match: `select_new` of those not stored yet (a read), or for a
        few items after the first poll, all of them (the write keeps the matches of those it
        inserts). None without a matcher: the new ones are then known from the write alone."""
        if self._match is None:
            return None
        if not articles or (feed.first_poll and feed.backfill <= 0):
            return ()
        if not feed.first_poll and len(articles) <= MATCH_UNREAD_ITEMS:
            return tuple(_first_of_each_key(articles))
        return select_new(feed, await self._store.unseen_articles(feed.id, articles))

    async def _match_articles(
        self, feed: Feed, articles: Sequence[Article] | None
    ) -> Mapping[str, Sequence[RuleMatch]]:
        """Article key -> rule matches; a large text on a thread (`INLINE_MATCH_CHARS`)."""
        if not articles or self._match is None:
            return {}
        if _text_size(articles) <= INLINE_MATCH_CHARS:
            return self._match(feed, articles)
        async with self._match_threads:
            return await asyncio.to_thread(self._match, feed, articles)

    async def _record_failure(
        self,
        feed: Feed,
        exc: FetchError | ParseError,
        status_code: int | None,
        retry_after: float | None,
    ) -> PollOutcome:
        update, errors, delay = self._failure(feed, exc.reason, status_code, retry_after)
        await self._write_failure(feed, update)
        log.warning(
            "%s (attempt %d, next try in %s)",
            exc,
            errors,
            human_duration(delay),
            extra={"feed_id": feed.id, "feed_url": exc.url, "error_count": errors},
        )
        return PollOutcome(feed.id, PollStatus.FAILED, error=str(exc))

    async def _record_refused(
        self, feed: Feed, exc: StoreError, status_code: int | None
    ) -> PollOutcome:
        """The store refused the poll's write (rolled back): a failure of the feed, recorded
        as such. A full database is logged once a minute for all feeds, not once a poll; a
        refusal of this poll's data alone (a value too big, a constraint) like a feed's fault."""
        reason = f"the store could not record this poll: {exc.reason or exc}"
        update, errors, delay = self._failure(feed, reason, status_code, None)
        await self._write_failure(feed, update)
        if isinstance(exc, StoreFullError):
            self._unrecorded.failed(exc, feed.id)
        else:
            log.warning(
                "feed %s: %s (attempt %d, next try in %s)",
                feed.id,
                reason,
                errors,
                human_duration(delay),
                extra={"feed_id": feed.id, "error_count": errors},
            )
        return PollOutcome(feed.id, PollStatus.FAILED, error=f"feed {feed.id}: {reason}")

    def _failure(
        self, feed: Feed, reason: str, status_code: int | None, retry_after: float | None
    ) -> tuple[FeedStateUpdate, int, timedelta]:
        """A failed poll's update, its place in the run of failures, and the backoff."""
        now = self._clock()
        errors = feed.error_count + 1
        delay = retry_delay(errors, feed.poll_interval, retry_after, rng=self._rng)
        working = feed.last_success_at
        lasting = working is None or now - working >= UNHEALTHY_WINDOW
        unhealthy = feed.status is FeedStatus.UNHEALTHY or (errors >= UNHEALTHY_AFTER and lasting)
        status = FeedStatus.UNHEALTHY if unhealthy else FeedStatus.ERROR
        update = FeedStateUpdate(
            polled_at=now,
            next_poll_at=now + delay,
            status=status,
            status_code=status_code,
            error=reason,
        )
        return update, errors, delay

    async def _write_failure(self, feed: Feed, update: FeedStateUpdate) -> None:
        """Record a failed poll; if the store refuses that too, say so (once a minute) and
        raise: the dispatcher then gives the feed's lease back as soon as it can."""
        try:
            await self._store.record_state(feed.id, update, owner=self._owner, plan=self._plan)
        except StoreError as exc:
            self._unrecorded.failed(exc, feed.id)
            raise


def _published(parsed: ParsedFeed) -> list[datetime]:
    """The dates of every item of the document, also of those the parser skipped as known."""
    if parsed.item_memo is not None:
        return memo_published(parsed.item_memo)
    return [a.published for a in parsed.articles if a.published]


def _first_of_each_key(articles: Sequence[Article]) -> list[Article]:
    """The articles with their first item of a key only, as the store inserts them."""
    by_key: dict[str, Article] = {}
    for article in articles:
        by_key.setdefault(article.key, article)
    return list(by_key.values())


def _text_size(articles: Sequence[Article]) -> int:
    """The characters the matcher scans in `articles`."""
    return sum(len(a.title) + len(a.summary_text) + len(a.content_text) for a in articles)
