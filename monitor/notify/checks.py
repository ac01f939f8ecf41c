"""The notifier options only notify can judge, checked when a configuration loads.

Config records them with their place (`NotifierOptionCheck`); the wiring calls
`check_notifier_options` beside rule compilation, so that a bad signing key, a template or
subject that fails for a sample alert, or a cron expression APScheduler cannot read is a
`file:line` error before anything runs. jinja2 and APScheduler are imported only when needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from monitor.errors import ConfigError, ConfigErrors
from monitor.models import NotifierOptionCheck
from monitor.notify.schedule import CRON_FIELDS, crontab_trigger
from monitor.notify.signing import signing_key

__all__ = ["check_notifier_options", "notifier_option_problems"]


def check_notifier_options(checks: Iterable[NotifierOptionCheck]) -> None:
    """Raise ConfigErrors with every problem of `checks` (see `notifier_option_problems`)."""
    problems = notifier_option_problems(checks)
    if problems:
        raise ConfigErrors(problems)


def notifier_option_problems(checks: Iterable[NotifierOptionCheck]) -> list[ConfigError]:
    """The problems of `checks`, in their order, each at the place config recorded."""
    problems: list[ConfigError] = []
    for check in checks:
        problem = _problem(check)
        if problem is not None:
            problems.append(problem)
    return problems


def _problem(check: NotifierOptionCheck) -> ConfigError | None:
    if check.kind == "template":
        from monitor.notify.formats import check_template

        try:
            check_template(Path(check.value))
        except ConfigError as exc:  # named with the template's own line
            return exc
        return None
    message = _message(check)
    if message is None:
        return None
    return ConfigError(message, path=check.path, line=check.line, field=check.field)


def _message(check: NotifierOptionCheck) -> str | None:
    try:
        if check.kind == "secret":
            signing_key(check.value)  # its message names the rule, never the secret
        elif check.kind == "subject":
            from monitor.notify.email_message import check_subject_template

            check_subject_template(check.value)
        elif check.kind == "cron":
            crontab_trigger(check.value)
    except ValueError as exc:
        if check.kind != "cron":
            return str(exc)
        # An expanded ${VAR} is named, not repeated: APScheduler's message quotes the value.
        detail = "" if check.from_environment else f": {exc}"
        return f"{check.shown} is not a cron expression ({CRON_FIELDS}){detail}"
    return None
