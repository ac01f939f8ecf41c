"""A notifier's options: what each type takes, checked at load time, then typed for delivery.

`NotifierChecker` reports every bad option with file:line and keeps nothing but the YAML values
(and, for notify to judge, the options only it can: see `NotifierOptionCheck`);
`notifier_options` and `delivery_policy` turn a validated `NotifierConfig` into the option
objects of `monitor.notify.base` (parsing values already checked, so they cannot fail).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from monitor.config.files import Located
from monitor.config.settings import DURATION_HINT, parse_duration
from monitor.config.validate import Checker, one_of, shown_url, suggestion, url_problem
from monitor.models import (
    ConsoleOptions,
    DeliveryPolicy,
    EmailOptions,
    FileOptions,
    NotifierCheckKind,
    NotifierOptionCheck,
    NotifierOptions,
    WebhookFormat,
    WebhookOptions,
)
from monitor.redact import REDACTED, redact_url

if TYPE_CHECKING:
    from monitor.config.schema import NotifierConfig

__all__ = [
    "DELIVERY_MODES",
    "DELIVERY_OPTIONS",
    "NOTIFIER_KEYS",
    "NOTIFIER_OPTIONS",
    "RESERVED_HEADERS",
    "WEBHOOK_FORMATS",
    "NotifierChecker",
    "NotifierOptions",
    "delivery_policy",
    "notifier_base_dir",
    "notifier_options",
    "resolve_path",
    "shown_webhook_url",
]

DELIVERY_MODES = ("immediate", "digest")
WEBHOOK_FORMATS: tuple[str, ...] = get_args(WebhookFormat)
NOTIFIER_KEYS = ("id", "type")  # every notifier has them
DELIVERY_OPTIONS = ("mode", "every", "cron", "max_per_hour")  # every type takes them
NOTIFIER_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "webhook": (
            "url",
            "format",
            "secret",
            "headers",
            "template",
            "content_type",
            "timeout",
            "concurrency",
        ),
        "email": ("to", "cc", "subject", "concurrency"),
        "file": ("path",),
        "console": (),
    }
)
_REQUIRED_OPTIONS = {"webhook": ("url",), "email": ("to",), "file": ("path",)}
# Set by the webhook notifier itself (RFC 9110 framing, and the Standard Webhooks headers).
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)
WEBHOOK_CONCURRENCY = (1, 64)
EMAIL_CONCURRENCY = (1, 16)
MAX_WEBHOOK_TIMEOUT = timedelta(minutes=5)
MIN_DIGEST_EVERY = timedelta(minutes=1)

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 section 5.6.2
_TOKEN_CHARS = "letters, digits and !#$%&'*+-.^_`|~"
_MEDIA_TYPE = re.compile(rf"{_TOKEN.pattern}/{_TOKEN.pattern}(\s*;[^\r\n]*)?")
_LINE_BREAKS = ("\r", "\n", "\0")
# The scheme and host of a URL (or the host of a scheme-less one), then the rest.
_URL_HEAD = re.compile(
    r"(?P<head>(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://)?[^/?#]*)(?P<tail>.*)", re.DOTALL
)

_WEBHOOK_DEFAULTS = WebhookOptions(url="")
_EMAIL_DEFAULTS = EmailOptions(to=())


def shown_webhook_url(node: Located) -> str:
    """A webhook URL for a message: scheme and host only, since chat webhooks (Slack, Discord,
    Teams) carry their token in the path; from the environment, the `${VAR}` as written."""
    if node.template is not None or not isinstance(node.value, str):
        return shown_url(node)
    match = _URL_HEAD.fullmatch(node.value)
    assert match is not None  # every part of the pattern is optional
    head, tail = match.group("head"), match.group("tail")
    redacted = redact_url(head)
    if redacted == REDACTED:
        return "this value"
    return f'"{redacted}/{REDACTED}"' if tail not in ("", "/") else f'"{redacted}{tail}"'


def notifier_base_dir(source: Path | None, *, embedded: bool) -> Path:
    """The folder relative notifier paths (`template`, `path`) are resolved against: the one
    monitor.yaml is in, or the current one for the embedded default."""
    if embedded or source is None:
        return Path.cwd()
    return source.resolve().parent


def _article(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


@dataclass(slots=True)
class NotifierChecker(Checker):
    """Checks the options of one `notifiers:` entry, by its type. What only notify can judge is
    recorded in `option_checks`, in line order, for the wiring to run."""

    option_checks: list[NotifierOptionCheck] = field(default_factory=list)

    def notifier_options_valid(
        self, node: Located, kind: str, fields: Mapping[str, Located], base_dir: Path
    ) -> bool:
        """Reports every problem with the options of a notifier of type `kind`; True if none
        (and no `${VAR}` in them failed)."""
        before = len(self.errors)
        self._known_keys(node, kind, fields)
        for key in _REQUIRED_OPTIONS.get(kind, ()):
            if key not in fields:
                self.report(node, f'missing required key "{key}" for {_article(kind)} notifier')
        self._delivery(fields)
        if kind == "webhook":
            self._webhook(node, fields, base_dir)
        elif kind == "email":
            self._email(fields)
        elif kind == "file" and (path := fields.get("path")) is not None:
            self._file_path(path, base_dir)
        return len(self.errors) == before and not any(v.unresolved for v in fields.values())

    def unknown_notifier_keys(self, node: Located, fields: Mapping[str, Located]) -> None:
        """Reports the keys no notifier type takes (for an entry whose type is missing or bad)."""
        options = (key for keys in NOTIFIER_OPTIONS.values() for key in keys)
        allowed = tuple(dict.fromkeys((*NOTIFIER_KEYS, *DELIVERY_OPTIONS, *options)))
        for key in fields:
            if key not in allowed:
                hint = suggestion(key, allowed) or f": expected {one_of(allowed)}"
                self.report(node, f'unknown key "{key}"{hint}', key=key)

    def _known_keys(self, node: Located, kind: str, fields: Mapping[str, Located]) -> None:
        allowed = (*NOTIFIER_KEYS, *DELIVERY_OPTIONS, *NOTIFIER_OPTIONS[kind])
        for key in fields:
            if key not in allowed:
                hint = suggestion(key, allowed) or f": expected {one_of(allowed)}"
                message = f'unknown key "{key}" for {_article(kind)} notifier{hint}'
                self.report(node, message, key=key)

    # -- when deliveries go out ------------------------------------------------------------

    def _delivery(self, fields: Mapping[str, Located]) -> None:
        """`mode`, and the options that only one mode takes: `every` or `cron` for a digest,
        `max_per_hour` for immediate deliveries."""
        mode_node, cap = fields.get("mode"), fields.get("max_per_hour")
        every, cron = fields.get("every"), fields.get("cron")
        mode = (
            "immediate"
            if mode_node is None
            else self.choice(mode_node, DELIVERY_MODES, "delivery mode")
        )
        if every is not None:
            self._at_least(every, MIN_DIGEST_EVERY, "a digest is sent at most once a minute")
        if cron is not None:
            self._cron(cron)
        if cap is not None:
            self.count(cap, 1)
        if mode == "digest" and mode_node is not None:
            self._digest_schedule(mode_node, every, cron)
            if cap is not None:
                message = "max_per_hour only works with mode: immediate (a digest is one message)"
                self.report(cap, message)
        elif mode == "immediate":
            for key, node in (("every", every), ("cron", cron)):
                if node is not None:
                    message = f"{key} needs mode: digest (without it, each alert is sent at once)"
                    self.report(node, message)

    def _digest_schedule(self, mode: Located, every: Located | None, cron: Located | None) -> None:
        if every is None and cron is None:
            self.report(mode, 'a digest needs "every" (e.g. 1h) or "cron" (e.g. "0 8 * * *")')
        elif every is not None and cron is not None:
            message = (
                f'a digest takes "every" or "cron", not both ("every" is on line {every.line})'
            )
            self.report(cron, message)

    def _cron(self, node: Located) -> None:
        expression = self.string(node)
        if expression is not None:
            self._check_later("cron", node, expression)

    def _check_later(self, kind: NotifierCheckKind, node: Located, value: str) -> None:
        """An option only notify can judge: recorded with its place (see `option_checks`)."""
        check = NotifierOptionCheck(
            kind=kind,
            value=value,
            path=node.source,
            line=node.line,
            field=node.field or None,
            shown=node.shown(),
            from_environment=node.template is not None,
        )
        self.option_checks.append(check)

    # -- webhook ---------------------------------------------------------------------------

    def _webhook(self, node: Located, fields: Mapping[str, Located], base_dir: Path) -> None:
        if (url := fields.get("url")) is not None:
            self._webhook_url(url)
        format_node = fields.get("format")
        kind = (
            "json"
            if format_node is None
            else self.choice(format_node, WEBHOOK_FORMATS, "webhook format")
        )
        if (secret := fields.get("secret")) is not None:
            self._secret(secret)
        if (headers := fields.get("headers")) is not None:
            self._headers(headers)
        self._template_options(node, fields, kind, base_dir)
        if (timeout := fields.get("timeout")) is not None:
            self._at_most(timeout, MAX_WEBHOOK_TIMEOUT, "a webhook timeout")
        if (concurrency := fields.get("concurrency")) is not None:
            self.count(concurrency, *WEBHOOK_CONCURRENCY)

    def _webhook_url(self, node: Located) -> None:
        value = self.string(node)
        if value is not None and (problem := url_problem(value)):
            self.report(node, f"{shown_webhook_url(node)} {problem}")

    def _secret(self, node: Located) -> None:
        """A string; empty (or null) means unset, as `${SECRET:-}` gives when SECRET is not set."""
        if node.unresolved or node.value in (None, ""):
            return
        secret = self.string(node)  # its messages never hold the value
        if secret is not None:
            self._check_later("secret", node, secret)

    def _headers(self, node: Located) -> None:
        headers = self.mapping(node, None, what="headers")
        if headers is None:
            return
        seen: dict[str, str] = {}
        for name, value in headers.items():
            if not self._header_name(node, name, seen):
                continue  # its value does not matter
            text = self.string(value)  # a header value is never shown: it may be a token
            if text is not None and any(ch in text for ch in _LINE_BREAKS):
                self.report(value, "must not contain a line break (CR or LF)")

    def _header_name(self, node: Located, name: str, seen: dict[str, str]) -> bool:
        """Reports a name that is not a token, is reserved or repeats another; True if good."""
        lowered = name.lower()
        if not _TOKEN.fullmatch(name):
            message = f'"{name}" is not a header name: use {_TOKEN_CHARS} (no spaces or ":")'
        elif lowered in RESERVED_HEADERS:
            hint = ": use content_type (with format: template)" if lowered == "content-type" else ""
            message = f'"{name}" is set by the webhook notifier itself{hint}'
        elif lowered in seen:
            message = f'"{name}" repeats the header "{seen[lowered]}" (names ignore case)'
        else:
            seen[lowered] = name
            return True
        self.report(node, message, key=name)
        return False

    def _template_options(
        self, node: Located, fields: Mapping[str, Located], kind: str | None, base_dir: Path
    ) -> None:
        """`template` and `content_type` go with `format: template`, and only with it."""
        template, content_type = fields.get("template"), fields.get("content_type")
        if template is not None:
            self._template_file(template, base_dir)
        if content_type is not None:
            self._content_type(content_type)
        if kind == "template" and template is None:
            self.report(node, 'missing required key "template" for format: template')
        if kind is None or kind == "template":
            return
        for key, given_node in (("template", template), ("content_type", content_type)):
            if given_node is not None:
                self.report(given_node, f"{key} only works with format: template, not {kind}")

    def _template_file(self, node: Located, base_dir: Path) -> None:
        written = self.string(node)
        if written is None:
            return
        path = resolve_path(written, base_dir)
        if path.is_dir():
            self.report(node, f"{node.shown()} is a folder, not a template file ({path})")
        elif not path.is_file():
            self.report(node, f"{node.shown()} does not exist (looked for {path})")
        else:
            self._check_later("template", node, str(path))

    def _content_type(self, node: Located) -> None:
        value = self.string(node)
        if value is not None and not _MEDIA_TYPE.fullmatch(value.strip()):
            hint = "expected type/subtype, e.g. text/plain; charset=utf-8"
            self.report(node, f"{node.shown()} is not a media type: {hint}")

    # -- email and file --------------------------------------------------------------------

    def _email(self, fields: Mapping[str, Located]) -> None:
        if (to := fields.get("to")) is not None:
            self._addresses(to, required=True)
        if (cc := fields.get("cc")) is not None:
            self._addresses(cc, required=False)
        if (subject := fields.get("subject")) is not None:
            self._subject(subject)
        if (concurrency := fields.get("concurrency")) is not None:
            self.count(concurrency, *EMAIL_CONCURRENCY)

    def _subject(self, node: Located) -> None:
        source = self.string(node)
        if source is not None:
            self._check_later("subject", node, source)

    def _addresses(self, node: Located, *, required: bool) -> None:
        """A list of email addresses; `required`: at least one."""
        addresses = self.items(node)
        if required and not addresses and (node.value is None or node.sequence is not None):
            self.report(node, "needs at least one email address")
        for item in addresses:
            address = self.string(item)
            if address is None:
                continue
            if "@" not in address or any(ch in address for ch in _LINE_BREAKS):
                self.report(item, f"{item.shown()} is not an email address")

    def _file_path(self, node: Located, base_dir: Path) -> None:
        """A file to append to, in a folder that exists and this process may write in: the
        notifier never creates folders (a root `notify-test` would make them root's)."""
        written = self.string(node)
        if written is None:
            return
        path = resolve_path(written, base_dir)
        if path.is_dir():
            self.report(node, f"{node.shown()} is a folder: give a file to append to ({path})")
        elif not path.parent.is_dir():
            self.report(node, f"{node.shown()}: the folder {path.parent} does not exist: create it")
        elif not os.access(path.parent, os.W_OK | os.X_OK) or (
            path.exists() and not os.access(path, os.W_OK)
        ):
            where = path if path.exists() else path.parent
            self.report(node, f"{node.shown()}: {where} is not writable by this user")

    # -- numbers and durations -------------------------------------------------------------

    def _duration_given(self, node: Located) -> timedelta | None:
        """A duration that must be written (null is not the default here)."""
        if node.value is None and not node.unresolved:
            self.report(node, f"expected a duration, not nothing (null): {DURATION_HINT}")
            return None
        return self.duration(node, timedelta(0))

    def _at_least(self, node: Located, minimum: timedelta, why: str) -> None:
        value = self._duration_given(node)
        if value is not None and value < minimum:
            least = _shown_duration(minimum)
            self.report(node, f"{node.shown()} is too short: {why} (use {least} or more)")

    def _at_most(self, node: Located, maximum: timedelta, what: str) -> None:
        value = self._duration_given(node)
        if value is not None and value > maximum:
            most = _shown_duration(maximum)
            self.report(node, f"{node.shown()} is too long: {what} must be at most {most}")


def _shown_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def resolve_path(written: str, base_dir: Path) -> Path:
    """A path from monitor.yaml: `~` expanded, relative to `base_dir`."""
    path = Path(written).expanduser()
    return path if path.is_absolute() else base_dir / path


# -- typed options ---------------------------------------------------------------------------


def notifier_options(notifier: NotifierConfig, base_dir: Path) -> NotifierOptions:
    """The typed options of a validated notifier; relative paths are resolved against
    `base_dir` (see `notifier_base_dir`)."""
    options = notifier.options
    if notifier.type == "webhook":
        return _webhook_options(options, base_dir)
    if notifier.type == "email":
        return EmailOptions(
            to=_strings(options.get("to")),
            cc=_strings(options.get("cc")),
            subject=_optional_str(options.get("subject")),
            concurrency=int(options.get("concurrency") or _EMAIL_DEFAULTS.concurrency),
        )
    if notifier.type == "file":
        return FileOptions(path=resolve_path(str(options["path"]), base_dir))
    return ConsoleOptions()


def _webhook_options(options: Mapping[str, Any], base_dir: Path) -> WebhookOptions:
    template = options.get("template")
    timeout = options.get("timeout")
    headers: Mapping[str, Any] = options.get("headers") or {}
    return WebhookOptions(
        url=str(options["url"]),
        format=cast(WebhookFormat, options.get("format") or _WEBHOOK_DEFAULTS.format),
        secret=_optional_str(options.get("secret")),
        headers=MappingProxyType({str(name): str(value) for name, value in headers.items()}),
        template=None if template is None else resolve_path(str(template), base_dir),
        content_type=str(options.get("content_type") or _WEBHOOK_DEFAULTS.content_type).strip(),
        timeout=(
            _WEBHOOK_DEFAULTS.timeout if timeout is None else _duration(timeout).total_seconds()
        ),
        concurrency=int(options.get("concurrency") or _WEBHOOK_DEFAULTS.concurrency),
    )


def delivery_policy(notifier: NotifierConfig) -> DeliveryPolicy:
    """When a validated notifier's deliveries go out, and its hourly cap."""
    options = notifier.options
    every, cap = options.get("every"), options.get("max_per_hour")
    return DeliveryPolicy(
        mode=cast(Literal["immediate", "digest"], notifier.mode),
        every=None if every is None else _duration(every),
        cron=_optional_str(options.get("cron")),
        max_per_hour=None if cap is None else int(cap),
    )


def _duration(value: object) -> timedelta:
    return parse_duration(str(value))


def _optional_str(value: object) -> str | None:
    """A string option; absent, null and empty mean unset."""
    return None if value is None or value == "" else str(value)


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    values = value if isinstance(value, list | tuple) else (value,)
    return tuple(dict.fromkeys(str(item) for item in values))
