"""`monitor demo`: the tour end to end (its servers, the service, the console and the webhook),
its --keep folder, its bundled sample feeds and the command as a user runs it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html import unescape
from importlib import resources
from io import StringIO
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from monitor.cli.demo import (
    BREAKING_ITEM,
    CONSOLE_ID,
    EXAMPLE_RULE,
    SAMPLE_FEEDS,
    WEBHOOK_ID,
    DemoError,
    DemoReport,
    demo,
    load_demo,
    read_sample,
    route_rule,
    run_demo,
    with_breaking_item,
    write_workdir,
)
from monitor.config import load_settings
from monitor.config.defaults import default_rules_dir
from monitor.match import ArticleText
from monitor.models import PollStatus
from monitor.parse import parse_feed
from monitor.service import compile_matcher
from monitor.store import open_store
from tests.test_cli import monitor

DEMO_DATA = resources.files("monitor") / "demo_data"
# DESIGN.md, "Webhook payload": the keys of each object, in order.
PAYLOAD_KEYS = ["id", "detected_at", "rule", "article", "matches", "score"]
ARTICLE_KEYS = ["key", "title", "url", "published", "summary", "authors", "feed"]
FAKE_URLS = {feed.id: f"http://127.0.0.1:9/{feed.file}" for feed in SAMPLE_FEEDS}


def sample_items() -> int:
    """How many items the sample feeds hold, counted without the package's parser."""
    total = 0
    for feed in SAMPLE_FEEDS:
        body = read_sample(feed.file)
        if feed.file.endswith(".json"):
            total += len(json.loads(body)["items"])
        else:
            total += body.count(b"<item>") + body.count(b"<entry>")
    return total


async def assert_nothing_listens(port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()


def section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end)]


@pytest.fixture(scope="module")
def tour() -> Iterator[tuple[DemoReport, str]]:
    """One run of the tour (about a second), shared by the tests that read it."""
    out = StringIO()
    report = asyncio.run(run_demo(out))
    yield report, out.getvalue()


# ---- the tour -----------------------------------------------------------------------------------
def test_round_one_records_every_item_and_alerts_on_none(tour: tuple[DemoReport, str]) -> None:
    report, text = tour
    assert report.first.outcomes == {PollStatus.NEW_ITEMS: len(SAMPLE_FEEDS)}
    assert report.first.recorded == sample_items()
    assert report.first.alerts == 0
    first = section(text, "Round 1", "Round 2")
    assert "no alerts" in first
    assert f"stored {sample_items()} new articles" in first
    assert "ALERT" not in first


def test_round_two_alerts_once_for_the_example_article(tour: tuple[DemoReport, str]) -> None:
    report, text = tour
    assert report.second.alerts == 1 and report.second.recorded == 1
    # Only the changed feed is downloaded again: the others answer 304 to the ETag.
    assert report.second.outcomes == {
        PollStatus.NEW_ITEMS: 1,
        PollStatus.NOT_MODIFIED: len(SAMPLE_FEEDS) - 1,
    }
    assert report.second.deliveries == {"sent": 2}  # the console and the webhook
    [alert] = report.stored.alerts
    assert alert.rule_id == EXAMPLE_RULE
    actors = {hit.id: hit.mentions for hit in alert.match.actors}
    assert {"armenia", "azerbaijan", "russia"} <= set(actors)
    assert {"Moscow", "Russian"} <= set(actors["russia"])
    assert any("Kopirkin" in mention for mention in actors["russia"])
    assert "peace treaty" in {hit.term for hit in alert.match.keywords}

    second = section(text, "Round 2", "What next")
    assert f"ALERT {EXAMPLE_RULE}" in second  # the console notifier's own block
    assert "1 alert" in second and "2 not modified" in second
    assert re.search(r"russia: .*Moscow", second)
    assert f"score     {alert.score:g}" in second


def test_the_webhook_catcher_gets_the_design_payload(tour: tuple[DemoReport, str]) -> None:
    report, text = tour
    [request] = report.caught
    [payload] = report.payloads
    [alert] = report.stored.alerts
    assert list(payload) == PAYLOAD_KEYS
    assert list(payload["article"]) == ARTICLE_KEYS
    assert list(payload["article"]["feed"]) == ["id", "title", "url"]
    assert list(payload["rule"]) == ["id", "description"]
    assert list(payload["matches"]) == ["keywords", "actors"]
    assert all(list(hit) == ["term", "field", "snippet"] for hit in payload["matches"]["keywords"])
    assert all(list(hit) == ["id", "name", "mentions"] for hit in payload["matches"]["actors"])
    assert payload["id"] == alert.id and payload["rule"]["id"] == EXAMPLE_RULE
    assert payload["article"]["feed"]["id"] == "wire"
    assert request.headers["webhook-id"] and request.headers["content-type"].startswith(
        "application/json"
    )
    printed = section(text, "What the webhook catcher received", "What next")
    assert alert.id in printed and request.headers["webhook-id"] in printed
    assert max(len(line) for line in printed.splitlines()) < 120  # long strings are cut


async def test_the_tour_leaves_nothing_behind(tour: tuple[DemoReport, str]) -> None:
    report, text = tour
    assert not report.kept and not report.workdir.exists()
    for port in report.ports:
        await assert_nothing_listens(port)
    assert "monitor check" in text and "monitor run" in text and "monitor.yaml" in text


# ---- --keep DIR ---------------------------------------------------------------------------------
async def test_keep_leaves_a_folder_where_monitor_finds_the_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = tmp_path / "kept"
    report = await run_demo(StringIO(), workdir=kept)
    assert report.kept and report.workdir == kept.resolve()
    names = set(await asyncio.to_thread(os.listdir, kept))
    assert {"monitor.yaml", "monitor.db", ".env", "rules"} <= names
    for port in report.ports:
        await assert_nothing_listens(port)

    # What `cd DIR && monitor alerts` reads: ./.env names ./monitor.db.
    monkeypatch.chdir(kept)
    store = await open_store(load_settings().database_url)
    try:
        alerts = await store.list_alerts()
    finally:
        await store.close()
    assert [alert.rule_id for alert in alerts] == [EXAMPLE_RULE]


async def test_keep_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DemoError, match="not empty"):
        await run_demo(StringIO(), workdir=tmp_path)
    assert await asyncio.to_thread(os.listdir, tmp_path) == ["notes.txt"]


# ---- the working folder's config ----------------------------------------------------------------
RULES = """\
rules:
  - id: other
    keywords: {any: [x]}
    notify: [console]
  - id: caucasus-peace
    # a comment that stays
    keywords: {any: [y]}
NOTIFY
  - id: last
    keywords: {any: [z]}
"""


@pytest.mark.parametrize(
    ("notify", "expected"),
    [
        ("    notify: [console]", "    notify: [console, catcher]"),
        ("    notify:\n      - console\n      - ops", "    notify: [console, catcher]"),
        ("    notify: [console]  # a comment", "    notify: [console, catcher]"),
        (
            "    notify:\n      - console\n    description: a-b",
            "    notify: [console, catcher]\n    description: a-b",
        ),
        ("    description: no notify at all", "    description: no notify at all"),
    ],
    ids=[
        "flow-list",
        "block-list",
        "trailing-comment",
        "block-list-then-a-key",
        "no-notify-means-every-notifier",
    ],
)
def test_route_rule_changes_only_that_rules_notify(notify: str, expected: str) -> None:
    text = RULES.replace("NOTIFY", notify)
    routed = route_rule(text, "caucasus-peace", ["console", "catcher"])
    assert routed == RULES.replace("NOTIFY", expected)
    assert route_rule(text, "missing-rule", ["catcher"]) == text


def test_the_shipped_rules_are_copied_with_only_the_example_rule_rerouted(
    tmp_path: Path,
) -> None:
    config_path = write_workdir(tmp_path, FAKE_URLS, "http://127.0.0.1:9/hook")
    settings, config = load_demo(tmp_path, config_path)
    assert [n.id for n in config.notifiers_for(config.rule(EXAMPLE_RULE))] == [
        CONSOLE_ID,
        WEBHOOK_ID,
    ]
    shipped = yaml.safe_load((default_rules_dir() / "example.yaml").read_text(encoding="utf-8"))
    copied = yaml.safe_load((tmp_path / "rules" / "example.yaml").read_text(encoding="utf-8"))
    for before, after in zip(shipped["rules"], copied["rules"], strict=True):
        if before["id"] == EXAMPLE_RULE:
            after.pop("notify", None)
            before.pop("notify", None)
        assert before == after
    assert "monitor.db" in settings.database_url and str(tmp_path) in settings.database_url


# ---- the bundled sample feeds -------------------------------------------------------------------
def test_the_sample_feeds_parse_cleanly_and_match_no_shipped_rule(tmp_path: Path) -> None:
    _, config = load_demo(tmp_path, write_workdir(tmp_path, FAKE_URLS, "http://127.0.0.1:9/h"))
    matcher = compile_matcher(config)
    formats = set()
    for feed in SAMPLE_FEEDS:
        parsed = parse_feed(
            read_sample(feed.file), feed_id=feed.id, url=FAKE_URLS[feed.id],
            content_type=feed.content_type,
        )  # fmt: skip
        assert parsed.warning is None and parsed.articles, feed.file
        formats.add(parsed.format[:3])
        for article in parsed.articles:
            assert not matcher.match(ArticleText.from_article(article), feed_id=feed.id)
    assert formats == {"rss", "ato", "jso"}  # RSS, Atom and JSON Feed


def test_the_breaking_item_matches_only_the_example_rule(tmp_path: Path) -> None:
    _, config = load_demo(tmp_path, write_workdir(tmp_path, FAKE_URLS, "http://127.0.0.1:9/h"))
    wire = SAMPLE_FEEDS[0]
    body = with_breaking_item(read_sample(wire.file), read_sample(BREAKING_ITEM))
    parsed = parse_feed(body, feed_id=wire.id, url=FAKE_URLS[wire.id])
    first = parsed.articles[0]
    matches = compile_matcher(config).match(ArticleText.from_article(first), feed_id=wire.id)
    assert [m.rule_id for m in matches] == [EXAMPLE_RULE]
    assert len(parsed.articles) == len(read_sample(wire.file).split(b"<item>"))  # one more


def test_the_breaking_item_names_the_actors_the_way_the_example_article_does() -> None:
    wire = SAMPLE_FEEDS[0]
    body = with_breaking_item(read_sample(wire.file), read_sample(BREAKING_ITEM))
    item = ET.fromstring(body).find("channel/item")  # well-formed XML, first item
    assert item is not None
    content = item.findtext("{http://purl.org/rss/1.0/modules/content/}encoded") or ""
    text = " ".join(unescape(p) for p in re.findall(r"<p>(.*?)</p>", content))
    for mention in ("Yerevan", "Baku", "Moscow", "Russian", "Kopirkin", "peace", "normalization"):
        assert mention in text


def test_demo_data_is_small_and_attributed() -> None:
    files = [f for f in DEMO_DATA.iterdir() if f.is_file()]
    assert sum(len(f.read_bytes()) for f in files) <= 100 * 1024
    attribution = (DEMO_DATA / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for file in files:
        if file.name != "ATTRIBUTION.md":
            assert f"`{file.name}`" in attribution, file.name


# ---- the command --------------------------------------------------------------------------------
@pytest.fixture
def _restore_logging() -> Iterator[None]:
    """The command configures the root logger; tests run on in the same process."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("_restore_logging")
def test_the_click_command_runs_the_tour(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    result = CliRunner().invoke(demo, ["--keep", str(kept)])
    assert result.exit_code == 0, result.output
    assert "no alerts" in result.output and f"ALERT {EXAMPLE_RULE}" in result.output
    assert (kept / "monitor.yaml").is_file()
    again = CliRunner().invoke(demo, ["--keep", str(kept)])
    assert again.exit_code == 1 and "not empty" in again.output


async def test_python_m_monitor_demo(tmp_path: Path) -> None:
    code, out, err = await monitor("demo", cwd=tmp_path, timeout=30)
    assert code == 0, err
    assert "Round 1" in out and "no alerts" in out
    assert f"ALERT {EXAMPLE_RULE}" in out and '"detected_at"' in out
    assert "monitor run" in out
    assert "\x1b[" not in out  # a pipe gets plain text
    assert await asyncio.to_thread(os.listdir, tmp_path) == []  # it used a temporary folder
