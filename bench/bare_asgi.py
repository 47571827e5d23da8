"""The ASGI floor: a bare Starlette app with NAVAI's three routes, answering fixed JSON.

It does what any Starlette app must do for these routes (route, read the body, send a
JSON answer) and nothing NAVAI does, so ``navai / bare`` is NAVAI's own cost. The
answers are the bytes NAVAI sends for the same requests (``run.py`` writes them to the
file named by ``NAVAI_BENCH_BODIES``), so both send the same amount.

One more route, ``POST /bench/forward-httpx``, forwards to the fake upstream with a plain
``httpx.AsyncClient`` (httpx's default transport): the baseline the minting route was
measured against before it got its own transport.

Run by ``run.py`` under the uvicorn command line, like ``navai serve`` runs NAVAI::

    python -m uvicorn bare_asgi:app --app-dir bench --port 8001 [--no-access-log]
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from navai_adapters import tune_gc

_BODIES: dict[str, str] = json.loads(
    open(os.environ["NAVAI_BENCH_BODIES"], encoding="utf-8").read()  # noqa: PTH123, SIM115
)
LIST = _BODIES["list"].encode()
EXECUTE = _BODIES["execute"].encode()
MINT = _BODIES["mint"].encode()
UPSTREAM = os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:9/v1") + "/realtime/client_secrets"
UPSTREAM_BODY = json.dumps(
    {
        "expires_after": {"anchor": "created_at", "seconds": 600},
        "session": {
            "type": "realtime",
            "model": "gpt-realtime",
            "instructions": "You are a helpful assistant.",
            "audio": {"output": {"voice": "marin"}},
        },
    }
).encode()
_clients: list[httpx.AsyncClient] = []


async def functions_list(_request: Request) -> Response:
    return Response(LIST, media_type="application/json")


async def functions_execute(request: Request) -> Response:
    await request.body()
    return Response(EXECUTE, media_type="application/json")


async def client_secret(request: Request) -> Response:
    await request.body()
    return Response(MINT, media_type="application/json", headers={"cache-control": "no-store"})


async def forward_httpx(request: Request) -> Response:
    await request.body()
    answer = await _clients[0].post(
        UPSTREAM,
        content=UPSTREAM_BODY,
        headers={"authorization": "Bearer sk-bench", "content-type": "application/json"},
    )
    data = answer.json()
    body = json.dumps({"value": data["value"], "expires_at": data["expires_at"]}).encode()
    return Response(body, media_type="application/json")


@contextlib.asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        _clients.append(client)
        # The garbage-collector settings `navai serve` applies once started: floor and
        # NAVAI run with the same ones (this app, which never waits, barely collects).
        tune_gc()
        yield


app = Starlette(
    routes=[
        Route("/navai/functions", functions_list, methods=["GET"]),
        Route("/navai/functions/execute", functions_execute, methods=["POST"]),
        Route("/navai/realtime/client-secret", client_secret, methods=["POST"]),
        Route("/bench/forward-httpx", forward_httpx, methods=["POST"]),
    ],
    lifespan=lifespan,
)
