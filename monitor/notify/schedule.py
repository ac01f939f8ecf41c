"""When a digest goes out: a five-field crontab read as cron reads it, as an APScheduler trigger."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

__all__ = ["CRON_FIELDS", "crontab_trigger"]

CRON_FIELDS = "minute hour day month weekday"
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_ITEM = re.compile(r"(\d+)(?:-(\d+))?(?:/(\d+))?")


def crontab_trigger(expression: str) -> CronTrigger:
    """A five-field crontab (minute hour day month weekday) as an APScheduler trigger, in UTC.

    The weekday field is read as cron reads it (0 and 7 are Sunday, 1 is Monday): APScheduler's
    own `from_crontab` counts from Monday = 0, so `0 8 * * 1-5` would run Tuesday to Saturday.
    Numeric weekdays become names (`1-5` -> `mon,tue,wed,thu,fri`). Raises ValueError for an
    expression it cannot read.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields, found {len(fields)}")
    # Imported here: APScheduler is needed only by a configuration with a digest on `cron`.
    from apscheduler.triggers.cron import CronTrigger

    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=",".join(_weekday_names(item) for item in weekday.split(",")),
        timezone="UTC",
    )


def _weekday_names(item: str) -> str:
    found = _WEEKDAY_ITEM.fullmatch(item)
    if found is None:
        return item  # names, `*`, `*/2`: APScheduler reads them as cron does
    first = int(found.group(1))
    last = int(found.group(2) or first)
    step = int(found.group(3) or 1)
    if last >= len(_WEEKDAYS) or first > last or step < 1:
        raise ValueError(f'weekday "{item}" is out of range (0-7; 0 and 7 are Sunday)')
    names = dict.fromkeys(_WEEKDAYS[day] for day in range(first, last + 1, step))
    return ",".join(names)
