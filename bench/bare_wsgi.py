"""The WSGI floor: a bare WSGI callable with NAVAI's three routes, answering fixed JSON.

Reads the body and answers the bytes NAVAI sends for the same requests (from the file
named by ``NAVAI_BENCH_BODIES``); ``run.py`` serves it with the same gunicorn settings
as NAVAI's WSGI app::

    gunicorn -w 1 -k gthread --threads 4 --pythonpath bench bare_wsgi:app
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

_BODIES: dict[str, str] = json.loads(
    open(os.environ["NAVAI_BENCH_BODIES"], encoding="utf-8").read()  # noqa: PTH123, SIM115
)
_ROUTES = {
    ("GET", "/navai/functions"): _BODIES["list"].encode(),
    ("POST", "/navai/functions/execute"): _BODIES["execute"].encode(),
    ("POST", "/navai/realtime/client-secret"): _BODIES["mint"].encode(),
}
_NOT_FOUND = b'{"error":"Not found"}'


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    body = _ROUTES.get((environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")))
    status = "200 OK"
    if body is None:
        status, body = "404 Not Found", _NOT_FOUND
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
