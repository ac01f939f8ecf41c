"""What ships with the package: the embedded default monitor.yaml and the example rules it uses.

The embedded config names its rules `default_rules`, which means `default_rules_dir()`: the
packaged copy of the repository's `rules/` folder, or that folder itself in a source checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_RULES = "default_rules"
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

    In the embedded config, `default_rules` stands for `default_rules_dir()`.
    """
    if embedded and entry == DEFAULT_RULES:
        return default_rules_dir()
    path = Path(entry).expanduser()
    return path if path.is_absolute() else base_dir / path
