"""The request body of each webhook format (json, slack, discord, teams, template), per message.

`json` is the contract (README, "Webhook payload"). The chat formats (`slack.py`, `discord.py`,
`teams.py`) follow each service's incoming-webhook shape and limits, and escape article text so
that it can neither ping a channel nor inject links. `template` renders a user's Jinja2 file
in a sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from monitor.errors import ConfigError, PermanentDeliveryError
from monitor.notify.base import WebhookOptions
from monitor.notify.discord import discord_payload
from monitor.notify.messages import (
    AlertMessage,
    Digest,
    Outgoing,
    alert_payload,
    iso_utc,
)
from monitor.notify.sample import sample_alert
from monitor.notify.slack import slack_payload
from monitor.notify.teams import teams_payload

__all__ = [
    "JSON_CONTENT_TYPE",
    "body_content_type",
    "json_payload",
    "load_template",
    "render_body",
    "render_template",
    "template_context",
]

JSON_CONTENT_TYPE = "application/json"


def render_body(
    message: Outgoing, options: WebhookOptions, template: jinja2.Template | None
) -> bytes:
    """The request body of `message` in `options.format`.

    Raises PermanentDeliveryError when a template fails to render (it will fail every time).
    """
    if options.format == "template":
        if template is None:
            raise PermanentDeliveryError("format template, but no template was loaded")
        return render_template(template, message).encode("utf-8")
    renderers = {
        "json": json_payload,
        "slack": slack_payload,
        "discord": discord_payload,
        "teams": teams_payload,
    }
    return _json_bytes(renderers[options.format](message))


def body_content_type(options: WebhookOptions) -> str:
    """The Content-Type of the bodies `render_body` makes for these options."""
    return options.content_type if options.format == "template" else JSON_CONTENT_TYPE


def _json_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ---- json: the contract ------------------------------------------------------------------
def json_payload(message: Outgoing) -> dict[str, Any]:
    """The `format: json` document: the README's payload for an alert; a digest or a notice."""
    if isinstance(message, AlertMessage):
        return alert_payload(message)
    if isinstance(message, Digest):
        return {
            "type": "digest",
            "id": message.delivery_id,
            "created_at": iso_utc(message.created_at),
            "alerts": [alert_payload(alert) for alert in message.alerts],
            "omitted": message.omitted,
        }
    return {
        "type": message.kind.value,
        "id": message.delivery_id,
        "at": iso_utc(message.at),
        "feed": {"id": message.feed.id, "title": message.feed.title, "url": message.feed.url},
        "failures": message.failures,
        "error": message.error,
        "since": iso_utc(message.since),
    }


# ---- template ----------------------------------------------------------------------------------
def load_template(path: Path) -> jinja2.Template:
    """A user's Jinja2 template, compiled in a sandbox. Raises ConfigError with file and line.

    Undefined names are errors (StrictUndefined) and nothing is auto-escaped: the output is
    JSON or text, and the template escapes with `tojson` itself.
    """
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("the template is not UTF-8 text", path=path) from exc
    except OSError as exc:
        raise ConfigError("cannot read the template", path=path) from exc
    environment = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    environment.policies["json.dumps_kwargs"] = {
        "ensure_ascii": False,
        "sort_keys": False,
        "default": _undefined_in_json,
    }
    try:
        code = environment.compile(source, name=path.name, filename=str(path))
    except jinja2.TemplateSyntaxError as exc:
        # Not chained: the error's own text repeats the location over several lines.
        message = f"template syntax error: {exc.message}"
        raise ConfigError(message, path=path, line=exc.lineno) from None
    return environment.template_class.from_code(environment, code, environment.make_globals(None))


def _undefined_in_json(value: object) -> object:
    """`tojson` of an undefined name raises what the name is (`'dict object' has no attribute
    'titel'`), not json's "Object of type StrictUndefined is not JSON serializable"."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def template_context(message: Outgoing) -> dict[str, Any]:
    """What a template sees: `kind` and, as the json format has them, `alert`, `alerts`,
    `digest` and `notice` (None, or empty `alerts`, where they do not apply)."""
    payload = json_payload(message)
    context: dict[str, Any] = {"alert": None, "alerts": [], "digest": None, "notice": None}
    if isinstance(message, AlertMessage):
        return context | {"kind": "alert", "alert": payload, "alerts": [payload]}
    if isinstance(message, Digest):
        return context | {"kind": "digest", "alerts": payload["alerts"], "digest": payload}
    return context | {"kind": message.kind.value, "notice": payload}


def render_template(template: jinja2.Template, message: Outgoing) -> str:
    """The template's output for `message`; PermanentDeliveryError naming file and line."""
    try:
        return template.render(template_context(message))
    except Exception as exc:  # any failure is the template's own (undefined, unsafe, type)
        where = template.filename or template.name or "template"
        line = _template_line(exc.__traceback__, template.filename)
        location = where if line is None else f"{where}:{line}"
        raise PermanentDeliveryError(f"{location}: template error: {_reason(exc)}") from exc


def check_template(path: Path) -> None:
    """Load the template at `path` and render it once for a sample alert, so that an undefined
    name or a failing expression is a ConfigError at the template's line when the configuration
    loads, not a dead delivery at the first alert."""
    template = load_template(path)
    try:
        template.render(template_context(sample_alert()))
    except Exception as exc:  # as in render_template: any failure is the template's own
        line = _template_line(exc.__traceback__, template.filename)
        message = f"template error for a sample alert: {_reason(exc)}"
        raise ConfigError(message, path=path, line=line) from None


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, jinja2.TemplateError) else f"{type(exc).__name__}: {exc}"


def _template_line(trace: TracebackType | None, filename: str | None) -> int | None:
    """The template line the error came from: Jinja rewrites tracebacks so that the template's
    frames carry its file name and line."""
    line = None
    while trace is not None:
        if filename and trace.tb_frame.f_code.co_filename == filename:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line
