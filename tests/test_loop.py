"""The commands' event loop: uvloop where installed, asyncio's otherwise."""

from __future__ import annotations

import asyncio
import sys

import pytest

from monitor import loop


def test_commands_run_on_uvloop_where_it_is_installed() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def running_loop() -> asyncio.AbstractEventLoop:
        await asyncio.sleep(0)
        return asyncio.get_running_loop()

    assert isinstance(loop.run(running_loop()), uvloop.Loop)


def test_without_uvloop_the_default_loop_runs_the_commands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # an import of it now fails

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert loop.loop_factory() is None
    assert loop.run(answer()) == 42
