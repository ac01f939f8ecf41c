"""Settings: MONITOR_* variables, `.env`, validation messages that name the variable, secrets."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

import monitor
from monitor.config import ConfigErrors, Settings, load_settings
from monitor.config.settings import parse_duration


@pytest.fixture(autouse=True)
def _in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read ./.env: each test starts in a folder without one."""
    monkeypatch.chdir(tmp_path)


def settings_errors(**environ: str) -> list[str]:
    os.environ.update(environ)
    with pytest.raises(ConfigErrors) as caught:
        load_settings()
    return [str(e) for e in caught.value.errors]


def test_defaults() -> None:
    settings = load_settings()

    assert settings.config is None
    assert settings.database_url == "sqlite+aiosqlite:///monitor.db"
    assert (settings.smtp_security, settings.smtp_effective_port) == ("starttls", 587)
    assert (settings.log_format, settings.log_level) == ("text", "INFO")
    assert settings.user_agent == (
        f"feed-monitor/{monitor.__version__} (+https://github.com/feed-monitor/feed-monitor)"
    )
    assert settings.default_interval == timedelta(minutes=10)
    assert (settings.fetch_timeout, settings.connect_timeout, settings.read_timeout) == (
        30.0,
        10.0,
        20.0,
    )
    assert settings.max_body_bytes == 10 * 1024 * 1024
    assert (settings.fetch_concurrency, settings.per_host_concurrency) == (100, 4)
    assert settings.shutdown_grace == 20.0
    assert settings.status_address is None


def test_environment_variables_are_read() -> None:
    os.environ.update(
        {
            "MONITOR_CONFIG": "conf/monitor.yaml",
            "MONITOR_SMTP_HOST": "smtp.example.org",
            "MONITOR_SMTP_PORT": "2525",
            "MONITOR_SMTP_USERNAME": "alerts",
            "MONITOR_SMTP_PASSWORD": "pw",
            "MONITOR_LOG_LEVEL": "debug",
            "MONITOR_LOG_FORMAT": "json",
            "MONITOR_DEFAULT_INTERVAL": "1h30m",
            "MONITOR_FETCH_CONCURRENCY": "8",
            "MONITOR_STATUS_ADDR": "[::1]:9464",
            "MONITOR_UNRELATED_THING": "ignored",
        }
    )

    settings = load_settings()

    assert settings.config == Path("conf/monitor.yaml")
    assert (settings.smtp_host, settings.smtp_effective_port) == ("smtp.example.org", 2525)
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "pw"
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    assert settings.default_interval == timedelta(hours=1, minutes=30)
    assert settings.fetch_concurrency == 8
    assert settings.status_address == ("::1", 9464)


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "MONITOR_LOG_LEVEL=warning\nMONITOR_SMTP_HOST=from-dotenv.example.org\nOTHER=1\n"
    )
    os.environ["MONITOR_SMTP_HOST"] = "from-env.example.org"

    settings = load_settings()

    assert settings.log_level == "WARNING"
    assert settings.smtp_host == "from-env.example.org"


def test_dotenv_errors_name_the_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MONITOR_LOG_FORMAT=xml\n")

    assert settings_errors() == [
        "MONITOR_LOG_FORMAT: Input should be 'text' or 'json' (got \"xml\")"
    ]


def test_empty_variables_mean_the_default() -> None:
    os.environ.update({"MONITOR_CONFIG": "", "MONITOR_SMTP_PORT": ""})

    settings = load_settings()

    assert (settings.config, settings.smtp_port) == (None, None)


def test_overrides_win_and_none_is_ignored() -> None:
    os.environ["MONITOR_CONFIG"] = "from-env.yaml"

    assert load_settings(config=None).config == Path("from-env.yaml")
    assert load_settings(config=Path("cli.yaml")).config == Path("cli.yaml")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite+aiosqlite:///monitor.db", "sqlite+aiosqlite:///monitor.db"),
        ("sqlite:///data/monitor.db", "sqlite+aiosqlite:///data/monitor.db"),
        ("sqlite:////var/lib/monitor.db", "sqlite+aiosqlite:////var/lib/monitor.db"),
        ("postgres://u:p@db:5432/monitor", "postgresql+asyncpg://u:p@db:5432/monitor"),
        ("postgresql://u@db/monitor", "postgresql+asyncpg://u@db/monitor"),
        ("postgresql+asyncpg://u@db/monitor", "postgresql+asyncpg://u@db/monitor"),
        ("PostgreSQL://u@db/monitor", "postgresql+asyncpg://u@db/monitor"),
        ("postgresql:///monitor?host=/run/pg", "postgresql+asyncpg:///monitor?host=/run/pg"),
    ],
    ids=[
        "aiosqlite",
        "sqlite",
        "sqlite-absolute",
        "postgres",
        "postgresql",
        "asyncpg",
        "case",
        "unix-socket",
    ],
)
def test_database_url_rewriting(given: str, expected: str) -> None:
    os.environ["MONITOR_DATABASE_URL"] = given

    assert load_settings().database_url == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            "mysql://root:hunter2@db/monitor",
            '"mysql" is not a supported database: use sqlite+aiosqlite:///path/to/monitor.db '
            "or postgresql+asyncpg://user:password@host/dbname",
        ),
        (
            "postgresql+psycopg://root:hunter2@db/monitor",
            '"postgresql+psycopg" is not a supported database: use '
            "sqlite+aiosqlite:///path/to/monitor.db or postgresql+asyncpg://user:password@host/dbname",
        ),
        (
            "monitor.db",
            "not a database URL: use sqlite+aiosqlite:///path/to/monitor.db or "
            "postgresql+asyncpg://user:password@host/dbname",
        ),
        (
            "postgres://root:hunter2@db:five/monitor",
            "not a valid database URL: check the port, and percent-encode special characters "
            "in the user name and password",
        ),
    ],
    ids=["mysql", "other-driver", "not-a-url", "bad-port"],
)
def test_bad_database_url(given: str, message: str) -> None:
    assert settings_errors(MONITOR_DATABASE_URL=given) == [f"MONITOR_DATABASE_URL: {message}"]


@pytest.mark.parametrize(
    ("security", "port"), [("starttls", 587), ("tls", 465), ("none", 25)], ids=str
)
def test_smtp_effective_port(security: str, port: int) -> None:
    os.environ["MONITOR_SMTP_SECURITY"] = security

    assert load_settings().smtp_effective_port == port
    assert load_settings(smtp_port=2525).smtp_effective_port == 2525


@pytest.mark.parametrize(
    ("given", "expected"),
    [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("localhost:0", ("localhost", 0))],
    ids=["ipv4", "any-port"],
)
def test_status_addr(given: str, expected: tuple[str, int]) -> None:
    os.environ["MONITOR_STATUS_ADDR"] = given

    assert load_settings().status_address == expected


@pytest.mark.parametrize("given", ["9464", ":9464", "localhost:", "host:99999", "host:http"])
def test_bad_status_addr(given: str) -> None:
    assert settings_errors(MONITOR_STATUS_ADDR=given) == [
        f'MONITOR_STATUS_ADDR: "{given}" is not an address: use host:port, e.g. 127.0.0.1:9464'
    ]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "MONITOR_SMTP_PORT",
            "abc",
            'Input should be a valid integer, unable to parse string as an integer (got "abc")',
        ),
        ("MONITOR_SMTP_PORT", "70000", 'Input should be less than or equal to 65535 (got "70000")'),
        (
            "MONITOR_SMTP_SECURITY",
            "ssl",
            "Input should be 'starttls', 'tls' or 'none' (got \"ssl\")",
        ),
        (
            "MONITOR_LOG_LEVEL",
            "loud",
            '"loud" is not a log level: use DEBUG, INFO, WARNING, ERROR or CRITICAL',
        ),
        ("MONITOR_DEFAULT_INTERVAL", "10x", '"10x" is not a duration: use 30s, 5m, 1h or 1d'),
        ("MONITOR_DEFAULT_INTERVAL", "0", '"0" is zero: a duration must be at least 1s'),
        ("MONITOR_FETCH_TIMEOUT", "0", 'Input should be greater than 0 (got "0")'),
        (
            "MONITOR_PER_HOST_CONCURRENCY",
            "0",
            'Input should be greater than or equal to 1 (got "0")',
        ),
    ],
    ids=[
        "port-text",
        "port-range",
        "security",
        "log-level",
        "interval",
        "zero-interval",
        "timeout",
        "concurrency",
    ],
)
def test_bad_value_names_the_variable(variable: str, value: str, message: str) -> None:
    assert settings_errors(**{variable: value}) == [f"{variable}: {message}"]


def test_every_bad_variable_is_reported() -> None:
    lines = settings_errors(MONITOR_SMTP_PORT="x", MONITOR_LOG_FORMAT="xml")

    assert [line.split(":")[0] for line in lines] == ["MONITOR_SMTP_PORT", "MONITOR_LOG_FORMAT"]


def test_smtp_login_needs_both_parts() -> None:
    assert settings_errors(MONITOR_SMTP_USERNAME="alerts") == [
        "MONITOR_SMTP_USERNAME is set but MONITOR_SMTP_PASSWORD is not: SMTP login needs both"
    ]


def test_secrets_never_appear_in_errors_or_repr() -> None:
    os.environ["MONITOR_SMTP_PASSWORD"] = "hunter2"
    os.environ["MONITOR_SMTP_PORT"] = "not-a-port"
    os.environ["MONITOR_DATABASE_URL"] = "mysql://root:hunter2@db/monitor"

    with pytest.raises(ConfigErrors) as caught:
        load_settings()

    for text in (str(caught.value), repr(caught.value), *map(str, caught.value.errors)):
        assert "hunter2" not in text
    assert caught.value.__cause__ is None  # pydantic's error repeats every input value

    os.environ.update(
        {
            "MONITOR_SMTP_PORT": "2525",
            "MONITOR_SMTP_USERNAME": "alerts",
            "MONITOR_DATABASE_URL": "postgresql://monitor:hunter2@db/monitor",
        }
    )
    settings = load_settings()
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings)
    assert "postgresql+asyncpg://monitor:***@db/monitor" in repr(settings)
    assert settings.database_url == "postgresql+asyncpg://monitor:hunter2@db/monitor"


def test_settings_are_frozen() -> None:
    settings = load_settings()

    with pytest.raises(ValidationError, match="frozen"):
        settings.log_level = "DEBUG"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1d 2h", 93600),
        ("90", 90),
        (" 10M ", 600),
    ],
    ids=["s", "m", "h", "d", "combined", "spaced", "plain-seconds", "case-and-blanks"],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10x", '"10x" is not a duration: use 30s, 5m, 1h or 1d'),
        ("", '"" is not a duration: use 30s, 5m, 1h or 1d'),
        ("1.5h", '"1.5h" is not a duration: use 30s, 5m, 1h or 1d'),
        ("PT10M", '"PT10M" is not a duration: use 30s, 5m, 1h or 1d'),
        ("0s", '"0s" is zero: a duration must be at least 1s'),
        ("0h0m", '"0h0m" is zero: a duration must be at least 1s'),
        ("-5m", '"-5m" is negative: a duration must be at least 1s'),
        ("999999999999d", '"999999999999d" is too long for a duration'),
    ],
    ids=["unit", "empty", "fraction", "iso", "zero", "zero-combined", "negative", "overflow"],
)
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)

    assert str(caught.value) == message


def test_settings_can_be_built_directly_without_a_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MONITOR_LOG_LEVEL=error\n")

    assert Settings(_env_file=None).log_level == "INFO"  # type: ignore[call-arg]
    assert Settings().log_level == "ERROR"
