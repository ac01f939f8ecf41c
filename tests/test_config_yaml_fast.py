"""monitor.yaml and rule files read by libyaml's parser when PyYAML has it: the same trees, lines
and messages as the pure-Python parser, which still reads what the two would read differently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import files
from monitor.config.defaults import default_rules_dir, embedded_config_path
from monitor.config.files import Located, parse_yaml
from monitor.errors import ConfigError, ConfigErrors

REPO = Path(__file__).resolve().parent.parent
SHIPPED = sorted(
    {
        embedded_config_path(),
        *default_rules_dir().rglob("*.yaml"),
        *(REPO / "examples").rglob("*.yaml"),
        *(REPO / "deploy").rglob("*.yaml"),
        *(REPO / "tests" / "data").rglob("*.yaml"),
    }
)
ENVIRON = {"HOOK_URL": "https://hooks.example.org/T0/abc", "EMPTY": ""}

needs_libyaml = pytest.mark.skipif(
    not getattr(yaml, "__with_libyaml__", False), reason="PyYAML without libyaml"
)


def snapshot(node: Located) -> Any:
    """Everything a Located tree holds, as plain data that compares by value."""
    if node.mapping is not None:
        value: Any = {key: snapshot(child) for key, child in node.mapping.items()}
    elif node.sequence is not None:
        value = [snapshot(child) for child in node.sequence]
    else:
        value = (type(node.value).__name__, node.value)
    where = (node.source, node.line, node.field, dict(node.key_lines))
    return (value, where, node.template, node.unresolved)


def read(text: str, *, fast: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """parse_yaml's tree and the problems it reported, or the syntax errors it raised."""
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(files, "_FAST_LOADER", None)
        found: list[ConfigError] = []
        try:
            tree = parse_yaml(text, "monitor.yaml", environ=ENVIRON, errors=found)
        except ConfigErrors as exc:
            return ("raised", [str(error) for error in exc.errors])
        return ("read", snapshot(tree), [str(error) for error in found])


@needs_libyaml
def test_the_shipped_files_take_the_fast_parser() -> None:
    actors = list((default_rules_dir() / "actors").glob("*.yaml"))
    assert actors and files._FAST_LOADER is not None
    for path in actors:
        assert files._FAST_LOADER_DIFFERS.search(path.read_text(encoding="utf-8")) is None, path


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: str(path.relative_to(REPO)))
def test_shipped_files_read_the_same_by_both_parsers(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = path.read_text(encoding="utf-8-sig")
    fast = read(text, fast=True, monkeypatch=monkeypatch)
    assert fast[0] == "read"
    assert fast == read(text, fast=False, monkeypatch=monkeypatch)


CASES = {
    # libyaml ends a plain scalar in [...] at "?" no more than PyYAML: an error either way.
    "question-mark-in-flow": "feeds:\n  - id: a\n    tags: [wor?ld, uk]\n",
    "tab-in-flow": "rules: [a,\tb]\n",
    "block-scalar-then-hash": "notifiers:\n  - id: x\n    template: |#\n      text\n",
    "bare-tag": "feeds: !\n",
    "byte-order-mark-inside": "rules: []\n\ufeff",
    "next-line-break": "a: ${HOOK_URL}\nb: {B:\x85\u2028}\nc: 1\n",
    # libyaml rejects these; the message is the pure-Python parser's.
    "unclosed-flow": "feeds: [a, b\nrules: []\n",
    "bad-indentation": "feeds:\n  - id: a\n   url: x\n",
    "duplicate-anchor": "a: &x 1\nb: &x 2\nc: *y\n",
    # Both parsers read these; duplicates and ${VAR} problems are found after parsing.
    "duplicate-key": "feeds: []\nrules: []\nfeeds: [a]\n",
    "variables": "url: ${HOOK_URL}\nempty: ${EMPTY:-fallback}\nmissing: ${NOT_SET}\nlit: $${X}\n",
    "merge-key": "base: &b {interval: 10m, tags: [a]}\nfeed:\n  <<: *b\n  interval: 1h\n",
    "crlf": "feeds:\r\n  - id: a\r\n    url: https://example.org/a.xml\r\n",
}


@pytest.mark.parametrize("text", list(CASES.values()), ids=list(CASES))
def test_both_parsers_give_the_same_answer(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert read(text, fast=True, monkeypatch=monkeypatch) == read(
        text, fast=False, monkeypatch=monkeypatch
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "question-mark-in-flow",
            'invalid YAML: the list that starts on line 3 is not closed with "]", or a value',
        ),
        ("tab-in-flow", "a tab character cannot indent YAML; use spaces"),
        ("unclosed-flow", "invalid YAML:"),
    ],
)
def test_what_pyyaml_refuses_stays_refused(
    name: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = read(CASES[name], fast=True, monkeypatch=monkeypatch)
    assert answer[0] == "raised"
    assert message in answer[1][0]
    assert answer[1][0].startswith("monitor.yaml:")


def test_a_bare_tag_stays_null(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = read(CASES["bare-tag"], fast=True, monkeypatch=monkeypatch)
    assert answer[0] == "read"
    assert answer[1][0]["feeds"][0] == ("NoneType", None)
