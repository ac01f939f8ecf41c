"""The stages stay apart: a stage imports only the shared leaves and its own package.

A stage (config, fetch, parse, match, store, notify) may import `monitor.models`,
`monitor.errors`, `monitor.redact` (a leaf `errors` uses), the root package `monitor` (it holds
only `__version__`) and its own modules; only pipeline, service and the CLI wire stages. Every
import counts: at the top, inside functions, under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from pathlib import Path

MONITOR = Path(__file__).resolve().parent.parent / "monitor"
STAGES = ("config", "fetch", "parse", "match", "store", "notify")
LEAVES = frozenset({"monitor", "monitor.models", "monitor.errors", "monitor.redact"})

# Arrows that still exist: (importing module, imported module) -> the item of issue 16 that
# removes it, e.g. ("monitor.config.validate", "monitor.match.terms"): "issue 16 item 2". Empty
# now: item 1 removed config -> notify, notify -> config, notify -> store and notify -> fetch.
# `test_known_arrows_still_exist` fails for an entry whose arrow is gone, so the list shrinks.
KNOWN_ARROWS: dict[tuple[str, str], str] = {}


def _stage_modules() -> list[Path]:
    return sorted(path for stage in STAGES for path in (MONITOR / stage).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(MONITOR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """Every `monitor...` module `path` imports, wherever the import statement is."""
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    return _imports_in(path.read_text(encoding="utf-8"), package)


def _imports_in(source: str, package: str) -> set[str]:
    """The `monitor...` modules `source` (a module of `package`) imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
    return {name for name in found if name == "monitor" or name.startswith("monitor.")}


def _stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def _arrows() -> dict[tuple[str, str], str]:
    """(importing module, imported module) -> a description, for every import a stage may not
    make."""
    arrows: dict[tuple[str, str], str] = {}
    for path in _stage_modules():
        module = _module_name(path)
        own = _stage_of(module)
        for target in _imported(path):
            if target in LEAVES or _stage_of(target) == own:
                continue
            arrows[(module, target)] = f"{path.relative_to(MONITOR.parent)} imports {target}"
    return arrows


def test_the_walk_sees_every_stage() -> None:
    names = {_module_name(path) for path in _stage_modules()}
    for stage in STAGES:
        assert f"monitor.{stage}" in names or any(n.startswith(f"monitor.{stage}.") for n in names)


def test_imports_inside_functions_and_type_checking_count() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from monitor.store import Store\n"
        "def f() -> None:\n    import monitor.fetch.policy\n"
        "from monitor.models import Article\n"
        "from .base import Notifier\n"
        "from ..match import compile_rules\n"
    )
    assert _imports_in(source, "monitor.notify") == {
        "monitor.store",
        "monitor.fetch.policy",
        "monitor.models",
        "monitor.notify.base",
        "monitor.match",
    }


def test_the_root_package_is_a_leaf() -> None:
    """`monitor/__init__.py` may be imported by any stage because it imports nothing."""
    assert _imported(MONITOR / "__init__.py") == set()


def test_no_stage_imports_another_stage_or_the_wiring() -> None:
    unexpected = {arrow: why for arrow, why in _arrows().items() if arrow not in KNOWN_ARROWS}
    assert not unexpected, "a stage imports a sibling or the wiring:\n" + "\n".join(
        sorted(unexpected.values())
    )


def test_known_arrows_still_exist() -> None:
    """An allow-list entry whose arrow is gone must be removed, so that the list only shrinks."""
    gone = sorted(set(KNOWN_ARROWS) - set(_arrows()))
    assert not gone, f"gone: remove them from KNOWN_ARROWS: {gone}"
