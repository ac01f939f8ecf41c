"""Redaction of secrets in URLs, the one rule for every place a URL is shown: log lines, error
messages, `monitor feeds` (table and --json) and the status server's API.

What goes: a userinfo password (or the whole userinfo without one), every query value whose name
is not on a short allow-list of parameters that select content (`q`, `lang`, `page`, ...), and
path segments that look like tokens: long runs mixing letters and digits, and the token parts of
known webhook forms (Slack, Discord, Telegram bots). The rest is kept byte for byte.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = ["REDACTED", "redact_url"]

REDACTED = "***"

# Query parameters that select what a feed shows and are not credentials: their values are kept.
# Any other parameter's value is redacted (`?code=`, `?t=`, `?k=`: services name tokens freely).
ALLOWED_PARAMS = frozenset(
    {
        "id", "format", "fmt", "lang", "language", "locale", "hl", "gl", "ceid", "category",
        "cat", "page", "per_page", "limit", "count", "q", "query", "search", "tag", "tags",
        "type", "feed", "output", "rss", "section", "topic", "sort", "order", "edition",
        "region", "country", "version", "v", "view", "mode", "channel", "year", "month",
    }
)  # fmt: skip
# A path segment is token-like when it holds a run of at least this many letters and digits
# with both in it: API keys, webhook tokens, private-feed hashes. Words and dates in a slug
# ("peace-treaty-signed-2024") are shorter runs, cut by their hyphens.
_TOKEN_RUN = 20
_RUN = re.compile(r"[A-Za-z0-9]+")
_HEX_ID = re.compile(r"[0-9a-fA-F]{8}(?:-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}")  # a UUID
# Webhook hosts whose token part may be short: after the prefix, the first segment (a Slack
# team, a Discord webhook id) is kept and the rest is redacted.
_WEBHOOK_PREFIXES = {
    "hooks.slack.com": "/services/",
    "discord.com": "/api/webhooks/",
    "discordapp.com": "/api/webhooks/",
    "canary.discord.com": "/api/webhooks/",
    "ptb.discord.com": "/api/webhooks/",
}
_TELEGRAM_BOT = re.compile(r"bot[0-9]+:[A-Za-z0-9_-]+")


def redact_url(url: str) -> str:
    """`url` as it may be shown: its userinfo password, non-allow-listed query values and
    token-like path segments replaced by `***`. A URL too broken to parse is `***` whole."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = _redact_userinfo(parts.netloc)
    path = _redact_path(parts.path, (parts.hostname or "").lower())
    query = _redact_pairs(parts.query)
    fragment = _redact_pairs(parts.fragment) if "=" in parts.fragment else parts.fragment
    if (netloc, path, query, fragment) == (parts.netloc, parts.path, parts.query, parts.fragment):
        return url  # nothing secret: keep it byte for byte (urlunsplit drops an empty "//")
    return urlunsplit(SplitResult(parts.scheme, netloc, path, query, fragment))


def _redact_userinfo(netloc: str) -> str:
    if "@" not in netloc:
        return netloc
    userinfo, _, host = netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"


def _redact_pairs(query: str) -> str:
    """Each `name=value` of `query` with its value redacted unless `name` is allowed; the
    separators and the encoding of what is kept stay as they were."""
    if not query:
        return query
    pairs = []
    for pair in query.split("&"):
        name, sep, value = pair.partition("=")
        if sep and value and name.lower() not in ALLOWED_PARAMS:
            value = REDACTED
        pairs.append(f"{name}{sep}{value}")
    return "&".join(pairs)


def _redact_path(path: str, host: str) -> str:
    prefix = _WEBHOOK_PREFIXES.get(host)
    if prefix and path.lower().startswith(prefix):
        kept, _, rest = path[len(prefix) :].partition("/")
        tail = "/".join(REDACTED if segment else "" for segment in rest.split("/"))
        return f"{path[: len(prefix)]}{kept}/{tail}" if rest else path
    return "/".join(REDACTED if _is_token(segment) else segment for segment in path.split("/"))


def _is_token(segment: str) -> bool:
    if _TELEGRAM_BOT.fullmatch(segment) or _HEX_ID.search(segment):
        return True
    for run in _RUN.findall(segment):
        if len(run) >= _TOKEN_RUN and not run.isalpha() and not run.isdigit():
            return True
    return False
