"""NAVAI's benchmark: one command, side-by-side ratios against the framework's own floor.

Prerequisites (see docs/performance.md)::

    pip install ".[server]" gunicorn     # NAVAI, uvicorn, Starlette, gunicorn
    apt-get install -y wrk               # the load generator (Debian/Ubuntu package)
    # optional, for --node: node and npm (installs the original @navai/voice-backend)

Run::

    python bench/run.py                          # everything, about 8 minutes
    python bench/run.py --only http --duration 3 --repeats 2
    python bench/run.py --only discovery

What runs, all on 127.0.0.1, in one go:

* a fast fake OpenAI (``bench/fake_upstream.py``), measured alone first;
* ``navai serve`` as shipped (uvicorn, 1 worker, uvicorn's access log on) beside a bare
  Starlette app with the same three routes answering fixed JSON (``bench/bare_asgi.py``)
  under the same uvicorn settings;
* the same two with the access log off (``navai serve --no-access-log`` and
  ``uvicorn --no-access-log``): the framework floor. ``navai serve`` tunes the garbage
  collector once started (``navai_adapters.tune_gc``); the bare app applies the same
  settings in its lifespan, so both run with the same ones;
* NAVAI's WSGI callable under gunicorn beside a bare WSGI app (``bench/bare_wsgi.py``),
  both ``gunicorn -w 1 -k gthread --threads 4``;
* with ``--node``: the original Node backend (Express), for reference.

Each server is driven by wrk (1 thread, ``--connections`` connections, ``--duration``
seconds per run, after a 1-second warm-up), route by route, servers interleaved, the whole
round repeated ``--repeats`` times; the table shows medians. Ratios are computed per
round (navai and its floor measured back to back) and their median is what is checked:
the machine is shared and noisy, absolute numbers are not comparable between runs.
The servers, wrk and the fake upstream share the machine's cores; every server under
test gets one worker process, navai and floor alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
API_KEY = "sk-bench-0123456789"
GUNICORN = ["-w", "1", "-k", "gthread", "--threads", "4"]
NODE_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "navai-bench"

LIST, EXECUTE, MINT = (
    "/navai/functions",
    "/navai/functions/execute",
    "/navai/realtime/client-secret",
)
UPSTREAM_PATH = "/v1/realtime/client_secrets"
EXECUTE_BODY = '{"function_name": "ping", "payload": {"n": 1}}'
# The same route calling ``async def aping``: it runs on the event loop, no thread hop.
# The query string only keeps its results apart; both apps ignore it.
EXECUTE_ASYNC = EXECUTE + "?async"
EXECUTE_ASYNC_BODY = '{"function_name": "aping", "payload": {"n": 1}}'
ASYNC_SERVERS = ("navai-nolog", "bare-nolog")
MINT_BODY = '{"model": "gpt-realtime", "voice": "marin", "instructions": "Be brief."}'
UPSTREAM_BODY = json.dumps(
    {
        "expires_after": {"anchor": "created_at", "seconds": 600},
        "session": {"type": "realtime", "model": "gpt-realtime", "instructions": "Be brief."},
    }
)

BENCH_TOOLS = '''"""The benchmark's backend functions."""


def ping(n: int = 0) -> dict[str, int]:
    """Answer at once: the cheapest tool, so the server's own cost is what is measured.

    Args:
        n: A number echoed back.
    """
    return {"n": n}


async def aping(n: int = 0) -> dict[str, int]:
    """The same as an ``async def``: it runs on the event loop, with no thread hop.

    Args:
        n: A number echoed back.
    """
    return {"n": n}
'''
NODE_TOOLS = "export function ping(payload) { return { n: payload?.n ?? 0 }; }\n"

TARGETS = (
    # (label, route, navai server, floor server, target ratio)
    ("list, navai serve / bare (same uvicorn settings)", LIST, "navai-serve", "bare-log", 0.85),
    ("list, navai / bare (no access log: the floor)", LIST, "navai-nolog", "bare-nolog", 0.85),
    (
        "execute, navai serve / bare (same uvicorn settings)",
        EXECUTE,
        "navai-serve",
        "bare-log",
        0.85,
    ),
    (
        "execute, navai / bare (no access log: the floor)",
        EXECUTE,
        "navai-nolog",
        "bare-nolog",
        0.85,
    ),
    (
        "execute async def, navai / bare (no access log; information)",
        EXECUTE_ASYNC,
        "navai-nolog",
        "bare-nolog",
        0.85,
    ),
    ("WSGI list, navai / bare (gunicorn)", LIST, "navai-wsgi", "bare-wsgi", 0.85),
    ("WSGI execute, navai / bare (gunicorn)", EXECUTE, "navai-wsgi", "bare-wsgi", 0.85),
    ("mint, navai serve / original Node backend", MINT, "navai-serve", "node", 1.0),
    ("mint, navai (no access log) / original Node backend", MINT, "navai-nolog", "node", 1.0),
)
MINT_ABSOLUTE = 3000  # the Node backend's rate on the machine (its only absolute)


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """One server process under test (or helping): how to start it and where it listens."""

    key: str
    label: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None  # None: the run's temporary folder
    port: int = field(default_factory=free_port)
    routes: tuple[str, ...] = (LIST, EXECUTE, MINT)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, logs: Path) -> None:
        self.log = logs / f"{self.key}.log"
        cwd = self.cwd or logs.parent
        command = [part.replace("{port}", str(self.port)) for part in self.command]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env={**os.environ, **self.env},
                stdout=subprocess.DEVNULL,  # uvicorn's access log: formatted, then dropped
                stderr=log,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + self.routes[0], timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers: ready
            except OSError:
                time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-3000:] if self.log else ""
        msg = f"{self.label} did not start on port {self.port}. Its log:\n{tail}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # its own session: it and its workers
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


# --- load -----------------------------------------------------------------------------------


@dataclass
class Run:
    """One load run's numbers."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _latency(text: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


class Wrk:
    """wrk, with a Lua script per POST route (written into the run's temporary folder)."""

    label = "wrk"

    def __init__(self, folder: Path, connections: int) -> None:
        self.connections = connections
        self.scripts = {
            EXECUTE: self._script(folder / "execute.lua", EXECUTE_BODY, {}),
            EXECUTE_ASYNC: self._script(folder / "execute_async.lua", EXECUTE_ASYNC_BODY, {}),
            MINT: self._script(folder / "mint.lua", MINT_BODY, {}),
            UPSTREAM_PATH: self._script(
                folder / "upstream.lua", UPSTREAM_BODY, {"Authorization": f"Bearer {API_KEY}"}
            ),
            "/bench/forward-httpx": self._script(folder / "forward.lua", MINT_BODY, {}),
        }

    @staticmethod
    def _script(path: Path, body: str, headers: dict[str, str]) -> Path:
        lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
        lines.append('wrk.headers["Content-Type"] = "application/json"')
        lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def run(self, url: str, path: str, seconds: int) -> Run:
        command = ["wrk", "-t1", f"-c{self.connections}", f"-d{seconds}s", "--latency"]
        command += ["--timeout", "10s"]
        if path in self.scripts:
            command += ["-s", str(self.scripts[path])]
        done = subprocess.run(
            [*command, url + path],
            check=False,
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        )
        text = done.stdout
        rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
        if done.returncode != 0 or rate is None:
            msg = f"wrk failed on {url}{path}:\n{text}\n{done.stderr}"
            raise RuntimeError(msg)
        errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
        if bad := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
            errors += int(bad.group(1))
        return Run(float(rate.group(1)), _latency(text, "50"), _latency(text, "99"), errors)


class PythonLoad:
    """A fallback when wrk is missing: keep-alive HTTP/1.1 from asyncio, in its own process.

    It is much slower than wrk and may saturate before the server does; its numbers and
    ratios are only indicative. Install wrk for real ones.
    """

    label = "python load generator (wrk not found: indicative only)"

    def __init__(self, folder: Path, connections: int) -> None:
        self.connections = connections
        self.bodies = {EXECUTE: EXECUTE_BODY, MINT: MINT_BODY, UPSTREAM_PATH: UPSTREAM_BODY}
        self.bodies[EXECUTE_ASYNC] = EXECUTE_ASYNC_BODY
        self.bodies["/bench/forward-httpx"] = MINT_BODY

    def run(self, url: str, path: str, seconds: int) -> Run:
        body = self.bodies.get(path)
        command = [PYTHON, __file__, "--load-child", url + path, str(self.connections)]
        command += [str(seconds), body or ""]
        done = subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=seconds + 30
        )
        if done.returncode != 0:
            msg = f"load generator failed on {url}{path}:\n{done.stderr}"
            raise RuntimeError(msg)
        return Run(**json.loads(done.stdout))


def _load_child(url: str, connections: int, seconds: float, body: str) -> None:
    import asyncio

    host, _, rest = url.removeprefix("http://").partition("/")
    address, _, port = host.partition(":")
    method = "POST" if body else "GET"
    payload = body.encode()
    request = (
        f"{method} /{rest} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    latencies: list[float] = []
    errors = 0

    async def worker(deadline: float) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(address, int(port))
        while time.monotonic() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 2"):
                errors += 1
        writer.close()

    async def main() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(worker(deadline) for _ in range(connections)))

    started = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - started
    latencies.sort()
    print(
        json.dumps(
            {
                "rps": len(latencies) / elapsed,
                "p50_ms": latencies[len(latencies) // 2] * 1000,
                "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
                "errors": errors,
            }
        )
    )


# --- the HTTP benchmark ---------------------------------------------------------------------


def _expected_bodies(folder: Path) -> dict[str, str]:
    """The bytes NAVAI answers the benchmark's requests with, for the bare floors."""
    from navai_core import load_navai_functions

    with load_navai_functions(base_dir=folder, folders="functions", env={}) as registry:
        listing = {"items": [item.to_dict() for item in registry.items], "warnings": []}
        source = registry.items[0].source
    execute = {"ok": True, "function_name": "ping", "source": source, "result": {"n": 1}}
    mint = {"value": "ek_bench_1", "expires_at": 1767225600}
    return {
        name: json.dumps(data, separators=(",", ":"))
        for name, data in (("list", listing), ("execute", execute), ("mint", mint))
    }


def _node_server(folder: Path, upstream: str) -> Server | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        print("--node: node and npm are needed; skipping the Node reference.")
        return None
    NODE_CACHE.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "server.mjs"):
        shutil.copy(HERE / "node_reference" / name, NODE_CACHE / name)
    if not (NODE_CACHE / "node_modules" / "@navai" / "voice-backend").exists():
        print(f"Installing the original @navai/voice-backend into {NODE_CACHE} ...")
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--silent"],
            cwd=NODE_CACHE,
            check=True,
            timeout=300,
        )
    tools = folder / "node" / "src" / "ai" / "functions-modules"
    tools.mkdir(parents=True)
    (tools / "tools.js").write_text(NODE_TOOLS, encoding="utf-8")
    return Server(
        "node",
        "original Node backend (Express)",
        [node, str(NODE_CACHE / "server.mjs"), "{port}"],
        env={
            "NAVAI_BENCH_UPSTREAM": upstream,
            "OPENAI_API_KEY": API_KEY,
            "NAVAI_FUNCTIONS_BASE_DIR": str(folder / "node"),
        },
        cwd=NODE_CACHE,
    )


@dataclass
class Results:
    """Every run, by server and route, in round order."""

    labels: dict[str, str]
    runs: dict[tuple[str, str], list[Run]] = field(default_factory=dict)

    def add(self, key: str, route: str, run: Run) -> None:
        self.runs.setdefault((key, route), []).append(run)

    def median(self, key: str, route: str, pick: Callable[[Run], float]) -> float:
        runs = self.runs.get((key, route), [])
        return statistics.median(pick(run) for run in runs) if runs else float("nan")

    def ratio(self, key: str, floor: str, route: str) -> float:
        pairs = zip(
            self.runs.get((key, route), []), self.runs.get((floor, route), []), strict=False
        )
        ratios = [a.rps / b.rps for a, b in pairs if b.rps]
        return statistics.median(ratios) if ratios else float("nan")


def http_benchmark(args: argparse.Namespace) -> Results:
    wrk_path = shutil.which("wrk")
    if wrk_path is None:
        print(
            "wrk is not installed: using the (much weaker) Python load generator instead.\n"
            "Install wrk for real numbers: sudo apt-get install -y wrk   (Debian/Ubuntu)\n"
        )
    with tempfile.TemporaryDirectory(prefix="navai-bench-") as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        logs = folder / "logs"
        logs.mkdir()
        (folder / "functions").mkdir()
        (folder / "functions" / "bench_tools.py").write_text(BENCH_TOOLS, encoding="utf-8")
        bodies = folder / "bodies.json"
        bodies.write_text(json.dumps(_expected_bodies(folder)), encoding="utf-8")
        load = (Wrk if wrk_path else PythonLoad)(folder, args.connections)

        upstream = Server(
            "upstream",
            "fake OpenAI alone",
            [PYTHON, str(HERE / "fake_upstream.py"), "--port", "{port}"],
            routes=(UPSTREAM_PATH,),
        )
        upstream_url = f"{upstream.url}/v1"
        navai_env = {
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": upstream_url,
            "NAVAI_FUNCTIONS_BASE_DIR": str(folder),
            "NAVAI_FUNCTIONS_FOLDERS": "functions",
        }
        bare_env = {"NAVAI_BENCH_BODIES": str(bodies), "OPENAI_BASE_URL": upstream_url}
        uvicorn = [PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}"]
        bare_asgi = ["bare_asgi:app", "--app-dir", str(HERE)]
        gunicorn = [PYTHON, "-m", "gunicorn", *GUNICORN, "-b", "127.0.0.1:{port}"]
        servers = [
            Server(
                "navai-serve",
                "navai serve (uvicorn, access log on)",
                [PYTHON, "-m", "navai_adapters", "serve", "--port", "{port}"],
                env=navai_env,
            ),
            Server(
                "bare-log",
                "bare Starlette (uvicorn, access log on)",
                [*uvicorn, *bare_asgi],
                env=bare_env,
            ),
            Server(
                "navai-nolog",
                "navai serve --no-access-log",
                [PYTHON, "-m", "navai_adapters", "serve", "--no-access-log", "--port", "{port}"],
                env=navai_env,
            ),
            Server(
                "bare-nolog",
                "bare Starlette (uvicorn --no-access-log)",
                [*uvicorn, "--no-access-log", *bare_asgi],
                env=bare_env,
            ),
        ]
        if args.wsgi:
            servers += [
                Server(
                    "navai-wsgi",
                    "navai WSGI (gunicorn gthread 1x4)",
                    [*gunicorn, "navai_adapters.wsgi:create_app()"],
                    env=navai_env,
                ),
                Server(
                    "bare-wsgi",
                    "bare WSGI (gunicorn gthread 1x4)",
                    [*gunicorn, "--pythonpath", str(HERE), "bare_wsgi:app"],
                    env=bare_env,
                ),
            ]
        if args.node and (node := _node_server(folder, upstream_url)) is not None:
            servers.append(node)
        forward = Server(
            "forward-httpx",
            "Starlette route forwarding with plain httpx.AsyncClient",
            [*uvicorn, "--no-access-log", *bare_asgi],
            env=bare_env,
            routes=("/bench/forward-httpx",),
        )
        everything = [upstream, *servers, forward]
        for server in everything:
            stack.callback(server.stop)
            server.start(logs)
        for server in everything:
            server.wait_ready()

        print(
            f"Load: {load.label}, {args.connections} connections, {args.duration} s per run "
            f"after a 1 s warm-up, {args.repeats} rounds; servers interleaved within each round."
        )
        results = Results({server.key: server.label for server in everything})
        plan: list[tuple[Server, str]] = [(upstream, UPSTREAM_PATH)]
        for route in (LIST, EXECUTE, MINT):
            plan += [(server, route) for server in servers]
            if route == EXECUTE:
                plan += [
                    (server, EXECUTE_ASYNC) for server in servers if server.key in ASYNC_SERVERS
                ]
        plan.append((forward, "/bench/forward-httpx"))
        for server, route in plan:  # warm-up: every code path, every pool, once
            load.run(server.url, route, 1)
        for round_number in range(1, args.repeats + 1):
            started = time.monotonic()
            for server, route in plan:
                results.add(server.key, route, load.run(server.url, route, args.duration))
            print(
                f"  round {round_number}/{args.repeats} done in {time.monotonic() - started:.0f} s"
            )
        for server in everything:
            problem = _log_problems(server)
            if problem:
                print(f"Warning: {server.label} logged errors:\n{problem}")
        return results


def _log_problems(server: Server) -> str:
    if server.log is None or not server.log.exists():
        return ""
    lines = server.log.read_text(errors="replace").splitlines()
    bad = [line for line in lines if "Traceback" in line or "ERROR" in line]
    return "\n".join(bad[:5])


# --- output ---------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [
            cell.rjust(width) if index in right else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "| " + " | ".join(cells) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (width + 1) + ":") if index in right else (":" + "-" * (width + 1))
            for index, width in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def print_http(results: Results) -> list[tuple[str, float, float, bool]]:
    labels = results.labels
    names = {
        LIST: "GET list",
        EXECUTE: "POST execute",
        EXECUTE_ASYNC: "POST execute (async def)",
        MINT: "POST mint",
        UPSTREAM_PATH: "POST (upstream)",
        "/bench/forward-httpx": "POST mint",
    }
    rows = []
    for (key, route), runs in results.runs.items():
        errors = sum(run.errors for run in runs)
        rows.append(
            [
                names[route],
                labels[key],
                f"{results.median(key, route, lambda run: run.rps):,.0f}",
                f"{results.median(key, route, lambda run: run.p50_ms):.2f}",
                f"{results.median(key, route, lambda run: run.p99_ms):.2f}",
                str(errors),
            ]
        )
    order = {
        "POST (upstream)": 0,
        "GET list": 1,
        "POST execute": 2,
        "POST execute (async def)": 3,
        "POST mint": 4,
    }
    rows.sort(key=lambda row: order[row[0]])
    print()
    print(_table(["route", "server", "req/s", "p50 ms", "p99 ms", "errors"], rows, {2, 3, 4, 5}))
    checks = []
    for label, route, key, floor, target in TARGETS:
        if (key, route) in results.runs and (floor, route) in results.runs:
            ratio = results.ratio(key, floor, route)
            checks.append((label, ratio, target, ratio >= target))
    mint = results.median("navai-serve", MINT, lambda run: run.rps)
    return [
        *checks,
        (
            "mint, navai serve req/s (absolute; the issue's machine had Node at 3,000)",
            mint,
            MINT_ABSOLUTE,
            mint >= MINT_ABSOLUTE,
        ),
    ]


def print_discovery(results: dict[str, Any]) -> list[tuple[str, float, float, bool]]:
    rows = []
    for cache in ("cached", "source"):
        for mode, numbers in results[cache].items():
            rows.append(
                [
                    f"{results['count']} modules, {'bytecode cached' if cache == 'cached' else 'from source'}",
                    {
                        "plain": "plain import",
                        "navai": "load_navai_functions",
                        "navai+list": "load + first listing",
                    }[mode],
                    f"{numbers['seconds'] * 1000:.0f}",
                    f"{numbers['ratio']:.2f}",
                    f"{numbers['rss'] / 1e6:.1f}",
                    f"{(numbers['peak'] or 0) / 1e6:.1f}",
                ]
            )
    print()
    print(
        _table(
            ["discovery", "what", "ms", "x plain", "RSS MB", "traced peak MB"],
            rows,
            {2, 3, 4, 5},
        )
    )
    listing = results["list"]
    print()
    print(
        _table(
            ["list route, in-process", "tools", "bytes", "cold ms", "p50 us", "p99 us"],
            [
                [
                    "navai (Starlette app)",
                    str(listing["tools"]),
                    f"{listing['bytes']:,}",
                    f"{listing['cold'] * 1000:.1f}",
                    f"{listing['navai_p50'] * 1e6:.1f}",
                    f"{listing['navai_p99'] * 1e6:.1f}",
                ],
                [
                    "bare Starlette, same bytes",
                    str(listing["tools"]),
                    f"{listing['bytes']:,}",
                    "-",
                    f"{listing['bare_p50'] * 1e6:.1f}",
                    f"{listing['bare_p99'] * 1e6:.1f}",
                ],
            ],
            {1, 2, 3, 4, 5},
        )
    )
    cached, source = results["cached"]["navai"]["ratio"], results["source"]["navai"]["ratio"]
    return [
        ("discovery, load / plain import (bytecode cached)", cached, 2.0, cached <= 2.0),
        ("discovery, load / plain import (from source)", source, 2.0, source <= 2.0),
    ]


def print_checks(checks: list[tuple[str, float, float, bool]]) -> None:
    rows = []
    for label, value, target, ok in checks:
        lower_is_better = label.startswith("discovery")
        absolute = "req/s" in label
        shown = f"{value:,.0f}" if absolute else f"{value:.2f}"
        wanted = (
            (f">= {target:,.0f}" if absolute else f">= {target:.2f}")
            if not lower_is_better
            else f"<= {target:.2f}"
        )
        result = "ok" if ok else "MISSED"
        if "information" in label:  # not one of the targets
            result = "(information)"
        if absolute:  # another machine's number: shown for reference, not checked
            result = "(reference)"
        rows.append([label, shown, wanted, result])
    print()
    print(_table(["check (median of per-round ratios)", "value", "target", "result"], rows, {1}))
    if any("req/s" in label for label, *_ in checks):
        print(
            "\nThe absolute mint rate is only comparable on the issue's machine; here, compare "
            "with the original Node backend measured beside it (--node)."
        )


def describe_machine(args: argparse.Namespace) -> None:
    wrk = shutil.which("wrk")
    version = ""
    if wrk:
        done = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        version = (
            (done.stdout or done.stderr).splitlines()[0] if (done.stdout or done.stderr) else ""
        )
    import uvicorn

    print(
        f"NAVAI benchmark: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"uvicorn {uvicorn.__version__}, {version or 'no wrk'}"
    )
    print(f"Command: {' '.join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]) if sys.argv else ''}")
    print("Every server runs 1 worker (uvicorn: 1 process; gunicorn: -w 1 -k gthread --threads 4).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="NAVAI's benchmark: ratios against the framework floor, side by side.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent(__doc__ or "").split("Run::")[0],
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per load run (5)")
    parser.add_argument("--connections", type=int, default=32, help="open connections (32)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; medians are shown (3)")
    parser.add_argument("--only", choices=("http", "discovery"), help="run one half")
    parser.add_argument("--modules", type=int, default=1000, help="discovery: modules (1000)")
    parser.add_argument("--node", action="store_true", help="also run the original Node backend")
    parser.add_argument("--no-wsgi", dest="wsgi", action="store_false", help="skip gunicorn")
    parser.add_argument("--load-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_child:
        url, connections, seconds, body = args.load_child
        _load_child(url, int(connections), float(seconds), body)
        return 0
    describe_machine(args)
    checks = []
    if args.only in (None, "http"):
        missing = [name for name in ("uvicorn", "starlette", "gunicorn") if not _importable(name)]
        if missing:
            print(f'Missing: {", ".join(missing)}. Install: pip install ".[server]" gunicorn')
            return 2
        checks += print_http(http_benchmark(args))
    if args.only in (None, "discovery"):
        sys.path.insert(0, str(HERE))
        from discovery import measure

        print(
            f"\nDiscovery: {args.modules} generated modules, fresh interpreters, {max(args.repeats, 3)} rounds ..."
        )
        checks += print_discovery(measure(args.modules, max(args.repeats, 3)))
    print_checks(checks)
    return 0


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


if __name__ == "__main__":
    sys.exit(main())
