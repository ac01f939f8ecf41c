"""From a feed on a local server to a stored alert, with the shipped rules and dictionaries."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from tests.conftest import EXAMPLE, REPO
from tests.feedserver import Document, FeedServer
from tests.test_cli import monitor
from tests.test_pipeline import rss


def example_article() -> tuple[str, str]:
    """The example article's title (its first line) and body."""
    text = EXAMPLE.read_text(encoding="utf-8")
    title, _, body = text.partition("\n")
    return title.strip(), body.strip()


async def test_the_example_article_raises_one_alert_with_its_actors(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    old = [("old-1", "Weather in Lisbon", "Sunny"), ("old-2", "Markets close higher", "Stocks")]
    path = "/tass.xml"
    url = feed_server.serve(path, Document.of(rss(*old)))
    (tmp_path / "monitor.yaml").write_text(
        f"feeds:\n  - id: tass\n    url: {url}\n    tags: [wire]\n"
        f"rules: [{REPO / 'rules'}]\n"
        "notifiers:\n  - id: console\n    type: console\n"
    )
    code, out, err = await monitor("once", cwd=tmp_path)
    assert code == 0, err
    assert "0 alerts" in out  # the first poll records the feed's items without alerting

    title, body = example_article()
    item = ("kopirkin", escape(title), escape(body))
    feed_server.serve(path, Document.of(rss(item, *old)))
    code, out, err = await monitor("once", cwd=tmp_path)
    assert code == 0, err
    assert "1 alerts" in out or "1 alert" in out
    assert "ALERT caucasus-peace" in out  # the console notifier printed it
    assert "deliveries:" in out and "sent" in out

    code, out, err = await monitor("alerts", "--json", cwd=tmp_path)
    assert code == 0, err
    alerts = json.loads(out)
    peace = [a for a in alerts if a["rule"] == "caucasus-peace"]
    assert len(peace) == 1, alerts
    alert = peace[0]
    assert alert["url"] == "https://news.example/kopirkin"
    actors = {actor["id"]: actor for actor in alert["matches"]["actors"]}
    assert {"armenia", "azerbaijan", "russia"} <= set(actors)
    russia = set(actors["russia"]["mentions"])
    assert {"Moscow", "Russian"} <= russia
    assert any("Kopirkin" in mention for mention in russia)
    terms = {hit["term"].lower() for hit in alert["matches"]["keywords"]}
    assert "peace treaty" in terms

    code, out, err = await monitor("once", cwd=tmp_path)
    assert code == 0, err
    code, out, err = await monitor("alerts", "--json", cwd=tmp_path)
    assert len([a for a in json.loads(out) if a["rule"] == "caucasus-peace"]) == 1
