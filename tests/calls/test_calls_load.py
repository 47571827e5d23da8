"""A bounded run of the calls load benchmark: every call answered, nothing left after hangup."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench" / "calls_load.py"


def test_many_calls_with_sidebands_leave_nothing_behind() -> None:
    spec = importlib.util.spec_from_file_location("calls_load", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = asyncio.run(module.main_async(argparse.Namespace(calls=40, rounds=2)))
    assert [row["tool_calls"] for row in rows] == [120, 120]
    for row in rows:
        assert row["sidebands_left"] == 0
        assert row["sideband_calls_left"] == 0
    # The second round reuses the pools the first opened: no socket is left per call.
    assert rows[1]["fds_after"] <= rows[0]["fds_after"] + 10
