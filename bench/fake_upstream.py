"""A fast fake of OpenAI's ``POST /v1/realtime/client_secrets``, for the benchmark only.

``tests/fake_openai.py`` is scriptable and records every request, which is what tests
need; a benchmark needs an upstream that costs as little CPU as possible, so that the
server under test is what is measured. This one is a raw ``asyncio.Protocol`` (on
uvloop when installed) that answers every request on any path with a fixed-shape
200 JSON secret, keeps connections alive, and records nothing.

Run: ``python bench/fake_upstream.py --port 8765`` (prints its base URL when ready).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import socket
import sys
import time

_HEAD_END = b"\r\n\r\n"
_counter = itertools.count(1)


def _answer() -> bytes:
    expires = int(time.time()) + 600
    body = b'{"value":"ek_bench_%d","expires_at":%d,"session":{"type":"realtime"}}' % (
        next(_counter),
        expires,
    )
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: keep-alive\r\n\r\n%s" % (len(body), body)
    )


class _Upstream(asyncio.Protocol):
    __slots__ = ("buffer", "need", "transport")

    def __init__(self) -> None:
        self.buffer = b""
        self.need = -1  # bytes of the current request still to receive, -1: in the head
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        out = []
        while True:
            if self.need < 0:
                end = buffer.find(_HEAD_END)
                if end < 0:
                    break
                head = buffer[:end].lower()
                start = head.find(b"content-length:")
                length = 0
                if start >= 0:
                    stop = head.find(b"\r\n", start)
                    length = int(head[start + 15 : stop if stop >= 0 else None])
                buffer = buffer[end + 4 :]
                self.need = length
            if len(buffer) < self.need:
                break
            buffer = buffer[self.need :]
            self.need = -1
            out.append(_answer())
        self.buffer = buffer
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


async def _serve(host: str, port: int, sock: socket.socket | None) -> None:
    loop = asyncio.get_running_loop()
    if sock is not None:
        server = await loop.create_server(_Upstream, sock=sock, backlog=2048)
    else:
        server = await loop.create_server(_Upstream, host, port, backlog=2048)
    bound = server.sockets[0].getsockname()[1]
    print(f"http://{host}:{bound}/v1", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--processes", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)"
    )
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        run = asyncio.run
    else:
        run = uvloop.run
    sock = None
    if args.processes > 1:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
        sock.listen(2048)
        for _ in range(args.processes - 1):
            if os.fork() == 0:
                break
    run(_serve(args.host, args.port, sock))
    sys.exit(0)


if __name__ == "__main__":
    main()
