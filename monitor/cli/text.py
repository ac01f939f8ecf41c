"""Plain text for people: counts, short relative times, and feed text made safe for a
terminal."""

from __future__ import annotations

from datetime import datetime

__all__ = ["counted", "printable", "relative_time"]

# C0 controls but newline and tab, and DEL: text from feeds (errors, titles) must not drive
# the terminal.
_CONTROLS = {code: "\N{REPLACEMENT CHARACTER}" for code in (*range(32), 127) if code not in (9, 10)}


def printable(text: str) -> str:
    """`text` with the control characters a terminal would act on replaced."""
    return text.translate(_CONTROLS)


def relative_time(moment: datetime | None, now: datetime) -> str:
    """`42s ago`, `in 12m`, `3h05m ago`, `2d4h ago`; `-` for never: short, for tables."""
    if moment is None:
        return "-"
    seconds = (moment - now).total_seconds()
    if abs(seconds) < 1:
        return "now"
    whole = int(abs(seconds))
    if whole < 60:
        span = f"{whole}s"
    elif whole < 3600:
        span = f"{whole // 60}m"
    elif whole < 86400:
        span = f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    else:
        span = f"{whole // 86400}d{whole % 86400 // 3600}h"
    return f"in {span}" if seconds > 0 else f"{span} ago"


def counted(n: int, noun: str) -> str:
    """`1 feed`, `3 feeds`, `0 feeds`."""
    return f"{n} {noun if n == 1 else noun + 's'}"
