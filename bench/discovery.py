"""Discovery benchmark: loading 1,000 function modules, against a plain import of them.

Generates ``count`` small modules (one typed, documented function each), then measures,
each in a fresh interpreter so nothing is shared:

* ``plain``: ``importlib`` imports of the same files by path (the floor: Python's own cost);
* ``navai``: ``load_navai_functions`` over them (scan, import, read every signature);
* ``navai+list``: the same, plus the first listing (docstrings and JSON Schemas);

each with bytecode cached (the usual case) and compiled from source (a first start),
repeated and interleaved, medians reported; time, resident memory growth and the
tracemalloc peak (in a separate run: tracing slows everything down). Then the latency of
``GET /navai/functions`` with all the tools, in-process through the Starlette app,
against a bare Starlette route sending the same bytes.

Used by ``run.py --only discovery``; also runnable alone::

    python bench/discovery.py --count 1000 --repeats 5
    python bench/discovery.py --stdlib-introspection   # inspect.signature, get_type_hints
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

FOLDER = "functions"
# Whether the measured children read signatures and hints with the standard library
# (``--stdlib-introspection``) instead of NAVAI's fast paths.
STDLIB_INTROSPECTION = False

_MODULE = '''"""Bench module {n}: one tool, typed and documented like a real one."""

from __future__ import annotations

from typing import Literal


def forecast_{n:04d}(
    city: str, days: int = 3, unit: Literal["celsius", "fahrenheit"] = "celsius"
) -> dict[str, object]:
    """Get the forecast for a city ({n}).

    Args:
        city: The city name, such as "Madrid".
        days: How many days ahead, 1 to 7.
        unit: The temperature unit to answer in.
    """
    return {{"city": city, "days": days, "unit": unit, "n": {n}}}
'''


def generate(root: Path, count: int) -> Path:
    """Write ``count`` modules under ``root/functions``; return that folder."""
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"forecast_{n:04d}.py").write_text(_MODULE.format(n=n), encoding="utf-8")
    return folder


def _rss() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _child(mode: str, root: Path, trace: bool) -> dict[str, Any]:
    """Run one measurement in this (fresh) process."""
    if mode != "plain":
        from navai_core import load_navai_functions  # its own import is not discovery
    files = sorted((root / FOLDER).glob("*.py"))
    rss_before = _rss()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    if mode == "plain":
        for path in files:
            name = f"plain_bench.{path.stem}"
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None
            assert spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        tools = len(files)
    else:
        registry = load_navai_functions(base_dir=root, folders=FOLDER)
        if mode == "navai+list":
            assert len(registry.items) == len(files)
        tools = len(registry)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    return {"seconds": seconds, "rss": _rss() - rss_before, "peak": peak, "tools": tools}


def _run_child(mode: str, root: Path, *, cached: bool, trace: bool = False) -> dict[str, Any]:
    env = dict(os.environ)
    if STDLIB_INTROSPECTION:  # NAVAI reads it at import, in the child
        env["NAVAI_STDLIB_INTROSPECTION"] = "1"
    # Bytecode lives under the run's temporary folder (never next to the sources): cached,
    # a folder the first run fills; from source, an empty folder and nothing written.
    command = [sys.executable, "-X", f"pycache_prefix={root / 'pycache'}"]
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        command[-1] = f"pycache_prefix={root / 'empty-pycache'}"
    command += [__file__, "--child", mode, "--root", str(root)]
    if trace:
        command.append("--trace")
    done = subprocess.run(  # noqa: PLW1510 - checked below, with its stderr
        command, capture_output=True, text=True, env=env, timeout=300
    )
    if done.returncode != 0:
        msg = f"discovery child {mode} failed:\n{done.stderr[-2000:]}"
        raise RuntimeError(msg)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def _list_latency(root: Path, calls: int) -> dict[str, Any]:
    """Cold and warm ``GET /navai/functions`` through the Starlette app, and the bare floor."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from navai_adapters.starlette import create_app
    from navai_core import NavaiVoiceBackendOptions

    app = create_app(
        NavaiVoiceBackendOptions(openai_api_key="sk-bench"),
        env={},
        functions_base_dir=str(root),
        functions_folders=FOLDER,
    )

    async def get(target: Any) -> bytes:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/navai/functions",
            "raw_path": b"/navai/functions",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"accept", b"*/*")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        sent: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                sent.append(message.get("body", b""))

        await target(scope, receive, send)
        return b"".join(sent)

    async def timed(target: Any) -> list[float]:
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            await get(target)
            samples.append(time.perf_counter() - started)
        return sorted(samples)

    started = time.perf_counter()
    body = await get(app)
    cold = time.perf_counter() - started
    tools = len(json.loads(body)["items"])

    async def fixed(_request: Any) -> Response:
        return Response(body, media_type="application/json")

    bare = Starlette(routes=[Route("/navai/functions", fixed)])
    navai_samples, bare_samples = await timed(app), await timed(bare)

    def pick(samples: list[float], q: float) -> float:
        return samples[min(len(samples) - 1, int(q * len(samples)))]

    return {
        "tools": tools,
        "bytes": len(body),
        "cold": cold,
        "navai_p50": pick(navai_samples, 0.5),
        "navai_p99": pick(navai_samples, 0.99),
        "bare_p50": pick(bare_samples, 0.5),
        "bare_p99": pick(bare_samples, 0.99),
    }


def measure(count: int = 1000, repeats: int = 5, calls: int = 300) -> dict[str, Any]:
    """Run the whole discovery benchmark; return its numbers (seconds, bytes)."""
    with tempfile.TemporaryDirectory(prefix="navai-bench-discovery-") as tmp:
        root = Path(tmp)
        generate(root, count)
        (root / "empty-pycache").mkdir()
        results: dict[str, Any] = {"count": count, "repeats": repeats}
        modes = ("plain", "navai", "navai+list")
        for cached in (True, False):
            if cached:  # write the bytecode once, as a first start would
                _run_child("plain", root, cached=True)
            runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
            for _ in range(repeats):
                for mode in modes:  # interleaved: a noisy moment hits every mode alike
                    runs[mode].append(_run_child(mode, root, cached=cached))
            key = "cached" if cached else "source"
            results[key] = {
                mode: {
                    "seconds": statistics.median(run["seconds"] for run in mode_runs),
                    "rss": statistics.median(run["rss"] for run in mode_runs),
                    "peak": _run_child(mode, root, cached=cached, trace=True)["peak"],
                    "tools": mode_runs[0]["tools"],
                    "ratio": statistics.median(
                        run["seconds"] / plain["seconds"]
                        for run, plain in zip(mode_runs, runs["plain"], strict=True)
                    ),
                }
                for mode, mode_runs in runs.items()
            }
        results["list"] = asyncio.run(_list_latency(root, calls))
    return results


def main(argv: list[str] | None = None) -> None:
    """Measure (or, with ``--child``, be one measured process)."""
    parser = argparse.ArgumentParser(description="NAVAI discovery benchmark")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--stdlib-introspection",
        action="store_true",
        help="read signatures and type hints with inspect.signature and typing.get_type_hints "
        "(NAVAI_STDLIB_INTROSPECTION=1), to measure NAVAI's fast paths against them",
    )
    parser.add_argument("--child", choices=("plain", "navai", "navai+list"), help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global STDLIB_INTROSPECTION  # noqa: PLW0603 - a command-line switch for the children
    STDLIB_INTROSPECTION = args.stdlib_introspection
    if args.child:
        print(json.dumps(_child(args.child, args.root, args.trace)))
        return
    print(json.dumps(measure(args.count, args.repeats), indent=2))


if __name__ == "__main__":
    main()
