"""The frozen configuration models and their validation from a `Located` monitor.yaml tree.

`build_config` checks everything it can and appends every problem (with file, line and field) to
the list it is given, so that one run of `monitor check` shows them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar, cast, get_args

from monitor.config.defaults import resolve_rule_path
from monitor.config.files import Located
from monitor.config.notifiers import (
    DELIVERY_MODES,
    DELIVERY_OPTIONS,
    NOTIFIER_KEYS,
    NOTIFIER_OPTIONS,
    NotifierChecker,
    delivery_policy,
    notifier_base_dir,
    notifier_options,
)
from monitor.config.settings import DEFAULT_INTERVAL, format_duration
from monitor.config.validate import (
    given,
    id_nodes,
    id_problem,
    one_of,
    suggestion,
    url_problem,
)
from monitor.errors import ConfigError
from monitor.models import (
    DeliveryPolicy,
    NotifierOptionCheck,
    NotifierOptions,
    RuleSet,
    RuleSpec,
)
from monitor.redact import redact_url

__all__ = [
    "DELIVERY_MODES",
    "DELIVERY_OPTIONS",
    "NOTIFIER_KEYS",
    "NOTIFIER_OPTIONS",
    "NOTIFIER_TYPES",
    "FeedConfig",
    "MonitorConfig",
    "NotifierConfig",
    "build_config",
    "declared_entries",
    "freeze",
    "id_problem",
    "url_problem",
]

NotifierType = Literal["console", "file", "email", "webhook"]
NOTIFIER_TYPES: tuple[str, ...] = get_args(NotifierType)
_RULE_SUFFIXES = (".yaml", ".yml")

TOP_KEYS = ("feeds", "rules", "notifiers", "ops_notify")
FEED_KEYS = ("id", "url", "interval", "min_interval", "max_interval", "tags", "backfill", "title")
# The notifier keys (NOTIFIER_KEYS, then DELIVERY_OPTIONS and each type's NOTIFIER_OPTIONS)
# and their checks live in `notifiers`, beside the typed options they become.


def interval_bounds_problem(
    interval: timedelta, low: timedelta | None, high: timedelta | None
) -> str | None:
    """What is wrong with a feed's adaptive polling bounds, if anything."""
    if low is not None and low < timedelta(seconds=1):
        return "min_interval must be at least 1s"
    every = format_duration(interval)
    if low is not None and low > interval:
        return f"min_interval ({format_duration(low)}) is longer than interval ({every})"
    if high is not None and high < interval:
        return f"max_interval ({format_duration(high)}) is shorter than interval ({every})"
    return None


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """One `feeds:` entry. Constructing it checks the same rules as monitor.yaml (ValueError)."""

    id: str
    url: str  # as given
    interval: timedelta = DEFAULT_INTERVAL
    tags: tuple[str, ...] = ()
    backfill: int = 0  # on the first poll, alert on the newest N items
    title: str | None = None
    # Adaptive polling's bounds: the interval follows the feed's publishing rate between them
    # (None: the interval itself, so that by default a feed is never polled more often).
    min_interval: timedelta | None = None
    max_interval: timedelta | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", tuple(self.tags))
        problems = [
            f"id {self.id!r} {p}" if (p := id_problem(self.id)) else None,
            f"url {redact_url(self.url)!r} {p}" if (p := url_problem(self.url)) else None,
            "interval must be at least 1s" if self.interval < timedelta(seconds=1) else None,
            interval_bounds_problem(self.interval, self.min_interval, self.max_interval),
            "backfill must be 0 or more" if self.backfill < 0 else None,
        ]
        if found := [p for p in problems if p]:
            raise ValueError(f"feed {self.id!r}: " + "; ".join(found))


@dataclass(frozen=True, slots=True)
class NotifierConfig:
    """One `notifiers:` entry: its id, its type and every other key as given (read-only)."""

    id: str
    type: NotifierType
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    # The options only notify can judge, with their places: run by the wiring (see
    # `MonitorConfig.notifier_checks`).
    checks: tuple[NotifierOptionCheck, ...] = field(default=(), compare=False, hash=False)

    def __post_init__(self) -> None:
        if problem := id_problem(self.id):
            raise ValueError(f"notifier id {self.id!r} {problem}")
        if self.type not in NOTIFIER_TYPES:
            raise ValueError(f"notifier {self.id!r}: unknown type {self.type!r}")
        if not isinstance(self.options, MappingProxyType):
            object.__setattr__(self, "options", freeze(self.options))

    @property
    def mode(self) -> str:
        """`immediate` (the default) or `digest`."""
        return str(self.options.get("mode") or "immediate")


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """A validated monitor.yaml. `rule_files` are the files `rule_paths` expand to, in order;
    `rules` holds the actors and rules they define (ids unique across files)."""

    source: Path | None = None  # the file it came from; None when not file based
    embedded: bool = False  # True for the built-in default
    feeds: tuple[FeedConfig, ...] = ()
    rule_paths: tuple[Path, ...] = ()
    rule_files: tuple[Path, ...] = ()
    notifiers: tuple[NotifierConfig, ...] = ()
    ops_notify: tuple[str, ...] = ()
    rules: RuleSet = field(default_factory=RuleSet)
    # Not errors: what `check` prints as warnings and `run` logs (feeds with the same URL).
    warnings: tuple[ConfigError, ...] = ()
    _feeds: Mapping[str, FeedConfig] = field(init=False, repr=False, compare=False, hash=False)
    _notifiers: Mapping[str, NotifierConfig] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        for name in ("feeds", "rule_paths", "rule_files", "notifiers", "ops_notify"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "_feeds", MappingProxyType({f.id: f for f in self.feeds}))
        notifiers = MappingProxyType({n.id: n for n in self.notifiers})
        object.__setattr__(self, "_notifiers", notifiers)
        if len(self._feeds) != len(self.feeds) or len(notifiers) != len(self.notifiers):
            raise ValueError("feed ids and notifier ids must be unique")

    def feed(self, feed_id: str) -> FeedConfig:
        """The feed with this id. Raises KeyError."""
        try:
            return self._feeds[feed_id]
        except KeyError:
            raise KeyError(f"no feed {feed_id!r} in the configuration") from None

    def notifier_settings(self) -> dict[str, NotifierOptions]:
        """Each notifier's typed options, by id, for notify to build it; relative paths are
        resolved as `check` resolves them (against monitor.yaml's folder)."""
        folder = notifier_base_dir(self.source, embedded=self.embedded)
        return {notifier.id: notifier_options(notifier, folder) for notifier in self.notifiers}

    def delivery_policies(self) -> dict[str, DeliveryPolicy]:
        """When each notifier's deliveries go out, and its hourly cap, by id."""
        return {notifier.id: delivery_policy(notifier) for notifier in self.notifiers}

    @property
    def notifier_checks(self) -> tuple[NotifierOptionCheck, ...]:
        """What only notify can judge of the notifiers' options, in line order: for
        `monitor.notify.check_notifier_options`, beside rule compilation."""
        return tuple(check for notifier in self.notifiers for check in notifier.checks)

    def notifier(self, notifier_id: str) -> NotifierConfig:
        """The notifier with this id. Raises KeyError."""
        try:
            return self._notifiers[notifier_id]
        except KeyError:
            raise KeyError(f"no notifier {notifier_id!r} in the configuration") from None

    def rule(self, rule_id: str) -> RuleSpec:
        """The rule with this id. Raises KeyError."""
        for rule in self.rules.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"no rule {rule_id!r} in the configuration")

    def notifiers_for(self, rule: RuleSpec) -> tuple[NotifierConfig, ...]:
        """Where the rule's alerts go: its `notify` list, or every notifier when it has none."""
        if not rule.notify:
            return self.notifiers
        return tuple(self._notifiers[n] for n in rule.notify if n in self._notifiers)


_Entry = TypeVar("_Entry", FeedConfig, NotifierConfig)


def freeze(value: Any) -> Any:
    """`value` made read-only, deeply: dicts become mapping proxies and lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    return value


def build_config(
    root: Located,
    errors: list[ConfigError],
    *,
    source: Path | None,
    embedded: bool = False,
    default_interval: timedelta = DEFAULT_INTERVAL,
    default_max_interval: timedelta | None = None,
) -> MonitorConfig:
    """Validate a parsed monitor.yaml. Every problem is appended to `errors`; the returned
    config is only meaningful when none was."""
    check = _ConfigChecker(errors)
    if root.value is None and not root.unresolved:
        check.report(root, 'the file is empty: it needs at least a "feeds:" list')
        return MonitorConfig(source=source, embedded=embedded)
    top = check.mapping(root, TOP_KEYS, required=("feeds",), what="the top level")
    if top is None:
        return MonitorConfig(source=source, embedded=embedded)
    base_dir = source.resolve().parent if source is not None else Path.cwd()
    feeds = check.feeds(check.items(top.get("feeds")), default_interval, default_max_interval)
    rule_paths = check.rule_paths(top.get("rules"), base_dir, embedded=embedded)
    notifier_items = check.items(top.get("notifiers"))
    notifiers = check.notifiers(notifier_items, notifier_base_dir(source, embedded=embedded))
    ops_notify = check.ops_notify(
        top.get("ops_notify"), [str(node.value) for node in id_nodes(notifier_items)]
    )
    return MonitorConfig(
        source=source,
        embedded=embedded,
        feeds=feeds,
        rule_paths=tuple(path for path, _ in rule_paths),
        rule_files=_distinct_files(f for _, files in rule_paths for f in files),
        notifiers=notifiers,
        ops_notify=ops_notify,
    )


def _distinct_files(paths: Iterable[Path]) -> tuple[Path, ...]:
    """Each file once, however it was reached: `shipped:actors` and, in a source checkout,
    `rules/` both hold rules/actors/countries.yaml."""
    first: dict[Path, Path] = {}
    for path in paths:
        first.setdefault(path.resolve(), path)
    return tuple(first.values())


def declared_entries(root: Located, section: str) -> dict[str, Located]:
    """The entries of a `feeds:` or `notifiers:` list by the id each claims, valid or not (the
    first one of an id), so that a reference to an entry with an error is not also unknown."""
    top = root.mapping or {}
    node = top.get(section)
    items = node.sequence or () if node is not None else ()
    entries: dict[str, Located] = {}
    for item in items:
        claimed = item.mapping.get("id") if item.mapping is not None else None
        if claimed is not None and isinstance(claimed.value, str):
            entries.setdefault(claimed.value, item)
    return entries


class _ConfigChecker(NotifierChecker):
    """The monitor.yaml sections: feeds, rule paths, notifiers and ops_notify."""

    __slots__ = ()

    def feeds(
        self, items: Sequence[Located], default_interval: timedelta, default_max: timedelta | None
    ) -> tuple[FeedConfig, ...]:
        self.unique_ids(items, "feed")
        feeds = (self.feed(item, default_interval, default_max) for item in items)
        return _first_by_id(feed for feed in feeds if feed is not None)

    def feed(
        self, node: Located, default_interval: timedelta, default_max: timedelta | None
    ) -> FeedConfig | None:
        fields = self.mapping(node, FEED_KEYS, required=("id", "url"))
        if fields is None:
            return None
        interval_node, backfill_node = fields.get("interval"), fields.get("backfill")
        title_node = fields.get("title")
        feed_id = self.identifier(fields.get("id"))
        url = self.url(fields.get("url"))
        interval = (
            default_interval
            if interval_node is None
            else self.duration(interval_node, default_interval)
        )
        tags = self.strings(fields.get("tags"))
        backfill = 0 if backfill_node is None else self.count(backfill_node)
        title = self.string(title_node) if given(title_node) else None
        if feed_id is None or url is None or interval is None or tags is None or backfill is None:
            return None
        if given(title_node) and title is None:
            return None
        bounds = self.interval_bounds(fields, interval, default_max)
        if bounds is None:
            return None
        return FeedConfig(feed_id, url, interval, tags, backfill, title, *bounds)

    def interval_bounds(
        self, fields: Mapping[str, Located], interval: timedelta, default_max: timedelta | None
    ) -> tuple[timedelta, timedelta] | None:
        """`min_interval` (default: the interval) and `max_interval` (default: the longer of
        MONITOR_MAX_INTERVAL, if set, and the interval), checked against the interval. With
        neither bound given nor MONITOR_MAX_INTERVAL set, a feed is polled at its interval."""
        low_node, high_node = fields.get("min_interval"), fields.get("max_interval")
        low = interval if low_node is None else self.duration(low_node, interval)
        fallback = interval if default_max is None else max(default_max, interval)
        high = fallback if high_node is None else self.duration(high_node, interval)
        if low is None or high is None:
            return None
        for node, problem in (
            (low_node, interval_bounds_problem(interval, low, None)),
            (high_node, interval_bounds_problem(interval, None, high)),
        ):
            if problem is not None and node is not None:
                self.report(node, problem)
                return None
        return low, high

    def rule_paths(
        self, node: Located | None, base_dir: Path, *, embedded: bool
    ) -> list[tuple[Path, list[Path]]]:
        """Each `rules:` entry resolved, with the rule files it stands for."""
        found: list[tuple[Path, list[Path]]] = []
        for item in self.items(node):
            entry = self.string(item)
            if entry is None:
                continue
            path = resolve_rule_path(entry, base_dir, embedded=embedded)
            files = self._rule_files(item, path)
            if files is not None:
                found.append((path, files))
        return found

    def _rule_files(self, node: Located, path: Path) -> list[Path] | None:
        if path.is_file():
            return [path]
        if not path.is_dir():
            self.report(node, f"{node.shown()} does not exist (looked for {path})")
            return None
        files = sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in _RULE_SUFFIXES
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            self.report(node, f"the folder {node.shown()} holds no *.yaml or *.yml file ({path})")
            return None
        return files

    def notifiers(self, items: Sequence[Located], base_dir: Path) -> tuple[NotifierConfig, ...]:
        self.unique_ids(items, "notifier")
        notifiers = (self.notifier(item, base_dir) for item in items)
        return _first_by_id(notifier for notifier in notifiers if notifier is not None)

    def notifier(self, node: Located, base_dir: Path) -> NotifierConfig | None:
        """One entry: its id and type, and its options checked by type (kept as YAML values)."""
        fields = self.mapping(node, None, required=NOTIFIER_KEYS)
        if fields is None:
            return None
        notifier_id = self.identifier(fields.get("id"))
        kind = self.choice(fields.get("type"), NOTIFIER_TYPES, "notifier type")
        if kind is None:
            # Without a type, its keys are still named: `tpye:` is the likely cause.
            self.unknown_notifier_keys(node, fields)
            return None
        first_check = len(self.option_checks)
        if not self.notifier_options_valid(node, kind, fields, base_dir) or notifier_id is None:
            return None
        plain = {key: value.plain() for key, value in fields.items() if key not in NOTIFIER_KEYS}
        checks = tuple(self.option_checks[first_check:])
        return NotifierConfig(notifier_id, cast(NotifierType, kind), freeze(plain), checks)

    def ops_notify(self, node: Located | None, known: Sequence[str]) -> tuple[str, ...]:
        names: list[str] = []
        for item in self.items(node):
            name = self.string(item)
            if name is None:
                continue
            if name not in known:
                hint = suggestion(name, known) or (
                    f": use {one_of(known)}" if known else ": no notifiers are defined"
                )
                self.report(item, f'unknown notifier "{name}"{hint}')
                continue
            names.append(name)
        return tuple(dict.fromkeys(names))


def _first_by_id(entries: Iterable[_Entry]) -> tuple[_Entry, ...]:
    """`entries` without the later ones that reuse an id (reported by `unique_ids`)."""
    unique: dict[str, _Entry] = {}
    for entry in entries:
        unique.setdefault(entry.id, entry)
    return tuple(unique.values())
