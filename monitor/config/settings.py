"""Process settings: `MONITOR_*` variables and `.env`, validated into one frozen `Settings`.

Also owns `parse_duration`, the duration syntax (`30s`, `5m`, `1h30m`, `1d`) that the YAML shares.
"""

from __future__ import annotations

import importlib
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

import monitor
from monitor.errors import ConfigError, ConfigErrors
from monitor.models import DeliveryLimits
from monitor.redact import redact_url

ENV_PREFIX = "MONITOR_"
DURATION_HINT = "use 30s, 5m, 1h or 1d"
_DURATION = re.compile(r"(?:[0-9]+\s*[smhd]\s*)+", re.ASCII)
_DURATION_PART = re.compile(r"([0-9]+)\s*([smhd])", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_INTERVAL = timedelta(minutes=10)

_SMTP_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Rewritten to the async driver the store uses; any other driver is refused.
_DATABASE_SCHEMES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
# Values never echoed back in an error message.
_SECRET_FIELDS = frozenset({"smtp_password", "database_url", "status_token"})


def parse_duration(text: str) -> timedelta:
    """Parse `30s`, `5m`, `1h`, `1d`, combinations such as `1h30m`, or a plain number of seconds.

    Raises ValueError naming the text and the accepted forms; zero and negative are refused.
    """
    cleaned = text.strip().lower()
    if cleaned.startswith("-"):
        raise ValueError(f'"{text}" is negative: a duration must be at least 1s')
    if cleaned.isascii() and cleaned.isdigit():
        seconds = int(cleaned)
    elif _DURATION.fullmatch(cleaned):
        seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(cleaned))
    else:
        raise ValueError(f'"{text}" is not a duration: {DURATION_HINT}')
    if seconds == 0:
        raise ValueError(f'"{text}" is zero: a duration must be at least 1s')
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f'"{text}" is too long for a duration') from None


def format_duration(duration: timedelta) -> str:
    """A duration as monitor.yaml writes it: `1h30m`, `45s`, `2d` (whole seconds)."""
    seconds = int(duration.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def normalize_database_url(url: str) -> str:
    """Return `url` with the async driver the store needs (`postgres://` -> `postgresql+asyncpg://`).

    Raises ValueError for any other scheme; the message never repeats the URL (it may hold a
    password).
    """
    scheme, sep, rest = url.strip().partition("://")
    target = _DATABASE_SCHEMES.get(scheme.lower()) if sep else None
    if target is None:
        shown = f'"{scheme}" is not a supported database' if sep else "not a database URL"
        raise ValueError(
            f"{shown}: use sqlite+aiosqlite:///path/to/monitor.db "
            "or postgresql+asyncpg://user:password@host/dbname"
        )
    normalized = f"{target}://{rest}"
    try:
        make_url(normalized)
    except (ArgumentError, ValueError):
        raise ValueError(
            "not a valid database URL: check the port, and percent-encode special characters "
            "in the user name and password"
        ) from None
    return normalized


# The driver each store URL needs, and the package extra that installs it.
_DRIVERS = {"postgresql+asyncpg": ("asyncpg", "PostgreSQL", "feed-monitor[postgres]")}


def database_driver_problem(url: str) -> ConfigError | None:
    """An error naming the extra to install when the driver of the store at `url` (a normalized
    URL) cannot be imported, as after a plain `pip install .` with a PostgreSQL URL."""
    scheme = url.partition("://")[0]
    if scheme not in _DRIVERS:
        return None
    module, database, extra = _DRIVERS[scheme]
    try:
        importlib.import_module(module)
    except ImportError:
        return ConfigError(
            f"{env_name('database_url')} is a {database} URL, but its driver {module} is not "
            f"installed: pip install '{extra}'"
        )
    return None


def parse_host_port(text: str) -> tuple[str, int]:
    """Split `host:port` (IPv6 as `[::1]:9464`); port 0 asks the OS for a free one."""
    host, sep, port = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise ValueError(f'"{text}" is not an address: use host:port, e.g. 127.0.0.1:9464')
    return host, int(port)


_DELIVERY = DeliveryLimits()  # the worker's defaults are the settings' defaults


class Settings(BaseSettings):
    """Process-wide settings from `MONITOR_<NAME>` variables and `./.env` (variables win).

    Build it with `load_settings()` to get `ConfigErrors` that name the variable.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    config: Path | None = None
    database_url: str = "sqlite+aiosqlite:///monitor.db"
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_from: str | None = None
    status_addr: str | None = None
    status_token: SecretStr | None = None  # required by /api/* (Bearer); off loopback, or 403
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    user_agent: str = (
        f"feed-monitor/{monitor.__version__} (+https://github.com/feed-monitor/feed-monitor)"
    )
    default_interval: timedelta = DEFAULT_INTERVAL
    max_interval: timedelta | None = None  # adaptive polling's ceiling for every feed
    fetch_timeout: float = Field(default=30.0, gt=0)
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=20.0, gt=0)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    # A parser worker's address space (RLIMIT_AS), in bytes; 0: unlimited.
    parse_memory_limit: int = Field(default=256 * 1024 * 1024, ge=0)
    fetch_concurrency: int = Field(default=100, ge=1)
    per_host_concurrency: int = Field(default=4, ge=1)
    shutdown_grace: float = Field(default=20.0, ge=0)
    delivery_max_attempts: int = Field(default=_DELIVERY.max_attempts, ge=1)
    delivery_max_age: timedelta = _DELIVERY.max_age
    delivery_lease: timedelta = _DELIVERY.lease
    feed_lease: timedelta = timedelta(minutes=5)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("status_addr")
    @classmethod
    def _check_status_addr(cls, value: str | None) -> str | None:
        if value is not None:
            parse_host_port(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in logging.getLevelNamesMapping() or level == "NOTSET":
            names = f"{', '.join(_LOG_LEVELS[:-1])} or {_LOG_LEVELS[-1]}"
            raise ValueError(f'"{value}" is not a log level: use {names}')
        return level

    @field_validator(
        "default_interval",
        "max_interval",
        "delivery_max_age",
        "delivery_lease",
        "feed_lease",
        mode="before",
    )
    @classmethod
    def _parse_interval(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_duration(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
            raise ValueError(f"{value} seconds: a duration must be at least 1s")
        return value

    @field_validator(
        "default_interval", "max_interval", "delivery_max_age", "delivery_lease", "feed_lease"
    )
    @classmethod
    def _check_interval(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(seconds=1):
            raise ValueError("a duration must be at least 1s")
        return value

    @model_validator(mode="after")
    def _check_smtp_login(self) -> Settings:
        if (self.smtp_username is None) != (self.smtp_password is None):
            given, missing = (
                ("USERNAME", "PASSWORD") if self.smtp_username else ("PASSWORD", "USERNAME")
            )
            raise ValueError(
                f"{ENV_PREFIX}SMTP_{given} is set but {ENV_PREFIX}SMTP_{missing} is not: "
                "SMTP login needs both"
            )
        return self

    @property
    def smtp_effective_port(self) -> int:
        """The SMTP port to use: the one given, else the standard one for `smtp_security`."""
        return self.smtp_port or _SMTP_DEFAULT_PORTS[self.smtp_security]

    @property
    def status_address(self) -> tuple[str, int] | None:
        """`status_addr` split into (host, port), or None when the status server is off."""
        return None if self.status_addr is None else parse_host_port(self.status_addr)

    def __repr_args__(self) -> Any:
        # The database URL may carry a password; SecretStr already hides the SMTP one.
        for name, value in super().__repr_args__():
            secret = name == "database_url" and isinstance(value, str) and "@" in value
            yield name, redact_url(str(value)) if secret else value


def env_name(field: str) -> str:
    """The environment variable that sets a `Settings` field."""
    return f"{ENV_PREFIX}{field.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """Build `Settings` from the environment and `.env`, with `overrides` (None ones are ignored,
    so a CLI can pass its options straight through).

    Raises ConfigErrors with one `MONITOR_<NAME>: message` line per bad variable.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        # `from None`: the pydantic error repeats every input value, secrets included.
        raise ConfigErrors([_config_error(e) for e in exc.errors()]) from None


def _config_error(error: Any) -> ConfigError:
    loc = error.get("loc") or ()
    field = str(loc[0]) if loc else None
    if error.get("type") == "value_error":
        message = str(error["ctx"]["error"])
    else:
        message = str(error.get("msg", "invalid value"))
        value = error.get("input")
        if field not in _SECRET_FIELDS and isinstance(value, str):
            message = f'{message} (got "{value}")'
    return ConfigError(message, field=env_name(field) if field else None)
