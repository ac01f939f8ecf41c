"""monitor.yaml: loading, every error kind with its file:line, `${VAR}`, the embedded default."""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.config import (
    ConfigError,
    ConfigErrors,
    FeedConfig,
    MonitorConfig,
    NotifierConfig,
    Settings,
    files,
    load_config,
    resolve_config_path,
)
from monitor.config.defaults import default_rules_dir
from monitor.config.files import load_yaml, parse_yaml
from monitor.config.settings import DURATION_HINT
from tests.conftest import DATA, REPO

CONFIG = DATA / "config"
FEED = "feeds:\n  - id: tass\n    url: https://tass.com/rss/v2.xml\n"

Load = Callable[..., list[str]]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings from an empty folder (no .env, no monitor.yaml), which is also the cwd."""
    monkeypatch.chdir(tmp_path)
    return bare_settings(smtp_host="smtp.example.org", smtp_from="monitor@example.org")


def bare_settings(**values: Any) -> Settings:
    """Settings from the environment only (a stray ./.env is ignored), with `values` set."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def errors_of(settings: Settings, tmp_path: Path) -> Load:
    """Writes ./monitor.yaml and returns the error lines loading it gives."""

    def load(text: str, environ: Mapping[str, str] | None = None) -> list[str]:
        (tmp_path / "monitor.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
        with pytest.raises(ConfigErrors) as caught:
            load_config(settings, Path("monitor.yaml"), environ=environ or {})
        assert all(isinstance(e, ConfigError) for e in caught.value.errors)
        assert str(caught.value) == "\n".join(str(e) for e in caught.value.errors)
        return [str(e) for e in caught.value.errors]

    return load


def test_full_config_loads_every_key(settings: Settings) -> None:
    environ = {"OPS_WEBHOOK_URL": "https://hooks.example.org/T0/abc", "FEED_TOKEN": "t0k"}
    config = load_config(settings, CONFIG / "full" / "monitor.yaml", environ=environ)

    assert config.source == CONFIG / "full" / "monitor.yaml"
    assert not config.embedded
    assert [f.id for f in config.feeds] == ["tass", "bbc-world", "slow"]
    tass, bbc, slow = config.feeds
    assert tass == FeedConfig("tass", "https://tass.com/rss/v2.xml", timedelta(minutes=10),
                              ("russia", "wire"), 0, None,
                              min_interval=timedelta(minutes=10),
                              max_interval=timedelta(minutes=10))  # fmt: skip
    assert bbc.interval == timedelta(hours=1, minutes=30)
    assert bbc.title == "BBC News - World"
    # No bounds and no MONITOR_MAX_INTERVAL: polled at the interval.
    assert (bbc.min_interval, bbc.max_interval) == (bbc.interval, bbc.interval)
    assert (slow.interval, slow.backfill) == (timedelta(hours=1), 5)
    assert (slow.min_interval, slow.max_interval) == (timedelta(minutes=15), timedelta(days=1))
    assert slow.url == "http://127.0.0.1:8080/feed.xml?token=t0k"
    assert config.feed("slow") is slow


def test_max_interval_setting_lets_every_feed_adapt_up_to_it(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text(
        "feeds:\n"
        "  - {id: a, url: 'https://e.org/a', interval: 10m}\n"
        "  - {id: b, url: 'https://e.org/b', interval: 2h}\n"
        "  - {id: c, url: 'https://e.org/c', max_interval: 20m}\n"
    )
    settings = bare_settings(max_interval="1h")

    config = load_config(settings, tmp_path / "monitor.yaml", environ={})

    bounds = {f.id: (f.min_interval, f.max_interval) for f in config.feeds}
    assert bounds == {
        "a": (timedelta(minutes=10), timedelta(hours=1)),
        "b": (timedelta(hours=2), timedelta(hours=2)),  # never below the feed's interval
        "c": (timedelta(minutes=10), timedelta(minutes=20)),  # the feed's own wins
    }


def test_full_config_notifiers(settings: Settings) -> None:
    environ = {"OPS_WEBHOOK_URL": "https://hooks.example.org/T0/abc", "FEED_TOKEN": "t0k"}
    config = load_config(settings, CONFIG / "full" / "monitor.yaml", environ=environ)

    assert [(n.id, n.type) for n in config.notifiers] == [
        ("analysts", "email"),
        ("ops", "webhook"),
        ("screen", "console"),
        ("archive", "file"),
    ]
    analysts = config.notifier("analysts")
    assert analysts.options["to"] == ("analysts@example.org", "desk@example.org")
    assert analysts.mode == "immediate"
    ops = config.notifier("ops")
    assert dict(ops.options) == {
        "url": "https://hooks.example.org/T0/abc",
        "format": "json",
        "secret": "",  # ${OPS_WEBHOOK_SECRET:-}: unset, empty default
    }
    archive = config.notifier("archive")
    assert (archive.mode, archive.options["every"]) == ("digest", "1h")
    assert config.notifier("screen").options == {}
    assert config.ops_notify == ("ops",)


def test_rules_are_expanded_relative_to_the_config_file(settings: Settings) -> None:
    environ = {"OPS_WEBHOOK_URL": "https://hooks.example.org/x", "FEED_TOKEN": "t"}
    config = load_config(settings, CONFIG / "full" / "monitor.yaml", environ=environ)

    folder = (CONFIG / "full").resolve()
    assert config.rule_paths == (folder / "rules", folder / "extra.yml")
    # Recursive and sorted; hidden folders and files that are not YAML are left out.
    assert config.rule_files == (
        folder / "rules" / "caucasus.yaml",
        folder / "rules" / "regions" / "asia.yml",
        folder / "extra.yml",
    )


def test_a_rule_file_named_twice_is_listed_once(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yaml").write_text("rules: []\n")
    (tmp_path / "monitor.yaml").write_text(FEED + "rules: [rules/a.yaml, rules]\n")

    config = load_config(settings, Path("monitor.yaml"))

    assert config.rule_files == (tmp_path / "rules" / "a.yaml",)


def test_missing_interval_takes_the_settings_default(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text(FEED)
    settings = bare_settings(default_interval="90s")

    config = load_config(settings, tmp_path / "monitor.yaml")

    assert config.feeds[0].interval == timedelta(seconds=90)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(minutes=90)),
    ],
    ids=["seconds", "minutes", "days", "combined"],
)
def test_interval_forms(
    settings: Settings, tmp_path: Path, written: str, expected: timedelta
) -> None:
    (tmp_path / "monitor.yaml").write_text(FEED + f"    interval: {written}\n")

    assert load_config(settings, Path("monitor.yaml")).feeds[0].interval == expected


@pytest.mark.parametrize("written", ["10", '"10"', "0"], ids=["number", "quoted", "zero"])
def test_a_duration_without_a_unit_is_refused(errors_of: Load, written: str) -> None:
    number = written.strip('"')

    assert errors_of(FEED + f"    interval: {written}\n") == [
        f"monitor.yaml:4: feeds[0].interval: {written} has no unit: "
        f"write {number}s, {number}m, {number}h or {number}d (e.g. 10m, 30s)"
    ]


ERROR_CASES = [
    pytest.param(
        "feeds:\n  - id: a\n    url: https://x.org/\n   bad: [\n",
        ["monitor.yaml:4: invalid YAML: this line's indentation does not match the lines above"],
        id="yaml-syntax",
    ),
    pytest.param(
        "feeds:\n\t- id: a\n",
        ["monitor.yaml:2: invalid YAML: a tab character cannot indent YAML; use spaces"],
        id="yaml-tab",
    ),
    pytest.param(
        FEED + "    tags: [${TAG}]\n",
        [
            "monitor.yaml:4: invalid YAML: inside [...] or {...}, quote a value that uses ${VAR}: "
            '"${VAR}"'
        ],
        id="yaml-unquoted-reference-in-flow",
    ),
    pytest.param(
        'feeds:\n  - id: "a\n    url: https://x.org/\n',
        ["monitor.yaml:2: invalid YAML: an unclosed quote that started at line 2"],
        id="yaml-unclosed-quote",
    ),
    pytest.param(
        FEED + "    title: Note: this\n",
        [
            'monitor.yaml:4: invalid YAML: a ":" in a value needs quotes (title: "Note: this"), '
            "or this line's indentation does not match the lines above"
        ],
        id="yaml-colon-in-value",
    ),
    pytest.param(
        "feeds: [a, b\nrules: []\n",
        [
            'monitor.yaml:2: invalid YAML: the list that starts on line 1 is not closed with "]", '
            "or a value in it needs quotes"
        ],
        id="yaml-unclosed-list",
    ),
    pytest.param(
        FEED + "    title: *nope\n",
        [
            'monitor.yaml:4: invalid YAML: the alias "*nope" names no anchor: write "&nope" on a '
            "value before it"
        ],
        id="yaml-undefined-alias",
    ),
    pytest.param(
        FEED + "    title: @home\n",
        ['monitor.yaml:4: invalid YAML: "@" cannot start a value: put the value in quotes'],
        id="yaml-reserved-character",
    ),
    pytest.param(
        FEED + "    tags\n    title: x\n",
        [
            'monitor.yaml:4: invalid YAML: a key needs a ":" after it, or a value over several '
            "lines needs quotes"
        ],
        id="yaml-key-without-colon",
    ),
    pytest.param(
        "- id: a\n- id: b\n",
        [
            "monitor.yaml:1: the top level must be a mapping with keys feeds, rules, notifiers and "
            "ops_notify, not a list"
        ],
        id="top-not-mapping",
    ),
    pytest.param(
        "# nothing yet\n",
        ['monitor.yaml:1: the file is empty: it needs at least a "feeds:" list'],
        id="empty-file",
    ),
    pytest.param(
        "notifiers: []\n",
        ['monitor.yaml:1: missing required key "feeds"'],
        id="no-feeds-key",
    ),
    pytest.param(
        FEED + "feed: []\n",
        ['monitor.yaml:4: unknown key "feed" (did you mean "feeds"?)'],
        id="unknown-top-key",
    ),
    pytest.param(
        FEED + "    intervl: 10m\n",
        ['monitor.yaml:4: feeds[0]: unknown key "intervl" (did you mean "interval"?)'],
        id="unknown-feed-key",
    ),
    pytest.param(
        FEED + "    colour: blue\n",
        [
            'monitor.yaml:4: feeds[0]: unknown key "colour": expected id, url, interval, '
            "min_interval, max_interval, tags, backfill or title"
        ],
        id="unknown-key-no-suggestion",
    ),
    pytest.param(
        "feeds:\n  - id: tass\n",
        ['monitor.yaml:2: feeds[0]: missing required key "url"'],
        id="feed-without-url",
    ),
    pytest.param(
        "feeds:\n  - id: a\n    url: https://e.org/a\n    interval: 10m\n    min_interval: 1h\n",
        ["monitor.yaml:5: feeds[0].min_interval: min_interval (1h) is longer than interval (10m)"],
        id="min-interval-above-interval",
    ),
    pytest.param(
        "feeds:\n  - id: a\n    url: https://e.org/a\n    interval: 2h\n    max_interval: 90m\n",
        [
            "monitor.yaml:5: feeds[0].max_interval: max_interval (1h30m) is shorter than interval "
            "(2h)"
        ],
        id="max-interval-below-interval",
    ),
    pytest.param(
        "feeds:\n  - id: a\n    url: https://e.org/a\n    max_interval: soon\n",
        ['monitor.yaml:4: feeds[0].max_interval: "soon" is not a duration: ' + DURATION_HINT],
        id="max-interval-not-a-duration",
    ),
    pytest.param(
        FEED + "  - id: tass\n    url: https://example.org/rss\n",
        [
            'monitor.yaml:4: feeds[1].id: duplicate feed id "tass" '
            "(first used by feeds[0] on line 2)"
        ],
        id="duplicate-feed-id",
    ),
    pytest.param(
        FEED + "notifiers:\n  - {id: screen, type: console}\n  - {id: screen, type: console}\n",
        [
            'monitor.yaml:6: notifiers[1].id: duplicate notifier id "screen" (first used by '
            "notifiers[0] on line 5)"
        ],
        id="duplicate-notifier-id",
    ),
    pytest.param(
        FEED + "    url: https://example.org/rss\n",
        ['monitor.yaml:4: feeds[0]: duplicate key "url" (first on line 3)'],
        id="duplicate-yaml-key",
    ),
    pytest.param(
        "feeds:\n  - id: TASS News\n    url: https://tass.com/rss/v2.xml\n",
        [
            'monitor.yaml:2: feeds[0].id: "TASS News" is not a valid id: use lower-case letters, '
            'digits, "-" and "_" (at most 64 characters)'
        ],
        id="bad-feed-id",
    ),
    pytest.param(
        f"feeds:\n  - id: {'a' * 65}\n    url: https://tass.com/rss/v2.xml\n",
        [
            f'monitor.yaml:2: feeds[0].id: "{"a" * 65}" is not a valid id: use lower-case letters, '
            'digits, "-" and "_" (at most 64 characters)'
        ],
        id="feed-id-too-long",
    ),
    pytest.param(
        FEED + "    interval: 10x\n",
        ['monitor.yaml:4: feeds[0].interval: "10x" is not a duration: use 30s, 5m, 1h or 1d'],
        id="bad-duration",
    ),
    pytest.param(
        FEED + "    interval: 0s\n",
        ['monitor.yaml:4: feeds[0].interval: "0s" is zero: a duration must be at least 1s'],
        id="zero-duration",
    ),
    pytest.param(
        FEED + "    interval: -5m\n",
        ['monitor.yaml:4: feeds[0].interval: "-5m" is negative: a duration must be at least 1s'],
        id="negative-duration",
    ),
    pytest.param(
        FEED + "    interval: 1.5\n",
        ["monitor.yaml:4: feeds[0].interval: 1.5 is not a duration: use 30s, 5m, 1h or 1d"],
        id="float-duration",
    ),
    pytest.param(
        "feeds:\n  - id: a\n    url: ftp://example.org/feed\n",
        [
            'monitor.yaml:3: feeds[0].url: "ftp://example.org/feed" uses "ftp": only http and '
            "https URLs are supported"
        ],
        id="url-not-http",
    ),
    pytest.param(
        "feeds:\n  - id: a\n    url: https:///feed.xml\n",
        [
            'monitor.yaml:3: feeds[0].url: "https:///feed.xml" has no host: expected '
            "http://host/... or https://host/..."
        ],
        id="url-without-host",
    ),
    pytest.param(
        "feeds:\n  - id: a\n    url: tass.com/rss\n",
        [
            'monitor.yaml:3: feeds[0].url: "tass.com/rss" is not a URL: it needs http:// or '
            "https:// in front"
        ],
        id="url-without-scheme",
    ),
    pytest.param(
        "feeds:\n  - id: a\n    url: http://[::1/feed\n",
        [
            "monitor.yaml:3: feeds[0].url: this value is not a URL: expected http://host/... or "
            "https://host/..."
        ],
        id="url-garbage",
    ),
    pytest.param(
        "feeds:\n  - id: a\n    url: https://example.org/my feed\n",
        [
            'monitor.yaml:3: feeds[0].url: "https://example.org/my feed" is not a URL: it contains '
            "whitespace (encode spaces as %20)"
        ],
        id="url-with-space",
    ),
    pytest.param(
        FEED + "    backfill: -1\n",
        ["monitor.yaml:4: feeds[0].backfill: must be 0 or more, not -1"],
        id="negative-backfill",
    ),
    pytest.param(
        FEED + "    backfill: all\n",
        ['monitor.yaml:4: feeds[0].backfill: expected a whole number, not "all"'],
        id="backfill-not-a-number",
    ),
    pytest.param(
        "feeds:\n  - id: a\n    url: ${FEED_URL}\n",
        ["monitor.yaml:3: feeds[0].url: environment variable FEED_URL is not set"],
        id="missing-env-var",
    ),
    pytest.param(
        FEED + "rules: [missing/]\n",
        ['monitor.yaml:4: rules[0]: "missing/" does not exist (looked for {tmp}/missing)'],
        id="rules-path-missing",
    ),
    pytest.param(
        FEED + "rules: [empty]\n",
        [
            'monitor.yaml:4: rules[0]: the folder "empty" holds no *.yaml or *.yml file '
            "({tmp}/empty)"
        ],
        id="rules-folder-empty",
    ),
    pytest.param(
        FEED + "rules: [default_rules]\n",
        [
            'monitor.yaml:4: rules[0]: "default_rules" does not exist (looked for '
            "{tmp}/default_rules)"
        ],
        id="default-rules-only-special-when-embedded",
    ),
    pytest.param(
        FEED + "notifiers:\n  - {id: ops, type: console}\nops_notify: [opps]\n",
        ['monitor.yaml:6: ops_notify[0]: unknown notifier "opps" (did you mean "ops"?)'],
        id="ops-notify-unknown",
    ),
    pytest.param(
        FEED + "ops_notify: [ops]\n",
        ['monitor.yaml:4: ops_notify[0]: unknown notifier "ops": no notifiers are defined'],
        id="ops-notify-without-notifiers",
    ),
    pytest.param(
        FEED + "    tags: russia\n",
        ["monitor.yaml:4: feeds[0].tags: expected a list, not a string (write [russia])"],
        id="string-for-list",
    ),
    pytest.param(
        "feeds:\n  tass: https://tass.com/rss/v2.xml\n",
        ["monitor.yaml:2: feeds: expected a list, not a mapping"],
        id="mapping-for-list",
    ),
    pytest.param(
        "feeds:\n  - https://tass.com/rss/v2.xml\n",
        [
            "monitor.yaml:2: feeds[0]: expected a mapping with keys id, url, interval, "
            "min_interval, max_interval, tags, backfill and title, not a string"
        ],
        id="string-for-feed",
    ),
    pytest.param(
        FEED + "    title: 2024\n",
        [
            "monitor.yaml:4: feeds[0].title: expected a string, not a number (put it in quotes to "
            "make it a string)"
        ],
        id="number-for-string",
    ),
    pytest.param(
        FEED + "notifiers:\n  - id: ops\n    type: slack\n",
        [
            'monitor.yaml:6: notifiers[0].type: "slack" is not a notifier type: use console, file, '
            "email or webhook"
        ],
        id="notifier-type-unknown",
    ),
    pytest.param(
        FEED + "notifiers:\n  - id: ops\n    type: webhok\n",
        [
            'monitor.yaml:6: notifiers[0].type: "webhok" is not a notifier type (did you mean '
            '"webhook"?)'
        ],
        id="notifier-type-typo",
    ),
    pytest.param(
        FEED + "notifiers:\n  - id: ops\n    type: webhook\n",
        ['monitor.yaml:5: notifiers[0]: missing required key "url" for a webhook notifier'],
        id="webhook-without-url",
    ),
    pytest.param(
        FEED + "notifiers:\n  - id: ops\n    type: webhook\n    url: hooks.example.org\n",
        [
            'monitor.yaml:7: notifiers[0].url: "hooks.example.org" is not a URL: it needs http:// '
            "or https:// in front"
        ],
        id="webhook-bad-url",
    ),
    pytest.param(
        FEED + "notifiers:\n  - id: desk\n    type: email\n    to: []\n",
        ["monitor.yaml:7: notifiers[0].to: needs at least one email address"],
        id="email-without-recipients",
    ),
    pytest.param(
        FEED + "notifiers:\n  - id: desk\n    type: email\n    to: [desk]\n",
        ['monitor.yaml:7: notifiers[0].to[0]: "desk" is not an email address'],
        id="email-bad-recipient",
    ),
    pytest.param(
        FEED + "notifiers:\n  - id: log\n    type: file\n",
        ['monitor.yaml:5: notifiers[0]: missing required key "path" for a file notifier'],
        id="file-without-path",
    ),
    pytest.param(
        FEED + "notifiers:\n  - id: log\n    type: console\n    mode: hourly\n",
        [
            'monitor.yaml:7: notifiers[0].mode: "hourly" is not a delivery mode: use immediate or '
            "digest"
        ],
        id="bad-mode",
    ),
    pytest.param(
        FEED + "notifiers:\n  - type: console\n",
        ['monitor.yaml:5: notifiers[0]: missing required key "id"'],
        id="notifier-without-id",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ERROR_CASES)
def test_error(errors_of: Load, tmp_path: Path, text: str, expected: list[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert errors_of(text) == [line.replace("{tmp}", str(tmp_path)) for line in expected]


def test_all_errors_are_reported_in_line_order(settings: Settings) -> None:
    path = CONFIG / "many-errors" / "monitor.yaml"
    with pytest.raises(ConfigErrors) as caught:
        load_config(settings, path, environ={})

    assert [str(e) for e in caught.value.errors] == [
        f'{path}:4: feeds[0]: unknown key "intervl" (did you mean "interval"?)',
        f'{path}:5: feeds[1].id: "Bad Id" is not a valid id: use lower-case letters, digits, '
        '"-" and "_" (at most 64 characters)',
        f'{path}:6: feeds[1].url: "ftp://example.org/feed" uses "ftp": only http and https URLs '
        "are supported",
        f'{path}:7: feeds[1].interval: "10x" is not a duration: use 30s, 5m, 1h or 1d',
        f"{path}:8: feeds[1].backfill: must be 0 or more, not -1",
        f'{path}:9: feeds[2].id: duplicate feed id "tass" (first used by feeds[0] on line 2)',
        f"{path}:14: notifiers[0].url: environment variable OPS_WEBHOOK_URL is not set",
        f'{path}:15: ops_notify[0]: unknown notifier "opps" (did you mean "ops"?)',
        f'{path}:16: unknown key "colour": expected feeds, rules, notifiers or ops_notify',
    ]
    assert [(e.line, e.field) for e in caught.value.errors][:2] == [
        (4, "feeds[0]"),
        (5, "feeds[1].id"),
    ]


@pytest.mark.parametrize(
    ("written", "environ", "expected"),
    [
        ("${HOST}", {"HOST": "news.example.org"}, "news.example.org"),
        ("${HOST:-fallback.example.org}", {}, "fallback.example.org"),
        ("${HOST:-fallback.example.org}", {"HOST": ""}, "fallback.example.org"),
        ("${HOST:-fallback.example.org}", {"HOST": "set.example.org"}, "set.example.org"),
        ("${HOST}:${PORT:-8080}", {"HOST": "h.example.org"}, "h.example.org:8080"),
    ],
    ids=["set", "default-unset", "default-empty", "default-unused", "two-references"],
)
def test_interpolation(
    settings: Settings, tmp_path: Path, written: str, environ: dict[str, str], expected: str
) -> None:
    (tmp_path / "monitor.yaml").write_text(f"feeds:\n  - id: a\n    url: http://{written}/rss\n")

    config = load_config(settings, Path("monitor.yaml"), environ=environ)

    assert config.feeds[0].url == f"http://{expected}/rss"


def test_interpolation_reads_the_environment_then_dotenv(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("HOOK_HOST=dotenv.example.org\nFEED_HOST=dotenv.example.org\n")
    monkeypatch.setenv("FEED_HOST", "env.example.org")
    (tmp_path / "monitor.yaml").write_text(
        "feeds:\n  - id: a\n    url: https://${FEED_HOST}/rss\n"
        "notifiers:\n  - id: ops\n    type: webhook\n    url: https://${HOOK_HOST}/hook\n"
    )

    config = load_config(settings)

    assert config.feeds[0].url == "https://env.example.org/rss"
    assert config.notifier("ops").options["url"] == "https://dotenv.example.org/hook"


def test_interpolation_escape_and_structure(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text(
        FEED
        + "    title: ${TITLE}\n"
        + "    tags: ['${TAG}', 'cost-$${price}']\n"
        + "    backfill: ${BACKFILL:-3}\n"
    )
    # A value holding YAML syntax stays one string: it cannot add keys or list items.
    environ = {"TITLE": "yes", "TAG": "a, b: [c]"}

    feed = load_config(settings, Path("monitor.yaml"), environ=environ).feeds[0]

    assert feed.title == "yes"
    assert feed.tags == ("a, b: [c]", "cost-${price}")
    assert feed.backfill == 3


def test_bad_reference_is_an_error(errors_of: Load) -> None:
    assert errors_of(FEED + "    title: ${1ST} and ${OPEN\n") == [
        'monitor.yaml:4: feeds[0].title: bad reference "${1ST}": use ${VAR} or ${VAR:-default}, '
        "and $${ for a literal ${",
        'monitor.yaml:4: feeds[0].title: bad reference "${": use ${VAR} or ${VAR:-default}, and '
        "$${ for a literal ${",
    ]


def test_variable_values_never_appear_in_messages(errors_of: Load) -> None:
    environ = {"URL": "ftp://hooks.example.org/s3cr3t", "EVERY": "s3cr3t"}
    text = (
        FEED
        + "    interval: ${EVERY}\nnotifiers:\n  - id: ops\n    type: webhook\n    url: ${URL}\n"
    )

    lines = errors_of(text, environ)

    assert lines == [
        'monitor.yaml:4: feeds[0].interval: "${EVERY}" (from the environment) is not a duration: '
        "use 30s, 5m, 1h or 1d",
        'monitor.yaml:8: notifiers[0].url: "${URL}" (from the environment) uses "ftp": only http '
        "and https URLs are supported",
    ]


def test_url_secrets_are_redacted_in_messages(errors_of: Load) -> None:
    lines = errors_of("feeds:\n  - id: a\n    url: ftp://bob:pa55@example.org/?token=t0k\n")

    assert lines == [
        'monitor.yaml:3: feeds[0].url: "ftp://bob:***@example.org/?token=***" uses "ftp": only '
        "http and https URLs are supported"
    ]


def test_embedded_default_when_there_is_no_file(settings: Settings) -> None:
    assert resolve_config_path(settings) is None

    config = load_config(settings)

    assert config.embedded
    assert config.source is not None and config.source.name == "monitor.yaml"
    assert 5 <= len(config.feeds) <= 8
    assert all(f.url.startswith("https://") for f in config.feeds)
    assert all(f.interval == timedelta(minutes=10) for f in config.feeds)
    assert config.notifiers == (NotifierConfig("console", "console"),)
    assert config.rule_paths == (default_rules_dir(),)
    assert config.rule_files
    assert all(path.is_file() and path.suffix in (".yaml", ".yml") for path in config.rule_files)


def test_default_rules_are_the_repository_rules() -> None:
    assert default_rules_dir().resolve() == (REPO / "rules").resolve()


def test_local_monitor_yaml_is_found(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text(FEED)

    config = load_config(settings)

    assert resolve_config_path(settings) == Path("monitor.yaml")
    assert (config.source, config.embedded) == (Path("monitor.yaml"), False)
    assert [f.id for f in config.feeds] == ["tass"]


def test_monitor_config_setting_wins_over_the_local_file(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "monitor.yaml").write_text(FEED)
    (tmp_path / "other.yaml").write_text(FEED.replace("tass", "other"))
    chosen = bare_settings(config=tmp_path / "other.yaml")

    assert [f.id for f in load_config(chosen).feeds] == ["other"]


@pytest.mark.parametrize("how", ["argument", "setting"])
def test_a_missing_explicit_path_is_an_error(settings: Settings, tmp_path: Path, how: str) -> None:
    (tmp_path / "elsewhere.yaml").write_text(FEED)  # never a silent fallback to another file
    missing = Path("monitor.yaml")
    with pytest.raises(ConfigErrors) as caught:
        if how == "argument":
            load_config(settings, missing)
        else:
            load_config(bare_settings(config=missing))

    assert str(caught.value) == "monitor.yaml: file not found"


def test_a_folder_is_not_a_config_file(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors, match=r"^\.: is a folder, not a file$"):
        load_config(settings, Path("."))


def test_models_are_frozen(settings: Settings) -> None:
    config = load_config(settings)
    feed, notifier = config.feeds[0], config.notifiers[0]

    with pytest.raises(dataclasses.FrozenInstanceError):
        config.feeds = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        feed.interval = timedelta(seconds=1)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        notifier.type = "email"  # type: ignore[misc]
    with pytest.raises(TypeError):
        notifier.options["mode"] = "digest"  # type: ignore[index]
    assert hash(feed) == hash(dataclasses.replace(feed))
    assert hash(notifier) == hash(NotifierConfig("console", "console"))


def test_notifier_options_are_frozen_deeply() -> None:
    notifier = NotifierConfig("desk", "email", {"to": ["a@example.org"], "headers": {"X": "1"}})

    assert notifier.options["to"] == ("a@example.org",)
    with pytest.raises(TypeError):
        notifier.options["headers"]["X"] = "2"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id": "Bad"}, "id 'Bad' is not a valid id"),
        ({"url": "ftp://x.org/"}, "url 'ftp://x.org/' uses \"ftp\""),
        ({"interval": timedelta(0)}, "interval must be at least 1s"),
        ({"backfill": -1}, "backfill must be 0 or more"),
    ],
    ids=["id", "url", "interval", "backfill"],
)
def test_feed_config_checks_its_values(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"id": "ok", "url": "https://example.org/rss", **kwargs}
    with pytest.raises(ValueError, match=message):
        FeedConfig(**values)  # type: ignore[arg-type]


def test_lookup_by_id() -> None:
    feed = FeedConfig("tass", "https://tass.com/rss/v2.xml", tags=["wire"])  # type: ignore[arg-type]
    config = MonitorConfig(feeds=[feed], notifiers=[NotifierConfig("screen", "console")])  # type: ignore[arg-type]

    assert feed.tags == ("wire",)
    assert config.feeds == (feed,)
    assert config.feed("tass") is feed
    assert config.notifier("screen").type == "console"
    with pytest.raises(KeyError, match="no feed 'reuters'"):
        config.feed("reuters")
    with pytest.raises(KeyError, match="no notifier 'ops'"):
        config.notifier("ops")
    with pytest.raises(ValueError, match="unique"):
        MonitorConfig(feeds=(feed, feed))


def test_located_tree_knows_lines() -> None:
    text = "feeds:\n  - id: a\n    url: https://x.org/\n\n    tags:\n      - one\n      - two\n"

    tree = parse_yaml(text, "m.yaml", environ={})

    assert tree.line_of("feeds", 0) == 2
    assert tree.line_of("feeds", 0, "url") == 3
    assert tree.line_of("feeds", 0, "tags", 1) == 7
    assert tree.at("feeds", 0).key_lines == {"id": 2, "url": 3, "tags": 5}
    assert tree.at("feeds", 0, "tags", 1).field == "feeds[0].tags[1]"
    assert tree.plain() == {"feeds": [{"id": "a", "url": "https://x.org/", "tags": ["one", "two"]}]}
    with pytest.raises(KeyError):
        tree.at("feeds", 0, "title")


def test_merge_keys_and_anchors() -> None:
    text = (
        "base: &base {interval: 5m, tags: [wire]}\n"
        "feeds:\n"
        "  - <<: *base\n"
        "    id: a\n"
        "    interval: 1h\n"
    )

    tree = parse_yaml(text, "m.yaml", environ={})

    assert tree.at("feeds", 0).plain() == {"id": "a", "interval": "1h", "tags": ["wire"]}
    assert tree.line_of("feeds", 0, "tags") == 1


def test_recursive_alias_is_an_error() -> None:
    with pytest.raises(ConfigErrors, match=r"m\.yaml:1: a\[0\]: an alias refers to itself"):
        parse_yaml("a: &x [*x]\n", "m.yaml", environ={})


def test_an_alias_bomb_is_refused_where_its_aliases_are_used() -> None:
    with pytest.raises(ConfigErrors) as caught:
        load_yaml(CONFIG / "alias-bomb.yml", environ={}, source="bomb.yaml")

    assert [str(e) for e in caught.value.errors] == [
        f"bomb.yaml:6: f[0]: the file uses aliases (*name) that expand to more than "
        f"{files.MAX_ALIASED_VALUES} values: refused, as a YAML alias bomb would be; write the "
        "values out instead"
    ]


def test_too_many_aliases_are_refused() -> None:
    text = "a: &a x\nb:\n" + "  - *a\n" * (files.MAX_ALIASES + 1)

    with pytest.raises(ConfigErrors) as caught:
        parse_yaml(text, "m.yaml", environ={})

    # An alias's own line is not kept by the parser: the error is at the list that holds it.
    assert str(caught.value).startswith(
        f"m.yaml:3: b[{files.MAX_ALIASES}]: the file uses more than {files.MAX_ALIASES} aliases"
    )


def test_aliases_within_the_limits_are_read() -> None:
    feeds = "".join(f"  - <<: *base\n    id: f{n}\n" for n in range(2000))
    text = "base: &base {interval: 5m, tags: [wire, world]}\nfeeds:\n" + feeds

    tree = parse_yaml(text, "m.yaml", environ={})

    assert tree.at("feeds", 1999).plain() == {
        "id": "f1999",
        "interval": "5m",
        "tags": ["wire", "world"],
    }


def test_unknown_tag_is_an_error() -> None:
    with pytest.raises(ConfigErrors, match=r"m\.yaml:1: a: invalid value: could not determine"):
        parse_yaml("a: !vault abc\n", "m.yaml", environ={})


def test_load_yaml_raises_every_file_problem_together(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("a: ${NOPE}\nb: 1\nb: 2\n")

    with pytest.raises(ConfigErrors) as caught:
        load_yaml(path, environ={}, source="rules.yaml")

    assert str(caught.value).splitlines() == [
        "rules.yaml:1: a: environment variable NOPE is not set",
        'rules.yaml:3: duplicate key "b" (first on line 2)',
    ]


def test_load_yaml_reads_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_TEST_VALUE", "from-env")
    path = tmp_path / "x.yaml"
    path.write_text("a: ${MONITOR_TEST_VALUE}\n")

    assert load_yaml(path).plain() == {"a": "from-env"}


def test_non_utf8_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: caf\xe9\n".encode("latin-1"))

    with pytest.raises(ConfigErrors, match=r"latin1\.yaml: is not UTF-8 text \(byte 10\)"):
        load_yaml(path)


def test_email_notifiers_need_the_smtp_settings(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(
        "feeds: []\nnotifiers:\n  - id: desk\n    type: email\n    to: [desk@example.org]\n"
        "  - id: night\n    type: email\n    to: [night@example.org]\n"
    )

    with pytest.raises(ConfigErrors) as caught:
        load_config(bare_settings(smtp_host=None, smtp_from=None), config)

    assert [str(e) for e in caught.value.errors] == [
        f"{config}:3: notifiers[0]: email notifier desk needs MONITOR_SMTP_HOST and "
        "MONITOR_SMTP_FROM to be set",
        f"{config}:6: notifiers[1]: email notifier night needs MONITOR_SMTP_HOST and "
        "MONITOR_SMTP_FROM to be set",
    ]
    assert load_config(bare_settings(smtp_host="mx", smtp_from="m@example.org"), config).notifiers


def test_a_notifier_with_an_unknown_key_and_no_type_names_the_key(errors_of: Load) -> None:
    text = FEED + "notifiers:\n  - id: hook\n    tpye: webhook\n    url: https://x.org/h\n"

    assert errors_of(text) == [
        'monitor.yaml:5: notifiers[0]: missing required key "type"',
        'monitor.yaml:6: notifiers[0]: unknown key "tpye" (did you mean "type"?)',
    ]


def test_a_rule_naming_a_notifier_with_an_unset_variable_reports_only_the_variable(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - id: r\n    keywords: {any: [peace]}\n    feeds: [bad]\n    notify: [hook]\n"
    )
    (tmp_path / "monitor.yaml").write_text(
        FEED
        + "  - id: bad\n    url: ftp://example.org/x\n"  # line 4: a feed with an error
        + "rules: [rules.yaml]\n"
        + "notifiers:\n  - id: hook\n    type: webhook\n    url: ${HOOK_URL_NOT_SET}\n"
    )

    with pytest.raises(ConfigErrors) as caught:
        load_config(settings, Path("monitor.yaml"), environ={})

    assert [str(e) for e in caught.value.errors] == [
        'monitor.yaml:5: feeds[1].url: "ftp://example.org/x" uses "ftp": only http and https '
        "URLs are supported",
        "monitor.yaml:10: notifiers[0].url: environment variable HOOK_URL_NOT_SET is not set",
    ]
