"""Checks of the core's own HTTP/1.1 transport (``navai_core._upstream._transport``).

The contract and fault suites already drive it through the Starlette app;
these cover what they do not reach: chunked and close-delimited answers, interim 1xx,
HEAD and 204, keep-alive reuse, the connection cap, timeouts, TLS, malformed answers.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from navai_core._upstream._transport import KeepAliveTransport, new_async_client

OK = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"a": true}'
Answer = bytes | Callable[[asyncio.StreamWriter], Awaitable[None]]


class Upstream:
    """A raw asyncio server: one scripted answer (bytes, or a coroutine) per request."""

    def __init__(self, answers: list[Answer], context: ssl.SSLContext | None = None) -> None:
        self.answers = list(answers)
        self.context = context
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Upstream:  # noqa: PYI034 - Self needs 3.11
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=self.context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/x"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append((head, body))
                answer = self.answers.pop(0)
                if not isinstance(answer, bytes):
                    await answer(writer)
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        writer.close()


def client(**kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=KeepAliveTransport(**kwargs.pop("limits", {})), **kwargs)


@pytest.mark.asyncio
async def test_keep_alive_reuses_one_connection() -> None:
    async with Upstream([OK, OK, OK]) as upstream, client() as http:
        for _ in range(3):
            response = await http.post(upstream.url, json={"x": 1})
            assert response.json() == {"a": True}
    assert upstream.connections == 1
    head, body = upstream.requests[0]
    assert head.startswith(b"POST /v1/x HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{upstream.port}\r\n".encode() in head.lower()
    assert json.loads(body) == {"x": 1}  # httpx's own spacing differs between releases


@pytest.mark.asyncio
async def test_chunked_answer_with_extensions_trailers_and_gzip() -> None:
    data = gzip.compress(b'{"chunked": 1}')
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-encoding: gzip\r\n\r\n"
    chunks = [b"5\r\n", data[:5], f"\r\n{len(data) - 5:x};ext=1\r\n".encode(), data[5:]]
    answer = b"".join([head, *chunks, b"\r\n0\r\nx-trailer: 1\r\n\r\n"])
    async with Upstream([answer, OK]) as upstream, client() as http:
        assert (await http.get(upstream.url)).json() == {"chunked": 1}
        assert (await http.get(upstream.url)).json() == {"a": True}
    assert upstream.connections == 1


@pytest.mark.asyncio
async def test_answer_delimited_by_close_and_http_10() -> None:
    async def until_close(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nhello world")
        await writer.drain()

    async with Upstream([until_close, OK]) as upstream, client() as http:
        assert (await http.get(upstream.url)).text == "hello world"
        assert (await http.get(upstream.url)).status_code == 200
    assert upstream.connections == 2


@pytest.mark.asyncio
async def test_interim_answers_head_and_204_keep_the_connection() -> None:
    answers: list[Answer] = [
        b"HTTP/1.1 100 Continue\r\n\r\n" + OK,
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n",
        OK,
    ]
    async with Upstream(answers) as upstream, client() as http:
        assert (await http.post(upstream.url, content=b"x")).json() == {"a": True}
        assert (await http.delete(upstream.url)).status_code == 204
        head = await http.head(upstream.url)
        assert (head.status_code, head.content) == (200, b"")
        assert (await http.get(upstream.url)).status_code == 200
    assert upstream.connections == 1


@pytest.mark.asyncio
async def test_a_dropped_connection_is_a_protocol_error_not_a_timeout() -> None:
    async def drop(_writer: asyncio.StreamWriter) -> None:
        return

    async with Upstream([drop]) as upstream, client() as http:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await http.get(upstream.url)
    assert str(caught.value.request.url) == upstream.url


@pytest.mark.asyncio
async def test_refused_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


@pytest.mark.asyncio
async def test_read_timeout_and_the_connection_is_not_reused() -> None:
    async def silent(_writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()  # never answers: only the read timeout ends the wait

    async with Upstream([silent, OK]) as upstream, client(timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            await asyncio.wait_for(http.get(upstream.url), 30)
        assert (await http.get(upstream.url)).status_code == 200
    assert upstream.connections == 2


@pytest.mark.asyncio
async def test_cancelled_mid_answer_the_connection_is_closed() -> None:
    half_sent = asyncio.Event()

    async def half(writer: asyncio.StreamWriter) -> None:
        writer.write(OK[:20])
        await writer.drain()
        half_sent.set()
        await asyncio.Event().wait()

    async with Upstream([half, OK]) as upstream, client() as http:
        pending = asyncio.create_task(http.get(upstream.url))
        await half_sent.wait()
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        assert (await http.get(upstream.url)).status_code == 200
    assert upstream.connections == 2


@pytest.mark.asyncio
async def test_the_connection_cap_queues_and_times_out() -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def held(writer: asyncio.StreamWriter) -> None:
        arrived.set()
        await release.wait()
        writer.write(OK)
        await writer.drain()

    timeout = httpx.Timeout(30, pool=0.1)
    async with (
        Upstream([held]) as upstream,
        client(limits={"max_connections": 1}, timeout=timeout) as http,
    ):
        first = asyncio.create_task(http.get(upstream.url))
        await arrived.wait()  # the one slot is taken
        with pytest.raises(httpx.PoolTimeout):
            await http.get(upstream.url)
        release.set()
        assert (await first).status_code == 200
    async with Upstream([OK, OK, OK]) as upstream, client(limits={"max_connections": 1}) as http:
        answers = await asyncio.gather(*(http.get(upstream.url) for _ in range(3)))
        assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert upstream.connections == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "answer",
    [
        b"NOT HTTP\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    ],
)
async def test_malformed_answers_are_protocol_errors(answer: bytes) -> None:
    async def send(writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await writer.drain()

    async with Upstream([send]) as upstream, client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(upstream.url)


@pytest.mark.asyncio
async def test_a_line_break_in_a_header_is_refused() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:9/", headers=[(b"x-a", b"1\r\nx-b: 2")])
    async with client() as http:
        with pytest.raises(httpx.LocalProtocolError):
            await http.send(request)


@pytest.mark.asyncio
async def test_only_http_and_https() -> None:
    async with client() as http:
        with pytest.raises(httpx.UnsupportedProtocol):
            await http.send(httpx.Request("GET", "ftp://example.com/x"))


@pytest.mark.asyncio
async def test_tls_verifies_the_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", key, "-out", cert, "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    async with Upstream([OK], context) as upstream:
        url = f"https://localhost:{upstream.port}/"
        async with client() as http:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await http.get(url)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # read by httpx.create_ssl_context
        async with client() as http:
            assert (await http.get(url)).json() == {"a": True}


@pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
def test_connections_from_a_closed_event_loop_are_not_reused() -> None:
    # The first loop closes with an idle connection in the pool, as this case needs: only
    # the garbage collector can reclaim its socket then (collected here, warning ignored).
    transport = KeepAliveTransport()

    async def once() -> None:
        async with Upstream([OK]) as upstream:
            answer = await httpx.AsyncClient(transport=transport).get(upstream.url)
            assert answer.status_code == 200

    # Loops of its own, never made current: pytest-asyncio's loop stays as it is.
    for step in (once, once, transport.aclose):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(step())
        finally:
            loop.close()
    gc.collect()


@pytest.mark.asyncio
async def test_the_owned_client_keeps_no_cookies() -> None:
    answer = b"HTTP/1.1 200 OK\r\nset-cookie: a=b; Path=/\r\ncontent-length: 2\r\n\r\n{}"
    async with Upstream([answer, OK]) as upstream, new_async_client() as http:
        await http.get(upstream.url)
        await http.get(upstream.url)
        assert b"cookie" not in upstream.requests[1][0].lower()
        assert len(http.cookies) == 0


@pytest.mark.asyncio
async def test_the_owned_client_goes_through_a_configured_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with Upstream([OK]) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        async with new_async_client() as http:
            answer = await http.get("http://upstream.invalid/v1/x")
    assert answer.json() == {"a": True}
    assert proxy.requests[0][0].startswith(b"GET http://upstream.invalid/v1/x HTTP/1.1")


@pytest.mark.asyncio
async def test_a_large_body_is_sent_whole() -> None:
    big = b"x" * (8 * 1024 * 1024)
    async with Upstream([OK]) as upstream, client() as http:
        assert (await http.post(upstream.url, content=big)).status_code == 200
    assert len(upstream.requests[0][1]) == len(big)


@pytest.mark.asyncio
async def test_headers_past_the_limit_are_a_protocol_error() -> None:
    huge = b"HTTP/1.1 200 OK\r\n" + b"x-filler: " + b"a" * (70 * 1024) + b"\r\n\r\n"

    async def send(writer: asyncio.StreamWriter) -> None:
        writer.write(huge)
        await writer.drain()

    async with Upstream([send]) as upstream, client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match="headers are too large"):
            await http.get(upstream.url)


@pytest.mark.asyncio
async def test_bytes_after_the_answer_retire_the_connection() -> None:
    # One request, two answers: the second must not be taken for the next request's.
    async with Upstream([OK + OK, OK]) as upstream, client() as http:
        first = await http.get(upstream.url)
        assert (first.json(), first.headers.get_list("content-type")) == (
            {"a": True},
            ["application/json"],
        )
        assert (await http.get(upstream.url)).json() == {"a": True}
    assert upstream.connections == 2


@pytest.mark.asyncio
async def test_connection_close_is_honoured() -> None:
    closing = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}"
    async with Upstream([closing, OK]) as upstream, client() as http:
        assert (await http.get(upstream.url)).json() == {}
        assert (await http.get(upstream.url)).json() == {"a": True}
    assert upstream.connections == 2
