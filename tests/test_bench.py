"""The benchmarks run and print their tables (their numbers are not checked here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_inprocess_benchmark_prints_a_row_per_route() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "inprocess.py"), "--rounds", "1", "--seconds", "0.2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = re.findall(
        r"^\| (.+?) +\| +([\d.]+) \| +([\d.]+) \| +([\d.]+) \|$", done.stdout, re.MULTILINE
    )
    assert [row[0] for row in rows] == [
        "GET list",
        "POST execute (sync def)",
        "POST execute (async def)",
    ]
    for _, navai, bare, ratio in rows:
        assert float(navai) > 0
        assert float(bare) > 0
        assert float(ratio) > 0


def test_transport_benchmark_prints_a_row_per_transport() -> None:
    # HEAD: the loader of an earlier commit's transport is exercised without history.
    done = subprocess.run(
        [
            *(sys.executable, str(BENCH / "transport.py")),
            *("--rounds", "1", "--seconds", "0.2", "--callers", "4", "--baseline", "HEAD"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = dict(
        re.findall(r"^\| (.+?) \| [\d,]+ \| [\d,]+ \| ([\d.]+) \|$", done.stdout, re.MULTILINE)
    )
    assert {"core", "at HEAD", "httpx default"} <= rows.keys()
    assert rows["core"] == "1.00"
