"""Show which rules match an article, with terms, actors, snippets and score.

RULE limits the report to one rule. Exactly one of --file, --url and --text is needed.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from monitor.cli.common import EXIT_CONFIG, load
from monitor.cli.options import config_option
from monitor.config import MonitorConfig, Settings
from monitor.errors import FeedError, MonitorError
from monitor.fetch import Fetcher, FetchLimits, Timeouts, create_client
from monitor.match import ArticleText, Condition, Explanation, Matcher
from monitor.models import RuleMatch, Validators
from monitor.parse import advertised_feeds, looks_like_html, parse_feed
from monitor.redact import redact_url

__all__ = ["InputError", "test_rule"]


class InputError(MonitorError):
    """The text, file or URL to test could not be read."""


# The feed an article is taken to come from (`--feed`): its id and tags; (None, ()) for none.
FeedContext = tuple[str | None, tuple[str, ...]]
# The feed id the fetch and parse stages are given without `--feed`; their errors are
# reworded so that it never shows.
NO_FEED = "test-rule"


@dataclass(frozen=True, slots=True)
class Sample:
    """One article to test, with the feed it is taken to come from (None: no feed)."""

    label: str
    text: ArticleText
    feed_id: str | None
    feed_tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Restricted:
    """A rule with `feeds:` that the article's feed does not settle. From no feed (no
    `--feed`), it is skipped or, when named on the command line (RULE, `--why-not`), tested as
    if from one of its feeds; from a feed it does not watch, a named rule cannot match."""

    rule_id: str
    feeds: tuple[str, ...]
    tested: bool
    matches: bool  # as if from one of its feeds
    feed_id: str | None = None  # the feed it does not watch

    @property
    def reason(self) -> str:
        return (
            f"it watches only feeds {', '.join(self.feeds)}; "
            "pass --feed ID to test it as from one of them"
        )

    @property
    def summary(self) -> str:
        watched = f"{self.rule_id} watches only feeds {', '.join(self.feeds)}"
        if self.feed_id is not None:
            return f"note: {watched}, not {self.feed_id}: it cannot match an article from it"
        if self.tested:
            return (
                f"note: {watched}: tested as if from one of them;"
                " pass --feed ID to test it as from a given feed"
            )
        return f"skipped {self.rule_id}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Verdict:
    sample: Sample
    matches: tuple[RuleMatch, ...]
    explanation: Explanation | None  # with --why-not
    restricted: tuple[Restricted, ...] = ()

    @property
    def skipped(self) -> tuple[Restricted, ...]:
        return tuple(r for r in self.restricted if not r.tested)

    @property
    def unchecked(self) -> tuple[Restricted, ...]:
        """Named rules tested as if from one of their feeds."""
        return tuple(r for r in self.restricted if r.tested and r.feed_id is None)

    @property
    def unwatched(self) -> tuple[Restricted, ...]:
        return tuple(r for r in self.restricted if r.feed_id is not None)


@click.command("test-rule", help=__doc__)
@config_option
@click.argument("rule", required=False)
@click.option(
    "--file", "file", type=click.Path(path_type=Path), help="A saved feed or a text file."
)
@click.option("--url", help="A live feed URL.")
@click.option("--text", help="An article's text: the first line is its title.")
@click.option("--feed", "feed_id", help="Test as if the article came from this configured feed.")
@click.option("--why-not", "why_not", metavar="RULE", help="Explain each condition of RULE.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def test_rule(
    *,
    config_path: Path | None,
    rule: str | None,
    file: Path | None,
    url: str | None,
    text: str | None,
    feed_id: str | None,
    why_not: str | None,
    as_json: bool,
) -> None:
    if sum(source is not None for source in (file, url, text)) != 1:
        raise click.UsageError("give exactly one of --file, --url and --text")
    loaded = load(config_path, logs=False, store=False)
    try:
        feed = feed_context(loaded.config, feed_id)
        if file is not None:
            samples = samples_from_file(file, feed)
        elif url is not None:
            samples = asyncio.run(samples_from_url(url, loaded.settings, feed))
        else:
            samples = samples_from_text(text or "", feed)
        verdicts = judge(loaded.matcher, samples, rule_id=rule, why_not=why_not)
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    if as_json:
        payload = [verdict_json(v) for v in verdicts]
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for verdict in verdicts:
        click.echo("\n".join(verdict_lines(verdict)))
    for line in summary_lines(verdicts):
        click.echo(line)


def samples_from_text(text: str, feed: FeedContext) -> list[Sample]:
    article = ArticleText.from_text(text)
    return [Sample(article.title or "text", article, *feed)]


def samples_from_body(
    body: bytes,
    url: str,
    feed: FeedContext,
    *,
    name: str,
    content_type: str | None = None,
    text_ok: bool = False,
) -> list[Sample]:
    """A feed document's articles. A body that is no feed is an InputError, as `once` has it,
    or with `text_ok` (a file) one plain-text article; an HTML page is an error either way,
    which names the feeds the page advertises. `name`: the file or URL, for messages."""
    try:
        parsed = parse_feed(body, feed_id=feed[0] or NO_FEED, url=url, content_type=content_type)
    except FeedError as exc:
        if looks_like_html(body, content_type):
            raise InputError(_html_page(name, advertised_feeds(body, url))) from None
        if not text_ok:
            raise _input_error(exc) from exc.__cause__
        return samples_from_text(body.decode("utf-8", errors="replace"), feed)
    return [
        Sample(article.title or article.key, ArticleText.from_article(article), *feed)
        for article in parsed.articles
    ]


def samples_from_file(path: Path, feed: FeedContext) -> list[Sample]:
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    return samples_from_body(body, path.resolve().as_uri(), feed, name=str(path), text_ok=True)


async def samples_from_url(url: str, settings: Settings, feed: FeedContext) -> list[Sample]:
    timeouts = Timeouts(settings.connect_timeout, settings.read_timeout, settings.fetch_timeout)
    limits = FetchLimits(max_body_bytes=settings.max_body_bytes)
    client = create_client(user_agent=settings.user_agent, timeouts=timeouts, limits=limits)
    try:
        fetcher = Fetcher(client, limits=limits, timeouts=timeouts)
        result = await fetcher.fetch(feed_id=feed[0] or NO_FEED, url=url, validators=Validators())
    except FeedError as exc:
        raise _input_error(exc) from exc.__cause__
    finally:
        await client.aclose()
    assert result.body is not None  # no validators were sent: never a 304
    return await asyncio.to_thread(
        functools.partial(
            samples_from_body,
            result.body,
            result.url,
            feed,
            name=redact_url(result.url),
            content_type=result.content_type,
        )
    )


def _html_page(name: str, feeds: Sequence[str]) -> str:
    if feeds:
        return f"{name} is an HTML page, not a feed; it advertises: {', '.join(feeds)}"
    return f"{name} is an HTML page, not a feed, and advertises none"


def _input_error(exc: FeedError) -> InputError:
    """A fetch or parse error named by its URL: the article comes from no feed of the
    configuration, whatever `--feed` says."""
    return InputError(f"{exc.url}: {exc.reason}")


def feed_context(config: MonitorConfig, feed_id: str | None) -> FeedContext:
    """The feed id and tags the samples are taken to come from (`--feed`), for `feeds:`
    restrictions; without one, no feed: rules with `feeds:` are skipped unless named."""
    if feed_id is None:
        return None, ()
    for feed in config.feeds:
        if feed.id == feed_id:
            return feed.id, feed.tags
    raise InputError(f"--feed: no feed {feed_id!r} in the configuration")


def judge(
    matcher: Matcher, samples: Sequence[Sample], *, rule_id: str | None, why_not: str | None
) -> list[Verdict]:
    named = {wanted for wanted in (rule_id, why_not) if wanted is not None}
    for wanted in named:
        if wanted not in matcher.rule_ids:
            raise InputError(f"no rule {wanted!r} in the configuration")
    reported = (rule_id,) if rule_id is not None else matcher.rule_ids
    restricted = {rule: feeds for rule in reported if (feeds := matcher.rule_feeds(rule))}
    if why_not is not None and (feeds := matcher.rule_feeds(why_not)):
        restricted.setdefault(why_not, feeds)
    verdicts = []
    for sample in samples:
        matches = matcher.match(sample.text, feed_id=sample.feed_id, feed_tags=sample.feed_tags)
        matches = [m for m in matches if rule_id is None or m.rule_id == rule_id]
        if sample.feed_id is None:  # every rule was tested, `feeds:` unchecked
            found = {m.rule_id for m in matches}
            notes = tuple(
                Restricted(rule, feeds, rule in named, rule in found)
                for rule, feeds in restricted.items()
            )
            skipped = {note.rule_id for note in notes if not note.tested}
            matches = [m for m in matches if m.rule_id not in skipped]
        else:
            notes = _unwatched(matcher, named, restricted, sample.feed_id, sample.feed_tags)
        explanation = None
        if why_not is not None:
            explanation = matcher.explain(
                sample.text, why_not, feed_id=sample.feed_id, feed_tags=sample.feed_tags
            )
        verdicts.append(Verdict(sample, tuple(matches), explanation, notes))
    return verdicts


def _unwatched(
    matcher: Matcher,
    named: set[str],
    restricted: dict[str, tuple[str, ...]],
    feed_id: str,
    feed_tags: tuple[str, ...],
) -> tuple[Restricted, ...]:
    """The named rules whose `feeds:` leave out the article's feed."""
    return tuple(
        Restricted(rule, restricted[rule], True, False, feed_id)
        for rule in sorted(named & restricted.keys())
        if not matcher.watches(rule, feed_id=feed_id, feed_tags=feed_tags)
    )


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    data: dict[str, Any] = {
        "article": verdict.sample.label,
        "matches": [
            {
                "rule": match.rule_id,
                "score": match.score,
                **match.hits_json(),
            }
            for match in verdict.matches
        ],
        "skipped": [
            {
                "rule": r.rule_id,
                "feeds": list(r.feeds),
                "reason": r.reason,
                "would_match": r.matches,
            }
            for r in verdict.skipped
        ],
        "feeds_not_checked": [
            {"rule": r.rule_id, "feeds": list(r.feeds)} for r in verdict.unchecked
        ],
        "not_watched": [
            {"rule": r.rule_id, "feeds": list(r.feeds), "feed": r.feed_id}
            for r in verdict.unwatched
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


def summary_lines(verdicts: Sequence[Verdict]) -> list[str]:
    """What no article's lines say, once for all the articles: the rules skipped for their
    `feeds:`, tested as if from one of their feeds, or that cannot match the feed given."""
    notes = {note.rule_id: note for verdict in verdicts for note in verdict.restricted}
    hits = Counter(note.rule_id for v in verdicts for note in v.restricted if note.matches)
    lines = []
    for rule, note in notes.items():
        if not note.tested and hits[rule]:
            lines.append(f"{note.summary} ({_would_match(hits[rule], len(verdicts))})")
        else:
            lines.append(note.summary)
    return lines


def _would_match(hits: int, articles: int) -> str:
    if articles == 1:
        return "it would match"
    return f"it would match {hits} of the {articles} articles"


def condition_json(condition: Condition) -> dict[str, Any]:
    """A condition and its parts (a query's sub-expressions, by their text), as a tree."""
    return {
        "condition": condition.name,
        "held": condition.held,
        "detail": condition.detail,
        "parts": [condition_json(part) for part in condition.parts],
    }
