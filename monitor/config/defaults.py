"""What ships with the package: the embedded default monitor.yaml and the example rules it uses.

The embedded config names its rules `default_rules`, which means `default_rules_dir()`: the
packaged copy of the repository's `rules/` folder, or that folder itself in a source checkout.
Any config names a part of that folder as `shipped:PATH` (`shipped:actors` for the dictionaries).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_RULES = "default_rules"
SHIPPED_PREFIX = "shipped:"
EMBEDDED_NAME = "monitor.yaml"


def default_rules_dir() -> Path:
    """The shipped example rules: `monitor/default_rules/` installed, or the checkout `rules/`."""
    packaged = resources.files("monitor") / DEFAULT_RULES
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "rules"


def embedded_config_path() -> Path:
    """Where the embedded default monitor.yaml lives (used when no config file is found)."""
    return Path(str(resources.files("monitor") / "defaults" / EMBEDDED_NAME))


def resolve_rule_path(entry: str, base_dir: Path, *, embedded: bool) -> Path:
    """A `rules:` entry as a path: `~` expanded, relative to the config file's folder.

    `shipped:PATH` is PATH in `default_rules_dir()`, wherever the package is installed; in the
    embedded config, `default_rules` stands for that folder itself.
    """
    if embedded and entry == DEFAULT_RULES:
        return default_rules_dir()
    if entry.startswith(SHIPPED_PREFIX):
        return default_rules_dir() / entry.removeprefix(SHIPPED_PREFIX).strip().lstrip("/")
    path = Path(entry).expanduser()
    return path if path.is_absolute() else base_dir / path
