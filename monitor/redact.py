"""Redaction of secrets in URLs before they reach a log line or an error message."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters whose values are credentials in the APIs feeds and webhooks commonly use.
_SECRET_PARAM = re.compile(
    r"(token|key|secret|password|passwd|pwd|auth|signature|sig|session|credential|apikey|access)",
    re.IGNORECASE,
)
REDACTED = "***"


def redact_url(url: str) -> str:
    """Return `url` with its userinfo password and secret-looking query values replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, REDACTED if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*"
        )
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing secret: keep it byte for byte (urlunsplit drops an empty "//")
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))
