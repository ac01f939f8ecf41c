"""Notifier options in monitor.yaml: every check with its file:line and field, and the typed
options and delivery policy a valid notifier becomes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.config import ConfigErrors, MonitorConfig, NotifierConfig, Settings, load_config
from monitor.config.notifiers import (
    NOTIFIER_OPTIONS,
    delivery_policy,
    notifier_base_dir,
    notifier_options,
)
from monitor.config.schema import NOTIFIER_TYPES
from monitor.notify.base import (
    ConsoleOptions,
    DeliveryPolicy,
    EmailOptions,
    FileOptions,
    WebhookOptions,
)
from monitor.notify.checks import check_notifier_options

# Lines 1-3 are the feed, 4 is "notifiers:", 5 the notifier's id: its options start on line 6.
HEAD = "feeds:\n  - id: tass\n    url: https://tass.com/rss/v2.xml\nnotifiers:\n  - id: n\n"
HOOK = ("type: webhook", "url: https://hooks.example.org/in")  # lines 6 and 7
SECRET = "s3cr3tT0k3n"

Errors = Callable[..., list[str]]
Load = Callable[..., MonitorConfig]


def entry(*lines: str) -> str:
    """monitor.yaml with one notifier `n` whose keys are `lines`, from line 6 on."""
    return HEAD + "".join(f"    {line}\n" for line in lines)


def case(case_id: str, lines: list[str], *errors: tuple[int, str, str]) -> Any:
    """A notifier with `lines`, and its errors as (line, field after `notifiers[0]`, message)."""
    expected = [
        f"monitor.yaml:{line}: notifiers[0]{field}: {message}" for line, field, message in errors
    ]
    return pytest.param(entry(*lines), expected, id=case_id)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder of monitor.yaml, also the current one, with a template and a subfolder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "alert.j2").write_text("{{ alert.rule.id }}\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    return tmp_path


def _settings() -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, smtp_host="smtp.example.org", smtp_from="monitor@example.org"
    )


@pytest.fixture
def load(folder: Path) -> Load:
    """Writes ./monitor.yaml and loads it with only `environ` for `${VAR}`."""

    def load(text: str, environ: Mapping[str, str] | None = None) -> MonitorConfig:
        (folder / "monitor.yaml").write_text(text, encoding="utf-8")
        config = load_config(_settings(), Path("monitor.yaml"), environ=environ or {})
        check_notifier_options(config.notifier_checks)  # as the wiring does, beside the rules
        return config

    return load


@pytest.fixture
def errors_of(load: Load) -> Errors:
    """The error lines loading the text gives (it must give some)."""

    def errors(text: str, environ: Mapping[str, str] | None = None) -> list[str]:
        with pytest.raises(ConfigErrors) as caught:
            load(text, environ)
        return [str(error) for error in caught.value.errors]

    return errors


ERROR_CASES = [
    # -- keys ---------------------------------------------------------------------------------
    case(
        "unknown-key-suggestion",
        [*HOOK, "formt: slack"],
        (8, "", 'unknown key "formt" for a webhook notifier (did you mean "format"?)'),
    ),
    case(
        "console-takes-no-options",
        ["type: console", "path: alerts.jsonl"],
        (
            7,
            "",
            (
                'unknown key "path" for a console notifier: expected id, type, mode, every, cron '
                "or max_per_hour"
            ),
        ),
    ),
    case(
        "webhook-key-on-email",
        ["type: email", "to: [desk@example.org]", "url: https://example.org/"],
        (
            8,
            "",
            (
                'unknown key "url" for an email notifier: expected id, type, mode, every, cron, '
                "max_per_hour, to, cc, subject or concurrency"
            ),
        ),
    ),
    case(
        "webhook-key-on-file",
        ["type: file", "path: a.jsonl", "timeout: 5s"],
        (
            8,
            "",
            (
                'unknown key "timeout" for a file notifier: expected id, type, mode, every, '
                "cron, max_per_hour or path"
            ),
        ),
    ),
    case(
        "email-without-to",
        ["type: email"],
        (5, "", 'missing required key "to" for an email notifier'),
    ),
    # -- mode, every, cron, max_per_hour ---------------------------------------------------------
    case(
        "digest-without-schedule",
        ["type: console", "mode: digest"],
        (7, ".mode", 'a digest needs "every" (e.g. 1h) or "cron" (e.g. "0 8 * * *")'),
    ),
    case(
        "digest-with-both",
        ["type: console", "mode: digest", "every: 1h", "cron: '0 8 * * *'"],
        (9, ".cron", 'a digest takes "every" or "cron", not both ("every" is on line 8)'),
    ),
    case(
        "every-without-mode",
        ["type: console", "every: 1h"],
        (7, ".every", "every needs mode: digest (without it, each alert is sent at once)"),
    ),
    case(
        "cron-with-immediate",
        ["type: console", "mode: immediate", "cron: '0 8 * * *'"],
        (8, ".cron", "cron needs mode: digest (without it, each alert is sent at once)"),
    ),
    case(
        "every-too-short",
        ["type: console", "mode: digest", "every: 30s"],
        (
            8,
            ".every",
            '"30s" is too short: a digest is sent at most once a minute (use 1m or more)',
        ),
    ),
    case(
        "every-seconds-too-short",
        ["type: console", "mode: digest", "every: 59s"],
        (
            8,
            ".every",
            '"59s" is too short: a digest is sent at most once a minute (use 1m or more)',
        ),
    ),
    case(
        "every-without-unit",
        ["type: console", "mode: digest", "every: 90"],
        (8, ".every", "90 has no unit: write 90s, 90m, 90h or 90d (e.g. 10m, 30s)"),
    ),
    case(
        "every-not-a-duration",
        ["type: console", "mode: digest", "every: soon"],
        (8, ".every", '"soon" is not a duration: use 30s, 5m, 1h or 1d'),
    ),
    case(
        "every-null",
        ["type: console", "mode: digest", "every:"],
        (8, ".every", "expected a duration, not nothing (null): use 30s, 5m, 1h or 1d"),
    ),
    case(
        "cron-four-fields",
        ["type: console", "mode: digest", "cron: '0 8 * *'"],
        (
            8,
            ".cron",
            (
                '"0 8 * *" is not a cron expression (minute hour day month weekday): expected '
                "5 fields, found 4"
            ),
        ),
    ),
    case(
        "cron-weekday-out-of-range",
        ["type: console", "mode: digest", "cron: '0 8 * * 1-8'"],
        (
            8,
            ".cron",
            '"0 8 * * 1-8" is not a cron expression (minute hour day month weekday): weekday '
            '"1-8" is out of range (0-7; 0 and 7 are Sunday)',
        ),
    ),
    case(
        "cron-hour-out-of-range",
        ["type: console", "mode: digest", "cron: '0 25 * * *'"],
        (
            8,
            ".cron",
            (
                '"0 25 * * *" is not a cron expression (minute hour day month weekday): Error '
                "validating expression '25': the last value (25) is higher than the maximum "
                "value (23)"
            ),
        ),
    ),
    case(
        "cron-not-a-string",
        ["type: console", "mode: digest", "cron: 8"],
        (8, ".cron", "expected a string, not a number (put it in quotes to make it a string)"),
    ),
    case(
        "cron-from-environment-not-echoed",
        ["type: console", "mode: digest", "cron: ${CRON}"],
        (
            8,
            ".cron",
            (
                '"${CRON}" (from the environment) is not a cron expression (minute hour day '
                "month weekday)"
            ),
        ),
    ),
    case(
        "bad-mode",
        ["type: console", "mode: weekly"],
        (7, ".mode", '"weekly" is not a delivery mode: use immediate or digest'),
    ),
    case(
        "max-per-hour-zero",
        ["type: console", "max_per_hour: 0"],
        (7, ".max_per_hour", "must be 1 or more, not 0"),
    ),
    case(
        "max-per-hour-not-a-number",
        ["type: console", "max_per_hour: lots"],
        (7, ".max_per_hour", 'expected a whole number, not "lots"'),
    ),
    case(
        "max-per-hour-with-digest",
        ["type: console", "mode: digest", "every: 1h", "max_per_hour: 5"],
        (
            9,
            ".max_per_hour",
            "max_per_hour only works with mode: immediate (a digest is one message)",
        ),
    ),
    # -- webhook ----------------------------------------------------------------------------------
    case(
        "url-not-http-path-hidden",
        ["type: webhook", "url: ftp://hooks.example.org/services/T0/B0/s3cr3tT0k3n"],
        (
            7,
            ".url",
            '"ftp://hooks.example.org/***" uses "ftp": only http and https URLs are supported',
        ),
    ),
    case(
        "url-without-scheme",
        ["type: webhook", "url: hooks.example.org"],
        (7, ".url", '"hooks.example.org" is not a URL: it needs http:// or https:// in front'),
    ),
    case(
        "format-typo",
        [*HOOK, "format: slak"],
        (8, ".format", '"slak" is not a webhook format (did you mean "slack"?)'),
    ),
    case(
        "format-unknown",
        [*HOOK, "format: xml"],
        (
            8,
            ".format",
            '"xml" is not a webhook format: use json, slack, discord, teams or template',
        ),
    ),
    case(
        "secret-not-a-string",
        [*HOOK, "secret: [a, b]"],
        (8, ".secret", "expected a string, not a list"),
    ),
    case(
        "secret-bad-whsec",
        [*HOOK, "secret: whsec_!!"],
        (8, ".secret", "a webhook secret starting with whsec_ must be base64"),
    ),
    case(
        "headers-not-a-mapping",
        [*HOOK, "headers: [X-A]"],
        (8, ".headers", "headers must be a mapping, not a list"),
    ),
    case(
        "header-name-not-a-token",
        [*HOOK, "headers:", "  X Team: ops"],
        (
            9,
            ".headers",
            (
                '"X Team" is not a header name: use letters, digits and !#$%&\'*+-.^_`|~ (no '
                'spaces or ":")'
            ),
        ),
    ),
    case(
        "header-content-type",
        [*HOOK, "headers:", "  Content-Type: text/plain"],
        (
            9,
            ".headers",
            (
                '"Content-Type" is set by the webhook notifier itself: use content_type (with '
                "format: template)"
            ),
        ),
    ),
    case(
        "header-reserved-any-case",
        [*HOOK, "headers:", "  X-A: a", "  HOST: b", "  Content-length: 3"],
        (10, ".headers", '"HOST" is set by the webhook notifier itself'),
        (11, ".headers", '"Content-length" is set by the webhook notifier itself'),
    ),
    case(
        "header-standard-webhooks",
        [
            *HOOK,
            "headers:",
            "  Webhook-Id: a",
            "  webhook-timestamp: 1",
            "  WEBHOOK-SIGNATURE: v1,x",
        ],
        (9, ".headers", '"Webhook-Id" is set by the webhook notifier itself'),
        (10, ".headers", '"webhook-timestamp" is set by the webhook notifier itself'),
        (11, ".headers", '"WEBHOOK-SIGNATURE" is set by the webhook notifier itself'),
    ),
    case(
        "header-value-line-break",
        [*HOOK, "headers:", "  X-Token: ${TOKEN}"],
        (9, ".headers.X-Token", "must not contain a line break (CR or LF)"),
    ),
    case(
        "header-value-newline-escape",
        [*HOOK, "headers:", '  X-Token: "a\\nb"'],
        (9, ".headers.X-Token", "must not contain a line break (CR or LF)"),
    ),
    case(
        "header-value-not-a-string",
        [*HOOK, "headers:", "  X-Version: 2"],
        (
            9,
            ".headers.X-Version",
            "expected a string, not a number (put it in quotes to make it a string)",
        ),
    ),
    case(
        "header-twice-in-another-case",
        [*HOOK, "headers:", "  X-Team: ops", "  x-team: dev"],
        (10, ".headers", '"x-team" repeats the header "X-Team" (names ignore case)'),
    ),
    case(
        "template-without-format-template",
        [*HOOK, "template: alert.j2", "content_type: text/plain"],
        (8, ".template", "template only works with format: template, not json"),
        (9, ".content_type", "content_type only works with format: template, not json"),
    ),
    case(
        "template-with-slack",
        [*HOOK, "format: slack", "template: alert.j2"],
        (9, ".template", "template only works with format: template, not slack"),
    ),
    case(
        "format-template-without-template",
        [*HOOK, "format: template"],
        (5, "", 'missing required key "template" for format: template'),
    ),
    case(
        "template-missing",
        [*HOOK, "format: template", "template: templates/missing.j2"],
        (
            9,
            ".template",
            '"templates/missing.j2" does not exist (looked for {tmp}/templates/missing.j2)',
        ),
    ),
    case(
        "template-is-a-folder",
        [*HOOK, "format: template", "template: sub"],
        (9, ".template", '"sub" is a folder, not a template file ({tmp}/sub)'),
    ),
    case(
        "content-type-not-a-media-type",
        [*HOOK, "format: template", "template: alert.j2", "content_type: text"],
        (
            10,
            ".content_type",
            '"text" is not a media type: expected type/subtype, e.g. text/plain; charset=utf-8',
        ),
    ),
    case(
        "timeout-too-long",
        [*HOOK, "timeout: 10m"],
        (8, ".timeout", '"10m" is too long: a webhook timeout must be at most 5m'),
    ),
    case(
        "timeout-seconds-too-long",
        [*HOOK, "timeout: 301s"],
        (8, ".timeout", '"301s" is too long: a webhook timeout must be at most 5m'),
    ),
    case(
        "timeout-zero",
        [*HOOK, "timeout: 0s"],
        (8, ".timeout", '"0s" is zero: a duration must be at least 1s'),
    ),
    case(
        "webhook-concurrency-too-high",
        [*HOOK, "concurrency: 65"],
        (8, ".concurrency", "must be from 1 to 64, not 65"),
    ),
    case(
        "webhook-concurrency-zero",
        [*HOOK, "concurrency: 0"],
        (8, ".concurrency", "must be from 1 to 64, not 0"),
    ),
    case(
        "webhook-concurrency-boolean",
        [*HOOK, "concurrency: true"],
        (8, ".concurrency", "expected a whole number, not True"),
    ),
    # -- email and file ---------------------------------------------------------------------------
    case(
        "email-to-empty",
        ["type: email", "to: []"],
        (7, ".to", "needs at least one email address"),
    ),
    case(
        "email-to-not-a-list",
        ["type: email", "to: desk@example.org"],
        (7, ".to", "expected a list, not a string (write [desk@example.org])"),
    ),
    case(
        "email-header-injection",
        ["type: email", "to: ['${TO}']"],
        (7, ".to[0]", '"${TO}" (from the environment) is not an email address'),
    ),
    case(
        "email-bad-cc",
        ["type: email", "to: [desk@example.org]", "cc: [desk, 'ops@example.org']"],
        (8, ".cc[0]", '"desk" is not an email address'),
    ),
    case(
        "email-subject-not-a-string",
        ["type: email", "to: [desk@example.org]", "subject: 2024"],
        (8, ".subject", "expected a string, not a number (put it in quotes to make it a string)"),
    ),
    case(
        "email-subject-unknown-name",
        ["type: email", "to: [desk@example.org]", "subject: '{{ headline }}'"],
        (
            8,
            ".subject",
            "subject template: unknown name headline: "
            "use count, feed_id, kind, rule_id, score, title",
        ),
    ),
    case(
        "email-subject-syntax-error",
        ["type: email", "to: [desk@example.org]", "subject: '{{ title'"],
        (
            8,
            ".subject",
            "subject template, line 1: unexpected end of template, expected 'end of print "
            "statement'.",
        ),
    ),
    case(
        "email-concurrency-too-high",
        ["type: email", "to: [desk@example.org]", "concurrency: 17"],
        (8, ".concurrency", "must be from 1 to 16, not 17"),
    ),
    case(
        "file-path-is-a-folder",
        ["type: file", "path: sub"],
        (7, ".path", '"sub" is a folder: give a file to append to ({tmp}/sub)'),
    ),
    case(
        "file-folder-missing",
        ["type: file", "path: nowhere/alerts.jsonl"],
        (
            7,
            ".path",
            '"nowhere/alerts.jsonl": the folder {tmp}/nowhere does not exist: create it',
        ),
    ),
    case(
        "file-folder-is-a-file",
        ["type: file", "path: alert.j2/alerts.jsonl"],
        (
            7,
            ".path",
            '"alert.j2/alerts.jsonl": the folder {tmp}/alert.j2 does not exist: create it',
        ),
    ),
    case(
        "file-path-empty",
        ["type: file", "path: ''"],
        (7, ".path", "must not be empty"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), ERROR_CASES)
def test_error(errors_of: Errors, folder: Path, text: str, expected: list[str]) -> None:
    environ = {"CRON": "0 8 * *", "TOKEN": "a\r\nb", "TO": "desk@example.org\r\nBcc: x@y.org"}

    lines = errors_of(text, environ)

    assert lines == [line.replace("{tmp}", str(folder)) for line in expected]


def test_every_error_of_every_notifier_is_reported_in_line_order(errors_of: Errors) -> None:
    text = (
        HEAD
        + "    type: webhook\n"  # 6
        + "    url: https://hooks.example.org/in\n"
        + "    format: jsn\n"  # 8
        + "    timeout: 1h\n"  # 9
        + "  - id: desk\n"  # 10
        + "    type: email\n"
        + "    mode: digest\n"  # 12
        + "    to: [desk]\n"  # 13
        + "  - id: log\n"  # 14
        + "    type: file\n"
        + "    every: 1h\n"  # 16
    )

    lines = errors_of(text)

    assert [line.split(": ", 2)[:2] for line in lines] == [
        ["monitor.yaml:8", "notifiers[0].format"],
        ["monitor.yaml:9", "notifiers[0].timeout"],
        ["monitor.yaml:12", "notifiers[1].mode"],
        ["monitor.yaml:13", "notifiers[1].to[0]"],
        ["monitor.yaml:14", "notifiers[2]"],
        ["monitor.yaml:16", "notifiers[2].every"],
    ]


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        (
            '{"rule": {{ alert.rule.id | tojson }},\n "t": {{ alert.article.titel | tojson }}}\n',
            "'dict object' has no attribute 'titel'",
        ),
        ("{% set n = alert.score %}\n\n{{ n / 0 }}\n", "ZeroDivisionError: float division by zero"),
        ("{{ headline }}\n", "'headline' is undefined"),
    ],
    ids=["misspelt-attribute", "failing-expression", "undefined-name"],
)
def test_a_webhook_template_that_fails_for_a_sample_alert_is_an_error_at_its_line(
    errors_of: Errors, folder: Path, template: str, reason: str
) -> None:
    (folder / "broken.j2").write_text(template, encoding="utf-8")
    line = template.count("\n")  # each template fails on its last line

    lines = errors_of(entry(*HOOK, "format: template", "template: broken.j2"))

    assert lines == [f"{folder / 'broken.j2'}:{line}: template error for a sample alert: {reason}"]


def test_a_webhook_template_that_renders_for_a_sample_alert_loads(load: Load, folder: Path) -> None:
    (folder / "ok.j2").write_text(
        "{% if kind == 'alert' %}{{ alert.article.title | tojson }}{% endif %}", encoding="utf-8"
    )
    notifier = only_notifier(load(entry(*HOOK, "format: template", "template: ok.j2")))
    assert notifier.id == "n"


def test_a_subject_that_fails_for_a_sample_alert_is_an_error(errors_of: Errors) -> None:
    text = entry("type: email", "to: [desk@example.org]", "subject: '{{ title.nmae }}'")

    assert errors_of(text) == [
        "monitor.yaml:8: notifiers[0].subject: subject template fails for a sample alert: "
        "'str object' has no attribute 'nmae'"
    ]


# -- typed options ----------------------------------------------------------------------------


def only_notifier(config: MonitorConfig) -> NotifierConfig:
    (notifier,) = config.notifiers
    return notifier


def test_webhook_options_from_the_environment(load: Load, folder: Path) -> None:
    (folder / "templates").mkdir()
    (folder / "templates" / "teams.j2").write_text("{}", encoding="utf-8")
    text = entry(
        "type: webhook",
        "url: ${HOOK_URL}",
        "format: template",
        "secret: ${HOOK_SECRET}",
        "headers:",
        "  Authorization: Bearer ${API_TOKEN}",
        "  X-Team: ops",
        "template: templates/teams.j2",
        "content_type: text/plain; charset=utf-8",
        "timeout: 1m30s",
        "concurrency: ${HOOK_CONCURRENCY}",
    )
    environ = {
        "HOOK_URL": "https://hooks.example.org/T0/" + SECRET,
        "HOOK_SECRET": "whsec_" + "c2VjcmV0",
        "API_TOKEN": SECRET,
        "HOOK_CONCURRENCY": "4",
    }

    notifier = only_notifier(load(text, environ))

    assert notifier_options(notifier, folder) == WebhookOptions(
        url="https://hooks.example.org/T0/" + SECRET,
        format="template",
        secret="whsec_c2VjcmV0",
        headers={"Authorization": "Bearer " + SECRET, "X-Team": "ops"},
        template=folder / "templates" / "teams.j2",
        content_type="text/plain; charset=utf-8",
        timeout=90.0,
        concurrency=4,
    )
    assert delivery_policy(notifier) == DeliveryPolicy(mode="immediate")
    # The options stay the YAML values (expanded): strings for what the checker parsed.
    assert (notifier.options["timeout"], notifier.options["concurrency"]) == ("1m30s", "4")


@pytest.mark.parametrize(
    ("secret", "environ"),
    [
        ("secret: ${OPS_WEBHOOK_SECRET:-}", {}),
        ("secret: ${OPS_WEBHOOK_SECRET:-}", {"OPS_WEBHOOK_SECRET": ""}),
        ("secret: ''", {}),
        ("secret:", {}),
        ("format: json", {}),  # no secret at all
    ],
    ids=["variable-unset", "variable-empty", "empty-string", "null", "absent"],
)
def test_webhook_defaults_and_the_empty_secret(
    load: Load, folder: Path, secret: str, environ: dict[str, str]
) -> None:
    notifier = only_notifier(load(entry(*HOOK, secret), environ))

    assert notifier_options(notifier, folder) == WebhookOptions(
        url="https://hooks.example.org/in",
        format="json",
        secret=None,
        headers={},
        template=None,
        content_type="application/json",
        timeout=10.0,
        concurrency=8,
    )


def test_a_raw_text_secret_is_kept_as_given(load: Load, folder: Path) -> None:
    notifier = only_notifier(load(entry(*HOOK, f"secret: {SECRET}", "format: slack")))

    options = notifier_options(notifier, folder)

    assert isinstance(options, WebhookOptions)
    assert (options.secret, options.format) == (SECRET, "slack")


def test_email_options(load: Load, folder: Path) -> None:
    text = entry(
        "type: email",
        "to: [analysts@example.org, 'Desk <desk@example.org>']",
        "cc: [boss@example.org]",
        "subject: '[{{ rule_id }}] {{ title }}'",
        "concurrency: 3",
        "max_per_hour: 20",
    )

    notifier = only_notifier(load(text))

    assert notifier_options(notifier, folder) == EmailOptions(
        to=("analysts@example.org", "Desk <desk@example.org>"),
        cc=("boss@example.org",),
        subject="[{{ rule_id }}] {{ title }}",
        concurrency=3,
    )
    assert delivery_policy(notifier) == DeliveryPolicy(mode="immediate", max_per_hour=20)


def test_email_defaults(load: Load, folder: Path) -> None:
    notifier = only_notifier(load(entry("type: email", "to: [desk@example.org]")))

    assert notifier_options(notifier, folder) == EmailOptions(to=("desk@example.org",))


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("alerts.jsonl", "{tmp}/alerts.jsonl"),
        ("sub/alerts.jsonl", "{tmp}/sub/alerts.jsonl"),
        ("{tmp}/sub/log.jsonl", "{tmp}/sub/log.jsonl"),
    ],
    ids=["relative", "relative-in-folder", "absolute"],
)
def test_file_options(load: Load, folder: Path, written: str, expected: str) -> None:
    path = written.replace("{tmp}", str(folder))
    notifier = only_notifier(load(entry("type: file", f"path: {path}")))

    options = notifier_options(notifier, folder)

    assert options == FileOptions(path=Path(expected.replace("{tmp}", str(folder))))


def test_console_options(load: Load, folder: Path) -> None:
    notifier = only_notifier(load(entry("type: console")))

    assert notifier_options(notifier, folder) == ConsoleOptions()
    assert delivery_policy(notifier) == DeliveryPolicy()


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (("mode: immediate",), DeliveryPolicy(mode="immediate")),
        (("max_per_hour: 1",), DeliveryPolicy(max_per_hour=1)),
        (("max_per_hour: ${CAP}",), DeliveryPolicy(max_per_hour=30)),
        (("mode: digest", "every: 1h"), DeliveryPolicy("digest", every=timedelta(hours=1))),
        (("mode: digest", "every: 1m"), DeliveryPolicy("digest", every=timedelta(minutes=1))),
        (("mode: digest", "every: 90s"), DeliveryPolicy("digest", every=timedelta(seconds=90))),
        (("mode: digest", "every: ${EVERY}"), DeliveryPolicy("digest", every=timedelta(days=1))),
        (
            ("mode: digest", "cron: '0 8 * * mon-fri'"),
            DeliveryPolicy("digest", cron="0 8 * * mon-fri"),
        ),
        (("mode: digest", "cron: ${CRON}"), DeliveryPolicy("digest", cron="*/15 * * * *")),
    ],
    ids=[
        "immediate",
        "cap",
        "cap-from-environment",
        "every-hour",
        "every-minute",
        "every-seconds",
        "every-from-environment",
        "cron",
        "cron-from-environment",
    ],
)
def test_delivery_policy(load: Load, lines: tuple[str, ...], expected: DeliveryPolicy) -> None:
    environ = {"CAP": "30", "EVERY": "1d", "CRON": "*/15 * * * *"}
    text = entry("type: file", "path: out.jsonl", *lines)

    assert delivery_policy(only_notifier(load(text, environ))) == expected


def test_paths_are_relative_to_the_config_folder_not_the_current_one(folder: Path) -> None:
    config_dir = folder / "conf"
    (config_dir / "templates").mkdir(parents=True)
    (config_dir / "templates" / "hook.j2").write_text("{}", encoding="utf-8")
    (config_dir / "monitor.yaml").write_text(
        entry(*HOOK, "format: template", "template: templates/hook.j2")
        + "  - id: log\n    type: file\n    path: alerts.jsonl\n",
        encoding="utf-8",
    )

    config = load_config(_settings(), Path("conf/monitor.yaml"), environ={})
    base_dir = notifier_base_dir(config.source, embedded=config.embedded)
    hook, log = (notifier_options(n, base_dir) for n in config.notifiers)

    assert base_dir == config_dir
    assert isinstance(hook, WebhookOptions)
    assert hook.template == config_dir / "templates" / "hook.j2"
    assert log == FileOptions(config_dir / "alerts.jsonl")


def test_a_template_beside_the_current_folder_only_is_not_found(folder: Path) -> None:
    (folder / "conf").mkdir()
    (folder / "conf" / "monitor.yaml").write_text(
        entry(*HOOK, "format: template", "template: alert.j2"), encoding="utf-8"
    )

    with pytest.raises(ConfigErrors) as caught:
        load_config(_settings(), Path("conf/monitor.yaml"), environ={})

    assert [str(e) for e in caught.value.errors] == [
        f'conf/monitor.yaml:9: notifiers[0].template: "alert.j2" does not exist (looked for '
        f"{folder}/conf/alert.j2)"
    ]


def test_the_embedded_default_is_valid_and_resolves_against_the_current_folder(
    folder: Path,
) -> None:
    config = load_config(_settings(), environ={})
    base_dir = notifier_base_dir(config.source, embedded=config.embedded)

    assert config.embedded
    assert base_dir == folder
    assert [notifier_options(n, base_dir) for n in config.notifiers] == [ConsoleOptions()]
    assert [delivery_policy(n) for n in config.notifiers] == [DeliveryPolicy()]


def test_every_notifier_type_has_its_options() -> None:
    assert set(NOTIFIER_OPTIONS) == set(NOTIFIER_TYPES)


# -- secrets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "environ"),
    [
        (("type: webhook", f"url: ftp://hooks.example.org/services/T0/B0/{SECRET}"), {}),
        (("type: webhook", f"url: https://hooks.example.org:99999/{SECRET}"), {}),
        (("type: webhook", f"url: https://bob:{SECRET}@hooks.example.org/a b"), {}),
        (("type: webhook", f"url: ftp://hooks.example.org/in?token={SECRET}"), {}),
        (("type: webhook", f"url: hooks.example.org/{SECRET}"), {}),
        (("type: webhook", "url: ${URL}"), {"URL": f"ftp://hooks.example.org/{SECRET}"}),
        ((*HOOK, f"secret: whsec_{SECRET}!"), {}),
        ((*HOOK, "secret: ${S}"), {"S": f"whsec_{SECRET}!"}),
        ((*HOOK, "secret: 1234567890"), {}),
        ((*HOOK, "headers:", "  Authorization: ${AUTH}"), {"AUTH": f"Bearer {SECRET}\nX: y"}),
        ((*HOOK, "headers:", f'  Authorization: "Bearer {SECRET}\\r\\n"'), {}),
    ],
    ids=[
        "url-token-in-path",
        "url-bad-port",
        "url-password-and-space",
        "url-token-in-query",
        "url-without-scheme",
        "url-from-environment",
        "secret-bad-whsec",
        "secret-bad-whsec-from-environment",
        "secret-number",
        "header-from-environment",
        "header-written",
    ],
)
def test_errors_never_show_a_secret(
    errors_of: Errors, lines: tuple[str, ...], environ: dict[str, str]
) -> None:
    found = errors_of(entry(*lines), environ)

    assert len(found) == 1
    assert all(line.startswith("monitor.yaml:") for line in found)
    secret = "1234567890" if "1234567890" in "".join(lines) else SECRET
    assert secret not in "\n".join(found)


@pytest.fixture
def unwritable_folder(folder: Path) -> Iterator[Path]:
    """A folder this user cannot write in: mode 555, or for root (who may write in any folder)
    a read-only tmpfs mounted there."""
    locked = folder / "locked"
    locked.mkdir(mode=0o555)
    if os.geteuid() != 0:
        yield locked
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(locked)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"root, and no read-only tmpfs to be had: {mounted.stderr.decode().strip()}")
    try:
        yield locked
    finally:
        subprocess.run(["umount", str(locked)], check=True)


def test_a_file_notifier_in_a_folder_it_cannot_write_is_an_error(
    errors_of: Errors, unwritable_folder: Path
) -> None:
    assert errors_of(entry("type: file", "path: locked/a.jsonl")) == [
        f'monitor.yaml:7: notifiers[0].path: "locked/a.jsonl": {unwritable_folder} is not '
        "writable by this user"
    ]


def test_config_records_what_only_notify_judges_and_the_service_checks_it(folder: Path) -> None:
    """Config loads a bad signing key (it cannot judge it) with its place; the service's rule
    compilation, which a reload runs too, refuses it at that file:line."""
    from monitor.service import compile_matcher

    (folder / "monitor.yaml").write_text(entry(*HOOK, "secret: whsec_!!"), encoding="utf-8")
    config = load_config(_settings(), Path("monitor.yaml"), environ={})

    assert [(c.kind, c.line, c.field) for c in config.notifier_checks] == [
        ("secret", 8, "notifiers[0].secret")
    ]
    with pytest.raises(ConfigErrors) as caught:
        compile_matcher(config)
    assert [str(error) for error in caught.value.errors] == [
        "monitor.yaml:8: notifiers[0].secret: a webhook secret starting with whsec_ must be base64"
    ]
