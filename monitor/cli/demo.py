"""A short tour with sample feeds on this machine: no network, no setup.

It polls three sample feeds twice, served on 127.0.0.1: the first poll records their items
without alerting; then a breaking item matches the example rule caucasus-peace, and the
alert goes to the console and to a local webhook catcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import shutil
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Self, TextIO
from xml.sax.saxutils import unescape

import click
import httpx
from aiohttp import web
from rich.console import Console
from rich.text import Text

from monitor.cli.common import run_async
from monitor.config import MonitorConfig, Settings, load_config, load_settings
from monitor.config.defaults import default_rules_dir
from monitor.errors import MonitorError
from monitor.logging import configure_logging
from monitor.models import Alert, PollStatus, RuleSpec
from monitor.notify import (
    ConsoleNotifier,
    build_notifiers,
    check_notifier_options,
    create_webhook_client,
)
from monitor.service import PollTally, Service
from monitor.store import open_store

__all__ = ["SAMPLE_FEEDS", "DemoError", "DemoReport", "demo", "route_rule", "run_demo"]

DEMO_DATA = "demo_data"
BREAKING_ITEM = "breaking-item.xml"
EXAMPLE_RULE = "caucasus-peace"
CONSOLE_ID = "console"  # the shipped example rules notify a notifier of this id
WEBHOOK_ID = "catcher"
WEBHOOK_PATH = "/hook"
HOST = "127.0.0.1"  # the only host the demo talks to
DEADLINE = 60.0  # seconds for the whole tour; it takes about one
SHOWN_CHARS = 72  # longer strings of the webhook payload are cut when printed
_STATUS_WORDS = {
    PollStatus.NEW_ITEMS: "fetched and parsed",
    PollStatus.NOT_MODIFIED: "not modified (304: the server had nothing new)",
    PollStatus.UNCHANGED: "unchanged (the same body as last time)",
    PollStatus.FAILED: "failed",
}


@dataclass(frozen=True, slots=True)
class SampleFeed:
    id: str
    file: str  # in demo_data/, served at /<file>
    content_type: str
    tags: tuple[str, ...]

    @property
    def path(self) -> str:
        return f"/{self.file}"


SAMPLE_FEEDS = (
    SampleFeed("wire", "world-wire.xml", "application/rss+xml; charset=utf-8", ("world", "wire")),
    SampleFeed("science", "science-desk.atom", "application/atom+xml; charset=utf-8", ("science",)),
    SampleFeed("notes", "field-notes.json", "application/feed+json; charset=utf-8", ("blog",)),
)
BREAKING_FEED = SAMPLE_FEEDS[0]


class DemoError(MonitorError):
    """The demo cannot run as shipped (a changed example rule, a used --keep folder)."""


@dataclass(frozen=True)
class Caught:
    """One request the webhook catcher received."""

    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Stored:
    """What the store holds after a round."""

    articles: Mapping[str, int]  # feed id -> articles, in the config's order
    alerts: tuple[Alert, ...]  # newest first


@dataclass(frozen=True)
class DemoReport:
    """What the tour did: each round's tally, the store after it, what the catcher got."""

    first: PollTally
    second: PollTally
    stored: Stored
    caught: tuple[Caught, ...]
    workdir: Path
    kept: bool
    ports: tuple[int, int]  # the feed server's and the webhook catcher's

    @property
    def payloads(self) -> list[Any]:
        return [request.json() for request in self.caught]


# ---- the two local servers -------------------------------------------------------------------
class LocalServer(ABC):
    """An aiohttp server on 127.0.0.1 and a free port, in the running event loop; subclasses
    answer the requests."""

    def __init__(self) -> None:
        self.port = 0
        self._runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    @abstractmethod
    async def handle(self, request: web.Request) -> web.StreamResponse: ...

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class FeedHost(LocalServer):
    """Serves feed bodies with an ETag, and 304 to a client whose copy is current."""

    def __init__(self) -> None:
        super().__init__()
        self._documents: dict[str, tuple[bytes, str]] = {}

    def serve(self, path: str, body: bytes, content_type: str) -> str:
        self._documents[path] = (body, content_type)
        return self.url(path)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path not in self._documents:
            return web.Response(status=404, text="not found")
        body, content_type = self._documents[request.path]
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:  # RFC 9110 §13.1.2
            return web.Response(status=304, headers={"ETag": etag})
        headers = {"ETag": etag, "Content-Type": content_type}
        return web.Response(status=200, body=body, headers=headers)


class WebhookCatcher(LocalServer):
    """Answers 200 to every request and keeps it."""

    def __init__(self) -> None:
        super().__init__()
        self.caught: list[Caught] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.caught.append(Caught(headers, await request.read()))
        return web.Response(status=200, text="ok")


# ---- the working folder ------------------------------------------------------------------------
def read_sample(name: str) -> bytes:
    return (resources.files("monitor") / DEMO_DATA / name).read_bytes()


def with_breaking_item(feed: bytes, item: bytes) -> bytes:
    """The RSS document with `item` added before its first item (feeds list newest first)."""
    at = feed.find(b"<item>")
    if at < 0:
        raise DemoError("the sample feed has no <item> to put the breaking item before")
    return feed[:at] + item.strip() + b"\n        " + feed[at:]


def route_rule(text: str, rule_id: str, notifier_ids: Sequence[str]) -> str:
    """A rule file's text with the `notify:` of `rule_id` set to `notifier_ids`, comments kept.
    A rule without `notify` alerts every notifier already, and is left as it is."""
    lines = text.splitlines(keepends=True)
    opening = re.compile(rf"(\s*)- id: ['\"]?{re.escape(rule_id)}['\"]?\s*")
    start = next((i for i, line in enumerate(lines) if opening.fullmatch(line)), None)
    if start is None:
        return text
    indent = _depth(lines[start]) + 2  # the rule's keys
    for i in range(start + 1, len(lines)):
        body, depth = lines[i].lstrip(), _depth(lines[i])
        if body.strip() and not body.startswith("#") and depth < indent:
            break  # the next rule, or the end of the list
        if depth == indent and body.startswith("notify:"):
            end = i + 1  # a block list's items are indented deeper
            while end < len(lines) and lines[end].strip() and _depth(lines[end]) > indent:
                end += 1
            lines[i:end] = [f"{' ' * indent}notify: [{', '.join(notifier_ids)}]\n"]
            break
    return "".join(lines)


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def monitor_yaml(feed_urls: Mapping[str, str], webhook_url: str) -> str:
    lines = [
        "# Written by `monitor demo`. Its feeds were served on 127.0.0.1 while the demo ran.",
        "feeds:",
    ]
    for feed in SAMPLE_FEEDS:
        lines += [f"  - id: {feed.id}", f"    url: {feed_urls[feed.id]}", "    interval: 10m"]
        lines.append(f"    tags: [{', '.join(feed.tags)}]")
    lines += [
        "rules: [rules/]                  # the shipped example rules, copied",
        "notifiers:",
        f"  - id: {CONSOLE_ID}                 # prints alerts on the terminal",
        "    type: console",
        f"  - id: {WEBHOOK_ID}                 # POSTs the JSON payload to the demo's catcher",
        "    type: webhook",
        f"    url: {webhook_url}",
        "    format: json",
        "    timeout: 5s",
    ]
    return "\n".join(lines) + "\n"


def write_workdir(workdir: Path, feed_urls: Mapping[str, str], webhook_url: str) -> Path:
    """monitor.yaml, rules/ (the shipped ones, caucasus-peace also sent to the catcher) and a
    .env naming monitor.db, so that `monitor alerts` run in the folder finds the store."""
    copy_rules(default_rules_dir(), workdir / "rules")
    (workdir / ".env").write_text(
        "MONITOR_DATABASE_URL=sqlite+aiosqlite:///monitor.db\n", encoding="utf-8"
    )
    config = workdir / "monitor.yaml"
    config.write_text(monitor_yaml(feed_urls, webhook_url), encoding="utf-8")
    return config


def copy_rules(source: Path, target: Path) -> None:
    """The rule files and their notes, with the example rule routed to the webhook too. Only
    the contents are copied: an installed package's read-only modes would outlive the demo."""
    for path in sorted(source.rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".md") or not path.is_file():
            continue
        copy = target / path.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text(encoding="utf-8")
        if path.suffix != ".md":
            text = route_rule(text, EXAMPLE_RULE, (CONSOLE_ID, WEBHOOK_ID))
        copy.write_text(text, encoding="utf-8")


def prepare_workdir(workdir: Path | None) -> tuple[Path, bool]:
    """The folder to work in and whether to keep it: `workdir` (created; it must be empty),
    else a new temporary one."""
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix="monitor-demo-")), False
    workdir.mkdir(parents=True, exist_ok=True)
    if any(workdir.iterdir()):
        raise DemoError(f"{workdir} is not empty: give --keep a new or empty folder")
    return workdir.resolve(), True


def load_demo(workdir: Path, config_path: Path) -> tuple[Settings, MonitorConfig]:
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{workdir / 'monitor.db'}",
        connect_timeout=2.0,
        read_timeout=5.0,
        fetch_timeout=10.0,
    )
    config = load_config(settings, config_path)
    check_notifier_options(config.notifier_checks)
    routes = {n.id for n in config.notifiers_for(_example_rule(config))}
    if WEBHOOK_ID not in routes:
        raise DemoError(f"rule {EXAMPLE_RULE} could not be routed to the webhook catcher")
    return settings, config


def _example_rule(config: MonitorConfig) -> RuleSpec:
    try:
        return config.rule(EXAMPLE_RULE)
    except KeyError:
        raise DemoError(f"the shipped example rules have no rule {EXAMPLE_RULE}") from None


# ---- the rounds ---------------------------------------------------------------------------------
async def run_round(
    settings: Settings, config: MonitorConfig, out: TextIO, client: httpx.AsyncClient
) -> PollTally:
    """`monitor once` on the demo's config, the console notifier writing to `out`."""
    notifiers = dict(build_notifiers(config.notifier_settings(), settings, client))
    notifiers[CONSOLE_ID] = ConsoleNotifier(CONSOLE_ID, out)
    service = Service(settings, config, notifiers=notifiers, parse_in_processes=False)
    return await service.once()


async def read_store(settings: Settings) -> Stored:
    store = await open_store(settings.database_url)
    try:
        counts = {summary.feed.id: summary.articles for summary in await store.list_feeds()}
        alerts = tuple(await store.list_alerts())
    finally:
        await store.close()
    return Stored({f.id: counts.get(f.id, 0) for f in SAMPLE_FEEDS}, alerts)


@click.command("demo", help=__doc__)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Work in DIR (new or empty) and keep its monitor.yaml, rules and database.",
)
@click.option("--verbose", is_flag=True, help="Also log what the service does, on stderr.")
def demo(keep: Path | None, verbose: bool) -> None:
    configure_logging("INFO" if verbose else "WARNING")
    run_async(run_demo(sys.stdout, workdir=keep))


async def run_demo(out: TextIO, *, workdir: Path | None = None) -> DemoReport:
    """The tour, printed on `out`. With `workdir` (new or empty), its files are kept there;
    else they live in a temporary folder, removed at the end. Both servers are stopped."""
    show = Printer(out)
    async with contextlib.AsyncExitStack() as stack:
        folder, kept = await asyncio.to_thread(prepare_workdir, workdir)
        if not kept:
            stack.push_async_callback(asyncio.to_thread, shutil.rmtree, folder, True)
        feeds = await stack.enter_async_context(FeedHost())
        catcher = await stack.enter_async_context(WebhookCatcher())
        samples = {f.id: await asyncio.to_thread(read_sample, f.file) for f in SAMPLE_FEEDS}
        urls = {f.id: feeds.serve(f.path, samples[f.id], f.content_type) for f in SAMPLE_FEEDS}
        hook = catcher.url(WEBHOOK_PATH)
        config_path = await asyncio.to_thread(write_workdir, folder, urls, hook)
        settings, config = await asyncio.to_thread(load_demo, folder, config_path)
        client = create_webhook_client(settings.user_agent)
        stack.push_async_callback(client.aclose)
        show.intro(folder, urls, hook)
        async with asyncio.timeout(DEADLINE):
            show.heading("Round 1: the first poll")
            first = await run_round(settings, config, out, client)
            show.first_round(first, (await read_store(settings)).articles)

            item = await asyncio.to_thread(read_sample, BREAKING_ITEM)
            feed = BREAKING_FEED
            feeds.serve(feed.path, with_breaking_item(samples[feed.id], item), feed.content_type)
            show.heading("Round 2: a breaking item appears")
            show.breaking(feed.id, item)
            second = await run_round(settings, config, out, client)
            stored = await read_store(settings)
            show.second_round(second, stored.alerts, config)
            show.caught(catcher.caught)
        show.next_steps(folder if kept else None)
        ports = (feeds.port, catcher.port)
    return DemoReport(first, second, stored, tuple(catcher.caught), folder, kept, ports)


# ---- what it prints -----------------------------------------------------------------------------
class Printer:
    """Plain lines; bold headings when `out` is a terminal (rich leaves a pipe plain)."""

    def __init__(self, out: TextIO) -> None:
        self._console = Console(file=out, highlight=False, soft_wrap=True, emoji=False)

    def line(self, text: str = "", style: str = "") -> None:
        self._console.print(Text(text, style=style))

    def heading(self, text: str) -> None:
        self.line()
        self.line(text, "bold")

    def intro(self, folder: Path, urls: Mapping[str, str], webhook: str) -> None:
        self.line("monitor demo: a short tour on this machine only (127.0.0.1, no network)", "bold")
        self.line(f"  working folder   {folder}")
        for feed_id, url in urls.items():
            self.line(f"  feed {feed_id:<11} {url}")
        self.line(f"  webhook catcher  {webhook}")
        self.line("  rules            the shipped example rules, copied to rules/")
        self.line(
            f"  notifiers        {CONSOLE_ID} (prints alerts here), {WEBHOOK_ID} (the webhook)"
        )

    def first_round(self, tally: PollTally, articles: Mapping[str, int]) -> None:
        self._polled(tally)
        counts = ", ".join(f"{feed_id} {n}" for feed_id, n in articles.items())
        self.line(f"  stored {_count(tally.recorded, 'new article')} ({counts})")
        alerts = _count(tally.alerts, "alert")
        self.line(f"  {alerts}: a feed's first poll records the items it already has, without")
        self.line("  alerting on them (`backfill: N` on a feed alerts on its newest N)")

    def breaking(self, feed_id: str, item: bytes) -> None:
        title = re.search(rb"<title>(.*?)</title>", item, re.DOTALL)
        headline = unescape(title.group(1).decode()) if title else "?"
        self.line(f'  the feed "{feed_id}" now starts with a new item: {headline}')
        self.line("  polling every feed again; the console notifier prints what it gets:")
        self.line()

    def second_round(
        self, tally: PollTally, alerts: Sequence[Alert], config: MonitorConfig
    ) -> None:
        self.line()
        self._polled(tally)
        self.line(f"  stored {_count(tally.recorded, 'new article')}")
        self.line(f"  {_count(tally.alerts, 'alert')}")
        states = ", ".join(f"{n} {state}" for state, n in sorted(tally.deliveries.items()))
        self.line(f"  deliveries: {states or 'none'}")
        for alert in alerts:
            rule = config.rule(alert.rule_id)
            self._alert(alert, rule.description, [n.id for n in config.notifiers_for(rule)])

    def _polled(self, tally: PollTally) -> None:
        counts = ", ".join(f"{n} {_STATUS_WORDS[s]}" for s, n in sorted(tally.outcomes.items()))
        self.line(f"  polled {_count(tally.polled, 'feed')}: {counts or 'none'}")
        for failure in tally.failures:
            self.line(f"  failed: {failure.error}", "red")

    def _alert(self, alert: Alert, description: str | None, notifiers: Sequence[str]) -> None:
        match = alert.match
        self.heading(f"The alert: rule {alert.rule_id} ({description or 'no description'})")
        self.line(f"  article   {alert.title}")
        self.line(f"  score     {alert.score:g}")
        for n, hit in enumerate(match.keywords):
            self.line(f'  {"terms" if n == 0 else "":<9} "{hit.term}" in {hit.field}')
        for n, actor in enumerate(match.actors):
            mentions = ", ".join(actor.mentions)
            self.line(f"  {'actors' if n == 0 else '':<9} {actor.id}: {mentions}")
        self.line(f"  sent to   {', '.join(notifiers)}")
        self.line("  (an actor is found by any of its names, and a person counts for the country")
        self.line("  they are `part_of`: see rules/actors/)")

    def caught(self, caught: Sequence[Caught]) -> None:
        self.heading(f"What the webhook catcher received: {_count(len(caught), 'POST')}")
        for request in caught:
            self.line(f"  webhook-id: {request.headers.get('webhook-id', '-')}")
            self.line(compact_json(shortened(request.json()), indent="  "))
        self.line(f"  (strings over {SHOWN_CHARS} characters are cut here, not in the payload)")

    def next_steps(self, kept: Path | None) -> None:
        self.heading("What next")
        if kept is not None:
            self.line(f"  The demo's files are in {kept}: `cd {kept} && monitor alerts`")
            self.line("  lists the stored alert (its feeds are gone: the demo's server stopped).")
        else:
            self.line(
                "  `monitor demo --keep DIR` keeps the demo's monitor.yaml, rules and database."
            )
        self.line("  1. Write your own monitor.yaml: your feeds, rules and notifiers (README.md).")
        self.line("  2. monitor check     validates it, naming file:line for each mistake.")
        self.line("  3. monitor run       starts the daemon (`monitor once` polls once and exits).")


def _count(n: int, noun: str) -> str:
    if n == 0:
        return f"no {noun}s"
    return f"{n} {noun}{'s' if n != 1 else ''}"


def shortened(value: Any, limit: int = SHOWN_CHARS) -> Any:
    """`value` with every string longer than `limit` cut, to print a payload readably."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + "…"
    if isinstance(value, list):
        return [shortened(item, limit) for item in value]
    if isinstance(value, dict):
        return {key: shortened(item, limit) for key, item in value.items()}
    return value


def compact_json(value: Any, indent: str = "", width: int = 88) -> str:
    """Indented JSON that keeps a list or object on one line when it fits in `width`."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(indent) + len(flat) <= width or not isinstance(value, dict | list) or not value:
        return indent + flat
    inner = indent + "  "
    if isinstance(value, dict):
        items = [
            _keyed(json.dumps(key, ensure_ascii=False), item, inner, width)
            for key, item in value.items()
        ]
        opening, closing = "{", "}"
    else:
        items = [compact_json(item, inner, width) for item in value]
        opening, closing = "[", "]"
    return f"{indent}{opening}\n" + ",\n".join(items) + f"\n{indent}{closing}"


def _keyed(key: str, value: Any, indent: str, width: int) -> str:
    """`"key": value`, the value laid out by `compact_json` after the key."""
    laid_out = compact_json(value, indent, width - len(key) - 2)
    return f"{indent}{key}: {laid_out[len(indent) :]}"


# ---- the command --------------------------------------------------------------------------------
