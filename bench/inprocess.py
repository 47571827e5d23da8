"""NAVAI's Starlette app and the bare floor, called in-process: CPU per request, side by side.

No server, no sockets, no load generator: each app is called as ASGI by 32 concurrent
callers on one event loop (uvloop when installed, as uvicorn picks it), and the process's
CPU time (worker threads included) is divided by the requests answered. That leaves out
what both apps share (HTTP parsing, the socket, the server), so the ratio here is harsher
than the one under wrk, but it is much steadier on a shared machine: use it to see what a
change to the route's own work gives, and ``run.py`` for the numbers to reach.

Run::

    .venv/bin/python bench/inprocess.py                 # about a minute
    .venv/bin/python bench/inprocess.py --rounds 9 --seconds 2
    .venv/bin/python bench/inprocess.py --gc default   # Python's own GC settings
    .venv/bin/python bench/inprocess.py --stdlib-executor  # loop.run_in_executor
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import BENCH_TOOLS, EXECUTE, EXECUTE_ASYNC_BODY, EXECUTE_BODY, LIST  # noqa: E402

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
# Each route: a label, the method, the path and the body.
ROUTES = (
    ("GET list", "GET", LIST, b""),
    ("POST execute (sync def)", "POST", EXECUTE, EXECUTE_BODY.encode()),
    ("POST execute (async def)", "POST", EXECUTE, EXECUTE_ASYNC_BODY.encode()),
)


def _scope(method: str, path: str, body: bytes) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench")]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "state": {},
    }


def _recorder(statuses: list[int]) -> Callable[[dict[str, Any]], Awaitable[None]]:
    async def send(event: dict[str, Any]) -> None:
        if event["type"] == "http.response.start":
            statuses.append(event["status"])

    return send


async def _drive(
    app: App, route: tuple[str, str, str, bytes], seconds: float, callers: int
) -> float:
    """Call ``app`` from ``callers`` coroutines for ``seconds``; CPU us per request."""
    _, method, path, body = route
    template = _scope(method, path, body)
    message = {"type": "http.request", "body": body, "more_body": False}
    answered = 0
    stop = time.monotonic() + seconds

    async def receive() -> dict[str, Any]:
        return message

    async def caller() -> None:
        nonlocal answered
        while time.monotonic() < stop:
            statuses: list[int] = []
            await app(dict(template), receive, _recorder(statuses))
            if statuses != [200]:
                raise SystemExit(f"{route[0]}: answered {statuses}, expected [200]")
            answered += 1

    started = time.process_time()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return (time.process_time() - started) * 1e6 / answered


async def _measure(args: argparse.Namespace, navai: App, bare: App) -> dict[str, Any]:
    from navai_adapters import tune_gc

    if args.gc == "tuned":
        tune_gc()  # what `navai serve` does; both apps live in this process, so both get it
    results: dict[str, dict[str, list[float]]] = {
        route[0]: {"navai": [], "bare": []} for route in ROUTES
    }
    for route in ROUTES:  # warm up: caches, the listing's encoding, the pool's threads
        for app in (navai, bare):
            await _drive(app, route, 0.3, args.callers)
    for _ in range(args.rounds):
        for route in ROUTES:
            for name, app in (("navai", navai), ("bare", bare)):
                results[route[0]][name].append(await _drive(app, route, args.seconds, args.callers))
    return results


def _print(results: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"In-process, {args.callers} concurrent callers, {args.rounds} interleaved rounds of "
        f"{args.seconds:g} s; CPU us per request (medians); ratio = bare / navai; "
        f"Python {sys.version_info[0]}.{sys.version_info[1]}, GC {args.gc}"
        f"{', loop.run_in_executor' if args.stdlib_executor else ''}."
    )
    header = f"| {'route':<26} | {'navai us':>8} | {'bare us':>7} | {'ratio':>5} |"
    print(header)
    print("|:" + "-" * 27 + "|" + "-" * 9 + ":|" + "-" * 8 + ":|" + "-" * 6 + ":|")
    for label, sides in results.items():
        ratios = [bare / navai for navai, bare in zip(sides["navai"], sides["bare"], strict=True)]
        navai_us, bare_us = statistics.median(sides["navai"]), statistics.median(sides["bare"])
        ratio = statistics.median(ratios)
        print(f"| {label:<26} | {navai_us:8.1f} | {bare_us:7.1f} | {ratio:5.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per run (2)")
    parser.add_argument("--callers", type=int, default=32, help="concurrent callers (32)")
    parser.add_argument(
        "--gc",
        choices=("tuned", "default"),
        default="tuned",
        help="tuned: navai_adapters.tune_gc() as navai serve applies it (default); "
        "default: the interpreter's own settings",
    )
    parser.add_argument(
        "--stdlib-executor",
        action="store_true",
        help="run sync tools with loop.run_in_executor instead of the worker pool's "
        "hand-back (NAVAI_STDLIB_EXECUTOR=1)",
    )
    args = parser.parse_args(argv)
    if args.stdlib_executor:
        from navai_core import _handback

        _handback.ENABLED = False
    with tempfile.TemporaryDirectory(prefix="navai-inprocess-") as tmp:
        folder = Path(tmp)
        (folder / "functions").mkdir()
        (folder / "functions" / "bench_tools.py").write_text(BENCH_TOOLS, encoding="utf-8")
        from run import _expected_bodies

        bodies = folder / "bodies.json"
        bodies.write_text(json.dumps(_expected_bodies(folder)), encoding="utf-8")
        os.environ["NAVAI_BENCH_BODIES"] = str(bodies)
        import bare_asgi

        from navai_adapters.starlette import create_app
        from navai_core import NavaiVoiceBackendOptions

        navai = create_app(
            NavaiVoiceBackendOptions(openai_api_key="sk-bench-0123456789"),
            env={},
            functions_base_dir=folder,
            functions_folders="functions",
        )

        async def run() -> dict[str, Any]:
            async with navai.router.lifespan_context(navai):
                return await _measure(args, navai, bare_asgi.app)

        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
            results = asyncio.run(run())
        else:
            results = uvloop.run(run())
    _print(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
