"""`monitor test-rule` and `monitor check` on rules, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE
from tests.test_cli import monitor

RULES = """\
actors:
  - id: armenia
    kind: country
    names: [Armenia, Yerevan, Armenian]
  - id: azerbaijan
    kind: country
    names: [Azerbaijan, Baku, Azerbaijani]
rules:
  - id: peace
    actors: {all: [armenia, azerbaijan]}
    keywords: {any: ["peace treaty"], none: [football]}
  - id: sport
    keywords: {any: [football]}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "rules.yaml").write_text(RULES)
    path = tmp_path / "monitor.yaml"
    path.write_text(
        "feeds:\n  - id: wire\n    url: https://example.org/feed.xml\n    tags: [wire]\n"
        "rules: [rules.yaml]\nnotifiers:\n  - id: console\n    type: console\n"
    )
    return path


async def test_text_is_explained_with_terms_actors_and_snippets(
    config: Path, tmp_path: Path
) -> None:
    text = "Peace treaty talks resume\nDiplomats in Yerevan and Baku discussed the peace-treaty."
    code, out, err = await monitor(
        "test-rule", "--config", str(config), "--text", text, "--json", cwd=tmp_path
    )
    assert code == 0, err
    [verdict] = json.loads(out)
    [match] = verdict["matches"]
    assert match["rule"] == "peace" and match["score"] > 0
    assert {hit["field"] for hit in match["keywords"]} == {"title", "content"}
    mentions = {actor["id"]: actor["mentions"] for actor in match["actors"]}
    assert mentions == {"armenia": ["Yerevan"], "azerbaijan": ["Baku"]}


async def test_why_not_names_the_failing_condition(config: Path, tmp_path: Path) -> None:
    text = "Football: Armenia beat Azerbaijan\nA peace treaty of sorts on the pitch."
    code, out, err = await monitor(
        "test-rule", "--config", str(config), "--text", text, "--why-not", "peace", cwd=tmp_path
    )
    assert code == 0, err
    assert "no rule matches" not in out  # "sport" matches
    assert "rule peace does not match" in out
    failing = [line for line in out.splitlines() if "FAIL" in line]
    assert failing and "football" in failing[0].lower()


async def test_why_not_on_a_query_explains_each_part_for_the_query(
    config: Path, tmp_path: Path
) -> None:
    (tmp_path / "rules.yaml").write_text(
        RULES + "  - id: query\n    query: '\"peace treaty\" AND @armenia AND NOT football'\n"
    )
    text = "Peace treaty signed\nIn Yerevan, at last."
    args = ("test-rule", "query", "--config", str(config), "--text", text, "--why-not", "query")
    code, out, err = await monitor(*args, cwd=tmp_path)
    assert code == 0, err
    assert out.splitlines()[-4:] == [
        '    ok   query: "peace treaty" AND @armenia AND NOT football holds',
        '      ok   "peace treaty" found in title',
        "      ok   @armenia found in content (Yerevan)",
        "      ok   NOT football: football not found",
    ]
    code, out, err = await monitor(*args, "--json", cwd=tmp_path)
    assert code == 0, err
    [query] = json.loads(out)[0]["why_not"]["conditions"]
    assert query["held"] and query["condition"] == "query"
    assert [(part["condition"], part["held"]) for part in query["parts"]] == [
        ('"peace treaty"', True),
        ("@armenia", True),
        ("NOT football", True),
    ]
    assert query["parts"][2]["detail"] == "NOT football: football not found"


WIRE_ONLY = """\
  - id: wire-peace
    feeds: [wire, "tag:wire"]
    keywords: {any: ["peace treaty"]}
"""
PEACE_TEXT = "Peace treaty signed\nIn Yerevan and Baku."


async def test_without_feed_the_rules_with_feeds_are_named_as_skipped(
    config: Path, tmp_path: Path
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES + WIRE_ONLY)
    args = ("test-rule", "--config", str(config), "--text", PEACE_TEXT)
    code, out, err = await monitor(*args, cwd=tmp_path)
    assert code == 0, err
    assert "match wire-peace" not in out
    assert out.splitlines()[-1] == (
        "skipped wire-peace: it watches only feeds wire, tag:wire;"
        " pass --feed ID to test it as from one of them (it would match)"
    )
    assert "feed test" not in out  # the pseudo-feed of a text from no feed never shows
    code, out, err = await monitor(*args, "--json", cwd=tmp_path)
    assert code == 0, err
    [verdict] = json.loads(out)
    assert [m["rule"] for m in verdict["matches"]] == ["peace"]
    [skipped] = verdict["skipped"]
    assert skipped["rule"] == "wire-peace" and skipped["feeds"] == ["wire", "tag:wire"]
    assert skipped["would_match"] is True and "--feed ID" in skipped["reason"]

    # As from one of its feeds, the rule is tested like any other and nothing is skipped.
    code, out, err = await monitor(*args, "--feed", "wire", "--json", cwd=tmp_path)
    assert code == 0, err
    [verdict] = json.loads(out)
    assert [m["rule"] for m in verdict["matches"]] == ["peace", "wire-peace"]
    assert verdict["skipped"] == []


async def test_a_skipped_rule_is_named_once_for_a_whole_feed(config: Path, tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(RULES + WIRE_ONLY)
    feed = tmp_path / "saved.xml"
    feed.write_text(
        '<rss version="2.0"><channel><title>t</title>'
        "<item><guid>1</guid><title>Peace treaty signed</title></item>"
        "<item><guid>2</guid><title>Weather</title></item></channel></rss>"
    )
    args = ("test-rule", "--config", str(config), "--file", str(feed))
    code, out, err = await monitor(*args, cwd=tmp_path)
    assert code == 0, err
    skipped = [line for line in out.splitlines() if line.startswith("skipped")]
    assert skipped == [
        "skipped wire-peace: it watches only feeds wire, tag:wire;"
        " pass --feed ID to test it as from one of them (it would match 1 of the 2 articles)"
    ]
    code, out, err = await monitor(*args, "--json", cwd=tmp_path)
    assert [[s["would_match"] for s in v["skipped"]] for v in json.loads(out)] == [[True], [False]]


async def test_a_rule_with_feeds_named_without_feed_is_tested_and_says_so(
    config: Path, tmp_path: Path
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES + WIRE_ONLY)
    args = ("test-rule", "wire-peace", "--config", str(config), "--text", PEACE_TEXT)
    code, out, err = await monitor(*args, "--why-not", "wire-peace", cwd=tmp_path)
    assert code == 0, err
    assert "  match wire-peace (score 2)" in out
    assert "    ok   feeds: not checked without a feed: it watches only [wire, tag:wire]" in out
    assert out.splitlines()[-1].startswith(
        "note: wire-peace watches only feeds wire, tag:wire: tested as if from one of them"
    )
    assert "skipped" not in out and "feed test" not in out
    code, out, err = await monitor(*args, "--json", cwd=tmp_path)
    [verdict] = json.loads(out)
    assert [m["rule"] for m in verdict["matches"]] == ["wire-peace"]
    assert verdict["feeds_not_checked"] == [{"rule": "wire-peace", "feeds": ["wire", "tag:wire"]}]


async def test_a_rule_named_with_a_feed_it_does_not_watch_says_it_cannot_match(
    tmp_path: Path,
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES + WIRE_ONLY)
    config = tmp_path / "monitor.yaml"
    config.write_text(
        "feeds:\n  - id: wire\n    url: https://example.org/feed.xml\n    tags: [wire]\n"
        "  - id: blog\n    url: https://example.org/blog.xml\n"
        "rules: [rules.yaml]\nnotifiers:\n  - id: console\n    type: console\n"
    )
    args = ("test-rule", "wire-peace", "--config", str(config), "--text", PEACE_TEXT)
    code, out, err = await monitor(*args, "--feed", "blog", cwd=tmp_path)
    assert code == 0, err
    assert out.splitlines()[-2:] == [
        "  no rule matches",
        "note: wire-peace watches only feeds wire, tag:wire, not blog:"
        " it cannot match an article from it",
    ]
    code, out, err = await monitor(*args, "--feed", "blog", "--json", cwd=tmp_path)
    assert code == 0, err
    [verdict] = json.loads(out)
    assert verdict["not_watched"] == [
        {"rule": "wire-peace", "feeds": ["wire", "tag:wire"], "feed": "blog"}
    ]


async def test_a_saved_feed_file_is_tested_article_by_article(config: Path, tmp_path: Path) -> None:
    feed = tmp_path / "saved.xml"
    feed.write_text(
        '<rss version="2.0"><channel><title>t</title>'
        "<item><guid>1</guid><title>Peace treaty for Armenia and Azerbaijan</title></item>"
        "<item><guid>2</guid><title>Weather</title></item></channel></rss>"
    )
    code, out, err = await monitor(
        "test-rule", "peace", "--config", str(config), "--file", str(feed), "--json", cwd=tmp_path
    )
    assert code == 0, err
    verdicts = json.loads(out)
    assert [len(v["matches"]) for v in verdicts] == [1, 0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--text", "x", "nosuchrule"], "no rule 'nosuchrule'"),
        (["--file", "/nonexistent/file.xml"], "/nonexistent/file.xml"),
        (["--url", "http://127.0.0.1:9/feed.xml"], "connection refused"),
        (["--text", "x", "--feed", "nosuchfeed"], "no feed 'nosuchfeed'"),
    ],
    ids=["unknown-rule", "missing-file", "unreachable-url", "unknown-feed"],
)
async def test_bad_input_exits_2_with_a_clear_message(
    config: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    code, _out, err = await monitor("test-rule", "--config", str(config), *args, cwd=tmp_path)
    assert code == 2
    assert message in err
    assert "feed test" not in err


async def test_check_reports_rule_errors_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n"
        "  - id: broken-query\n"
        "    query: '(peace AND treaty'\n"  # line 3
        "  - id: broken-regex\n"
        "    keywords: {any: ['re:(a)\\1']}\n"  # line 5
        "  - id: unknown-actor\n"
        "    actors: {any: [atlantis]}\n"  # line 7
    )
    config = tmp_path / "monitor.yaml"
    config.write_text(
        "feeds:\n  - id: wire\n    url: https://example.org/feed.xml\n"
        "rules: [rules.yaml]\nnotifiers:\n  - id: console\n    type: console\n"
    )
    code, out, err = await monitor("check", "--config", str(config), cwd=tmp_path)
    assert code == 2, out
    located = {line.split(":")[1] for line in err.splitlines() if line.startswith("rules.yaml:")}
    assert located == {"5", "7"}, err

    # The query is compiled once the files load: its error has the line and the column.
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - id: broken-query\n    query: '(peace AND treaty'\n"
    )
    code, out, err = await monitor("check", "--config", str(config), cwd=tmp_path)
    assert code == 2, out
    assert err.startswith("rules.yaml:3: rules[0].query:"), err
    assert "column" in err


async def test_the_shipped_rules_catch_the_example_article(tmp_path: Path) -> None:
    code, out, err = await monitor(
        "test-rule", "caucasus-peace", "--file", str(EXAMPLE), "--json", cwd=tmp_path
    )
    assert code == 0, err
    [verdict] = json.loads(out)
    [match] = verdict["matches"]
    actors = {actor["id"] for actor in match["actors"]}
    assert {"armenia", "azerbaijan", "russia"} <= actors
