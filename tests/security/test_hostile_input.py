"""Hostile input: whatever a client sends, the answer is a JSON 4xx, never a 500 or a traceback.

Malformed and deeply nested JSON, wrong types in every field, huge names, binary bodies,
oversized bodies (refused without being read whole), wrong content types. Each case is
sent to both adapters, really served.
"""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fake_openai import FakeOpenAI
from tests.servers import ServerProcess

from .conftest import (
    EXECUTE,
    LIST,
    MINT,
    Served,
    assert_healthy,
    assert_json,
    assert_json_error,
    execute,
    external,
    options_for,
    running,
)

pytestmark = pytest.mark.integration

POSTS = (MINT, EXECUTE)
JSON = {"content-type": "application/json"}
WIRE_FIELDS = ("model", "voice", "instructions", "language", "voiceAccent", "voiceTone", "apiKey")
WRONG_VALUES = (5, 1.5, True, [], ["a"], {}, {"a": 1})


def post(server: Served, path: str, content: bytes, headers=JSON) -> httpx.Response:
    return server.client.post(path, content=content, headers=headers)


# --- malformed and deeply nested JSON ------------------------------------------------------


DEEP = 100_000
NESTED_BODIES = {
    "arrays": b"[" * DEEP + b"]" * DEEP,
    "objects": b'{"a":' * (DEEP // 2) + b"1" + b"}" * (DEEP // 2),
    "unclosed": b"[" * DEEP,
    "in-payload": b'{"function_name": "echo", "payload": {"text": '
    + b"[" * DEEP
    + b"]" * DEEP
    + b"}}",
    "in-field": b'{"model": ' + b"[" * DEEP + b"]" * DEEP + b"}",
}


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("content", NESTED_BODIES.values(), ids=NESTED_BODIES.keys())
def test_deeply_nested_json_is_400(server: Served, path: str, content: bytes) -> None:
    body = assert_json_error(post(server, path, content), 400)
    assert body == {"error": "Request body is JSON nested too deeply. Send a flatter JSON object."}


def test_a_get_body_is_held_to_the_same_rules(server: Served) -> None:
    # The list route takes no input, but the contract's "every route" rules still hold:
    # a body sent with the GET must be a JSON object.
    nested = server.client.request("GET", LIST, content=NESTED_BODIES["arrays"], headers=JSON)
    assert_json_error(nested, 400)
    as_text = server.client.request(
        "GET", LIST, content=b"hi", headers={"content-type": "text/plain"}
    )
    assert_json_error(as_text, 415)
    empty_object = server.client.request("GET", LIST, content=b"{}", headers=JSON)
    assert assert_json(empty_object, 200)["items"]


MALFORMED = {
    "truncated": b'{"function_name": "add"',
    "trailing": b'{"function_name": "add"} {}',
    "single-quotes": b"{'function_name': 'add'}",
    "nan": b'{"function_name": "add", "payload": {"a": NaN, "b": 1}}',
    "comment": b'{"function_name": "add" /* hi */}',
    "bom": b'\xef\xbb\xbf{"function_name": "add"}',
    "lone-surrogate": b'{"function_name": "\\ud800"}',
    "huge-number": b'{"function_name": "add", "payload": {"a": ' + b"9" * 5000 + b", : 1}}",
    "overflow-float": b'{"function_name": "add", "payload": {"a": 1e999, "b": 1}}',
    "null": b"null",
    "number": b"42",
    "string": b'"add"',
    "array": b'["add"]',
    "true": b"true",
}


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("content", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_or_non_object_json_is_400(server: Served, path: str, content: bytes) -> None:
    assert_json_error(post(server, path, content), 400)


# --- wrong types in every field ------------------------------------------------------------


@pytest.mark.parametrize("field", WIRE_FIELDS)
def test_mint_field_of_any_wrong_type_is_400_naming_it(server: Served, upstream, field) -> None:
    for value in WRONG_VALUES:
        body = assert_json_error(server.client.post(MINT, json={field: value}), 400)
        assert body["error"].startswith("Invalid client-secret request: ")
        assert repr(field) in body["error"]
    assert upstream.requests == []  # refused before OpenAI is called


def test_mint_with_every_field_wrong_names_every_field(server: Served, upstream) -> None:
    body = assert_json_error(server.client.post(MINT, json=dict.fromkeys(WIRE_FIELDS, 7)), 400)
    for field in WIRE_FIELDS:
        assert repr(field) in body["error"]
    assert upstream.requests == []  # refused before OpenAI is called


@pytest.mark.parametrize("value", [*WRONG_VALUES, None, "", "   "])
def test_function_name_of_a_wrong_type_is_400(server: Served, value) -> None:
    response = server.client.post(EXECUTE, json={"function_name": value, "payload": None})
    body = assert_json_error(response, 400)
    assert body["error"] == "function_name is required."
    if isinstance(value, str) or value is None:
        assert set(body) == {"error"}
    else:  # a wrong type is said so, next to the contract's message
        assert body["details"].startswith("function_name must be a string, not ")


@pytest.mark.parametrize("value", [5, 1.5, True, "add", [], [1, 2]])
def test_payload_of_a_wrong_type_is_400(server: Served, value) -> None:
    response = server.client.post(EXECUTE, json={"function_name": "add", "payload": value})
    assert assert_json_error(response, 400) == {"error": "payload must be a JSON object or null."}


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("add", {"a": "1", "b": 2}),
        ("add", {"a": 1.5, "b": 2}),
        ("add", {"a": True, "b": 2}),
        ("add", {"a": None, "b": 2}),
        ("add", {"a": [1], "b": 2}),
        ("add", {"args": "12"}),
        ("add", {"args": [1], "kwargs": [2]}),
        ("add", {"args": [1, 2], "value": 3}),
        ("add", {"args": [1, 2, 3, 4]}),
        ("echo", {"text": {"nested": "object"}}),
        ("echo", {"value": 12}),
        ("counter_plus", {"constructorArgs": 5, "methodArgs": {"n": 1}}),
        ("counter_plus", {"constructorArgs": {"start": "zero"}, "methodArgs": {"n": 1}}),
        ("counter_plus", {"methodArgs": "n"}),
        ("counter_plus", {"n": 1}),
        ("whoami", {"context": {"function_name": "spoofed"}}),
    ],
)
def test_arguments_of_wrong_types_are_400_invalid_arguments(server: Served, name, payload) -> None:
    body = assert_json_error(execute(server.client, name, payload), 400)
    assert body["ok"] is False
    assert body["error"] == "Invalid arguments."
    assert body["function_name"] == name


def test_the_context_cannot_be_filled_in_by_the_caller(server: Served) -> None:
    # Only the server fills FunctionContext; a payload naming it is refused (above), and
    # the real headers are what the function sees.
    response = execute(server.client, "whoami", None, headers={"x-user": "alice"})
    assert response.json()["result"] == "alice"


# --- huge names, binary bodies -----------------------------------------------------------


def test_a_huge_function_name_is_404_and_not_echoed(server: Served) -> None:
    name = "x" * 100_000
    response = execute(server.client, name)
    body = assert_json_error(response, 404)
    assert body["error"] == "Unknown or disallowed function."
    assert len(response.content) < 4096  # the name is not sent back
    assert_healthy(server.client)


def test_huge_unknown_keys_and_values_never_fail_the_server(server: Served) -> None:
    payload = {"x" * 100_000: 1, "model": "m" * 100_000}
    assert server.client.post(MINT, json=payload).status_code in (200, 400, 413)
    response = execute(server.client, "add", {"a": 1, "b": 2, "k" * 100_000: 3})
    body = assert_json_error(response, 400)
    assert body["error"] == "Invalid arguments."
    assert_healthy(server.client)


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("size", [1, 17, 4096, 200_000])
def test_binary_bodies_are_400(server: Served, path: str, size: int) -> None:
    noise = random.Random(size).randbytes(size)
    if noise.lstrip()[:1] in (b"{", b"[", b'"') or not noise.strip():
        noise = b"\xff" + noise
    assert_json_error(post(server, path, noise), 400)
    # Without any Content-Type, the same answer.
    assert_json_error(post(server, path, noise, headers={}), (400, 415))
    assert_json_error(post(server, path, b"\x00" * size), 400)


# --- content types -------------------------------------------------------------------------


WRONG_TYPES = {
    "form": ("application/x-www-form-urlencoded", b"function_name=add&payload="),
    "text": ("text/plain", b'{"function_name": "add"}'),
    "text-utf8": ("text/plain; charset=utf-8", b'{"function_name": "add"}'),
    "multipart": (
        "multipart/form-data; boundary=zzz",
        b'--zzz\r\nContent-Disposition: form-data; name="function_name"\r\n\r\nadd\r\n--zzz--\r\n',
    ),
    "xml": ("application/xml", b"<function_name>add</function_name>"),
    "octet": ("application/octet-stream", b'{"function_name": "add"}'),
    "garbage": (";;;", b'{"function_name": "add"}'),
}


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize(("content_type", "content"), WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_a_body_that_is_not_declared_json_is_415(
    server: Served, path: str, content_type: str, content: bytes
) -> None:
    body = assert_json_error(post(server, path, content, {"content-type": content_type}), 415)
    assert "Content-Type must be application/json" in body["error"]


@pytest.mark.parametrize("path", POSTS)
def test_a_json_body_without_content_type_is_415(server: Served, path: str) -> None:
    # A browser sends a body without Content-Type for a Blob of no type (fetch with
    # mode "no-cors", navigator.sendBeacon): a "simple" request that needs no CORS
    # preflight. Accepting it as JSON lets any web page post to the routes.
    response = post(server, path, b'{"function_name": "add", "payload": {"a": 1, "b": 2}}', {})
    assert_json_error(response, 415)


def test_json_with_parameters_and_json_suffix_types_are_accepted(server: Served) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        response = post(
            server,
            EXECUTE,
            b'{"function_name": "add", "payload": {"a": 1, "b": 2}}',
            {"content-type": content_type},
        )
        assert response.json()["result"] == 3


# --- oversized bodies ----------------------------------------------------------------------


def read_answer(sock: socket.socket, answer: bytearray, done: threading.Event) -> None:
    """Read one HTTP answer into ``answer`` (head and ``Content-Length`` body)."""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            answer.extend(data)
            head, _, body = bytes(answer).partition(b"\r\n\r\n")
            if _:
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                if len(body) >= length:
                    break
    except OSError:
        pass
    done.set()


def send_big_body(url: str, path: str, total: int, *, chunked: bool) -> tuple[bytes, int]:
    """Stream a ``total``-byte JSON-ish body slowly; stop as soon as the answer is in.

    Returns the answer and how many body bytes were sent.
    """
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
    head = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json"]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    answer, done = bytearray(), threading.Event()
    reader = threading.Thread(target=read_answer, args=(sock, answer, done), daemon=True)
    reader.start()
    chunk = b" " * 65536
    sent = 0
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        while sent < total and not done.wait(0.005):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            sent += len(chunk)
    except OSError:
        pass  # the server answered and closed: exactly what is expected
    done.wait(5)
    sock.close()
    reader.join(5)
    return bytes(answer), sent


def rss_of(pid: int | str = "self") -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def assert_413(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body)["error"].startswith("Request body is larger than 1048576 bytes")


FIFTY_MB = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def gunicorn(
    upstream: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """The WSGI adapter under gunicorn, which hands the app the body as it arrives."""
    with external("wsgi", upstream, tmp_path_factory.mktemp("gunicorn")) as process:
        yield process


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_body_is_413_before_it_is_read_whole(
    adapter: str, chunked: bool, request: pytest.FixtureRequest
) -> None:
    # Starlette under uvicorn (in this process), WSGI under gunicorn: both hand the app
    # the body as it arrives, so the adapter's limit is what stops it.
    if adapter == "starlette":
        url, pid = request.getfixturevalue("server").url, "self"
    else:
        process: ServerProcess = request.getfixturevalue("gunicorn")
        url, pid = process.url, process.worker_pid()
    rss_before = rss_of(pid)
    answer, sent = send_big_body(url, EXECUTE, FIFTY_MB, chunked=chunked)
    rss_after = rss_of(pid)
    assert_413(answer)
    # Early: long before the 50 MB could have been sent (the count, not a clock, says so).
    assert sent <= 4 * 1024 * 1024, sent
    assert rss_after - rss_before < 16 * 1024 * 1024, (rss_before, rss_after)


def test_under_waitress_an_oversized_body_is_413_and_spooled_not_held(upstream) -> None:
    # waitress reads a whole request before it calls any WSGI app (to memory up to
    # 512 KiB, then to a temporary file, up to its own max_request_body_size, 1 GiB by
    # default), so no WSGI app can answer early there. The answer is still NAVAI's JSON
    # 413, and the body never sits in memory.
    with running("wsgi", options_for(upstream)) as server:
        rss_before = rss_of()
        answer, sent = send_big_body(server.url, EXECUTE, 8 * 1024 * 1024, chunked=False)
        rss_after = rss_of()
    assert sent >= 8 * 1024 * 1024  # waitress took it all before answering
    assert_413(answer)
    assert rss_after - rss_before < 16 * 1024 * 1024
