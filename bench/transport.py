"""Minting transports side by side: CPU per mint and mints per second, in one run.

Each candidate mints through ``navai_core.acreate_realtime_client_secret`` against the
fast fake upstream (``bench/fake_upstream.py``, its own process) with ``--callers``
mints in flight, for ``--seconds`` per run; candidates are interleaved round by round
and the table shows medians, with ratios to the first candidate measured in the same
round. CPU is this process's (``time.process_time``): what a mint costs the server.

Candidates:

* ``core (h11)``: the client the core owns (``navai_core._upstream._transport``);
* ``at REF``: the transport at each ``--baseline REF`` (a git commit); read
  from that commit's ``navai_core/_upstream/_transport.py``, or from
  ``navai_adapters/starlette.py`` before the transport moved to the core;
* ``httpx default``: a plain ``httpx.AsyncClient`` (httpcore over anyio);
* ``httpx-aiohttp``: ``httpx_aiohttp.HttpxAiohttpClient``, when that package is installed.

Run::

    python bench/transport.py                      # the core against httpx's default
    python bench/transport.py --baseline 002cb98   # ... and against an older commit
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import importlib.util
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import httpx

from navai_core import NavaiVoiceBackendOptions, acreate_realtime_client_secret
from navai_core._upstream._transport import new_async_client

ROOT = Path(__file__).resolve().parent.parent
ClientFactory = Callable[[], httpx.AsyncClient]


def _baseline_factory(ref: str) -> ClientFactory:
    """The owned-client factory at ``ref``, loaded without checking that commit out."""
    for path, name in (
        ("navai_core/_upstream/_transport.py", "new_async_client"),
        ("navai_adapters/starlette.py", "_new_async_client"),
    ):
        shown = subprocess.run(
            ["git", "show", f"{ref}:{path}"], check=False, cwd=ROOT, capture_output=True, text=True
        )
        if shown.returncode == 0 and f"def {name}(" in shown.stdout:
            return getattr(_transport_part(shown.stdout, ref), name)  # type: ignore[no-any-return]
    raise SystemExit(f"No minting transport found at {ref}.")


def _transport_part(source: str, ref: str) -> types.ModuleType:
    # The adapter module also holds the app: drop its imports of NAVAI (the names may be
    # gone from today's tree); under postponed annotations the rest defines cleanly.
    tree = ast.parse(source)
    tree.body = [
        node
        for node in tree.body
        if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("navai"))
    ]
    module = types.ModuleType(f"navai_bench_at_{ref}")
    sys.modules[module.__name__] = module  # for the dataclasses and NamedTuples in it
    exec(compile(tree, f"{ref}:transport", "exec"), module.__dict__)
    return module


def _candidates(baselines: list[str]) -> dict[str, ClientFactory]:
    found: dict[str, ClientFactory] = {"core": new_async_client}
    for ref in baselines:
        found[f"at {ref}"] = _baseline_factory(ref)
    found["httpx default"] = lambda: httpx.AsyncClient(
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=100)
    )
    if importlib.util.find_spec("httpx_aiohttp") is not None:
        from httpx_aiohttp import HttpxAiohttpClient

        found["httpx-aiohttp"] = HttpxAiohttpClient
    return found


async def _run(
    factory: ClientFactory, options: NavaiVoiceBackendOptions, seconds: float, callers: int
) -> tuple[float, float]:
    """Mints per second and CPU microseconds per mint, after a short warm-up."""
    async with factory() as client:
        await asyncio.gather(
            *(acreate_realtime_client_secret(options, client=client) for _ in range(callers))
        )
        done = 0
        stop = time.perf_counter() + seconds

        async def caller() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                await acreate_realtime_client_secret(options, client=client)
                done += 1

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(caller() for _ in range(callers)))
        wall, used = time.perf_counter() - started, time.process_time() - cpu
    return done / wall, used / done * 1e6


def _start_upstream() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "fake_upstream.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per run (2)")
    parser.add_argument("--callers", type=int, default=32, help="mints in flight (32)")
    parser.add_argument(
        "--baseline",
        metavar="REF",
        action="append",
        default=[],
        help="also measure the transport at this git commit (repeatable)",
    )
    args = parser.parse_args(argv)

    candidates = _candidates(args.baseline)
    upstream, base_url = _start_upstream()
    try:
        options = NavaiVoiceBackendOptions(
            openai_api_key="sk-bench-not-a-real-key-0000", openai_base_url=base_url
        )
        rates: dict[str, list[float]] = {name: [] for name in candidates}
        cpus: dict[str, list[float]] = {name: [] for name in candidates}
        ratios: dict[str, list[float]] = {name: [] for name in candidates}
        first = next(iter(candidates))
        for _ in range(args.rounds):
            measured = {
                name: asyncio.run(_run(factory, options, args.seconds, args.callers))
                for name, factory in candidates.items()
            }
            for name, (rate, cpu) in measured.items():
                rates[name].append(rate)
                cpus[name].append(cpu)
                ratios[name].append(cpu / measured[first][1])
    finally:
        upstream.terminate()
        upstream.wait()

    print(
        f"{args.rounds} rounds x {args.seconds:g} s, {args.callers} mints in flight, "
        f"Python {sys.version.split()[0]}, httpx {httpx.__version__}"
    )
    print(f"| transport | mints/s | CPU us/mint | CPU / {first} |")
    print("|---|---:|---:|---:|")
    for name in candidates:
        print(
            f"| {name} | {statistics.median(rates[name]):,.0f} "
            f"| {statistics.median(cpus[name]):,.0f} | {statistics.median(ratios[name]):.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
