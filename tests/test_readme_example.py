"""The README's worked example works as written: its files, copied out of the README into an
empty folder, pass `monitor check`, and the names it adds to shipped actors match."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.test_cli import monitor
from tests.test_readme import section

# A file name in backquotes ending a line with ":", then the ```yaml block that is its text.
_FILE_BLOCK = re.compile(r"`([\w./-]+)`:\n\n```yaml\n(.*?)^```", re.DOTALL | re.MULTILINE)
# What the example's monitor.yaml needs from the environment (its ${VAR}s and email's SMTP).
ENVIRONMENT = {
    "OPS_WEBHOOK_URL": "http://127.0.0.1:9/hook",
    "MONITOR_SMTP_HOST": "127.0.0.1",
    "MONITOR_SMTP_FROM": "monitor@example.org",
}


def write_worked_example(folder: Path) -> dict[str, str]:
    files = dict(_FILE_BLOCK.findall(section("Worked example")))
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return files


def clean_environment() -> dict[str, str]:
    """The environment without MONITOR_* settings from outside, plus the example's variables."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return {**kept, **ENVIRONMENT}


async def test_the_worked_example_passes_check_as_written(tmp_path: Path) -> None:
    files = write_worked_example(tmp_path)
    assert set(files) == {"monitor.yaml", "rules/caucasus.yaml"}
    assert "extends: armenia" in files["rules/caucasus.yaml"]  # it adds to the shipped actor

    code, out, err = await monitor("check", cwd=tmp_path, env=clean_environment())

    assert code == 0, err
    assert "monitor.yaml: ok" in out


async def test_the_worked_example_matches_the_names_it_adds(tmp_path: Path) -> None:
    write_worked_example(tmp_path)
    text = "Hayastan signs\nThe Azerbaijani side and Armenia agreed on a peace treaty."

    code, out, err = await monitor(
        "test-rule", "--json", "--feed", "tass", "--text", text,
        cwd=tmp_path, env=clean_environment(),
    )  # fmt: skip

    assert code == 0, err
    (result,) = json.loads(out)
    (match,) = result["matches"]
    assert match["rule"] == "caucasus-peace"
    mentions = {actor["id"]: actor["mentions"] for actor in match["actors"]}
    assert mentions == {"armenia": ["Hayastan", "Armenia"], "azerbaijan": ["Azerbaijani side"]}
