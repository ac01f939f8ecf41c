"""`monitor test-rule`: run the compiled rules on a text, a saved feed or a live feed, and say
which rules match and why (terms, actors, fields, snippets, score), or why one does not."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.config import MonitorConfig, Settings
from monitor.errors import FeedError, MonitorError
from monitor.fetch import Fetcher, FetchLimits, Timeouts, create_client
from monitor.match import ArticleText, Condition, Explanation, Matcher
from monitor.models import RuleMatch, Validators
from monitor.parse import parse_feed


class InputError(MonitorError):
    """The text, file or URL to test could not be read."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One article to test, with the feed it is taken to come from."""

    label: str
    text: ArticleText
    feed_id: str
    feed_tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    sample: Sample
    matches: tuple[RuleMatch, ...]
    explanation: Explanation | None  # with --why-not


def samples_from_text(text: str, feed: tuple[str, tuple[str, ...]]) -> list[Sample]:
    article = ArticleText.from_text(text)
    return [Sample(article.title or "text", article, *feed)]


def samples_from_body(
    body: bytes, url: str, feed: tuple[str, tuple[str, ...]], *, content_type: str | None = None
) -> list[Sample]:
    """A feed document's articles; a body that is no feed is taken as one plain-text article."""
    try:
        parsed = parse_feed(body, feed_id=feed[0], url=url, content_type=content_type)
    except FeedError:
        return samples_from_text(body.decode("utf-8", errors="replace"), feed)
    return [
        Sample(article.title or article.key, ArticleText.from_article(article), *feed)
        for article in parsed.articles
    ]


def samples_from_file(path: Path, feed: tuple[str, tuple[str, ...]]) -> list[Sample]:
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    return samples_from_body(body, path.resolve().as_uri(), feed)


async def samples_from_url(
    url: str, settings: Settings, feed: tuple[str, tuple[str, ...]]
) -> list[Sample]:
    timeouts = Timeouts(settings.connect_timeout, settings.read_timeout, settings.fetch_timeout)
    limits = FetchLimits(max_body_bytes=settings.max_body_bytes)
    client = create_client(user_agent=settings.user_agent, timeouts=timeouts, limits=limits)
    try:
        fetcher = Fetcher(client, limits=limits, timeouts=timeouts)
        result = await fetcher.fetch(feed_id=feed[0], url=url, validators=Validators())
    except FeedError as exc:
        raise InputError(str(exc)) from None
    finally:
        await client.aclose()
    assert result.body is not None  # no validators were sent: never a 304
    return await asyncio.to_thread(
        samples_from_body, result.body, result.url, feed, content_type=result.content_type
    )


def feed_context(config: MonitorConfig, feed_id: str | None) -> tuple[str, tuple[str, ...]]:
    """The feed id and tags the samples are taken to come from (`--feed`), for `feeds:`
    restrictions; without one, a feed named "test" with no tags."""
    if feed_id is None:
        return "test", ()
    for feed in config.feeds:
        if feed.id == feed_id:
            return feed.id, feed.tags
    raise InputError(f"--feed: no feed {feed_id!r} in the configuration")


def judge(
    matcher: Matcher, samples: Sequence[Sample], *, rule_id: str | None, why_not: str | None
) -> list[Verdict]:
    for wanted in (rule_id, why_not):
        if wanted is not None and wanted not in matcher.rule_ids:
            raise InputError(f"no rule {wanted!r} in the configuration")
    verdicts = []
    for sample in samples:
        matches = matcher.match(sample.text, feed_id=sample.feed_id, feed_tags=sample.feed_tags)
        if rule_id is not None:
            matches = [m for m in matches if m.rule_id == rule_id]
        explanation = None
        if why_not is not None:
            explanation = matcher.explain(
                sample.text, why_not, feed_id=sample.feed_id, feed_tags=sample.feed_tags
            )
        verdicts.append(Verdict(sample, tuple(matches), explanation))
    return verdicts


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    data: dict[str, Any] = {
        "article": verdict.sample.label,
        "matches": [
            {
                "rule": match.rule_id,
                "score": match.score,
                "keywords": [
                    {"term": hit.term, "field": hit.field, "snippet": hit.snippet}
                    for hit in match.keywords
                ],
                "actors": [
                    {"id": hit.id, "name": hit.name, "mentions": list(hit.mentions)}
                    for hit in match.actors
                ],
            }
            for match in verdict.matches
        ],
    }
    if verdict.explanation is not None:
        data["why_not"] = {
            "rule": verdict.explanation.rule_id,
            "matched": verdict.explanation.matched,
            "conditions": [condition_json(c) for c in verdict.explanation.conditions],
        }
    return data


def verdict_lines(verdict: Verdict) -> list[str]:
    lines = [f"article: {verdict.sample.label}"]
    for match in verdict.matches:
        lines.append(f"  match {match.rule_id} (score {match.score:g})")
        lines += [
            f'    keyword "{hit.term}" in {hit.field}: {hit.snippet}' for hit in match.keywords
        ]
        lines += [
            f"    actor {hit.id} ({hit.name}): {', '.join(hit.mentions)}" for hit in match.actors
        ]
    if not verdict.matches:
        lines.append("  no rule matches")
    if verdict.explanation is not None:
        outcome = "matches" if verdict.explanation.matched else "does not match"
        lines.append(f"  rule {verdict.explanation.rule_id} {outcome}:")
        lines += [
            f"    {'  ' * depth}{'ok  ' if part.held else 'FAIL'} {part.line}"
            for condition in verdict.explanation.conditions
            for depth, part in condition.tree()
        ]
    return lines


def condition_json(condition: Condition) -> dict[str, Any]:
    """A condition and its parts (a query's sub-expressions, by their text), as a tree."""
    return {
        "condition": condition.name,
        "held": condition.held,
        "detail": condition.detail,
        "parts": [condition_json(part) for part in condition.parts],
    }
