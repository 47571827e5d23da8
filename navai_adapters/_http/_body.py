"""How a request body is read: what its headers allow, and the size limit while reading.

Decided here once, for every adapter: an adapter asks :meth:`BodyLimit.frame` (through
the handler's ``opening``) what the headers say, reads bytes the way its framework
gives them, and hands each chunk to a :class:`BodyBuffer`, which refuses the body as
soon as it passes the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import Final

import attrs

from navai_adapters._http._messages import BodyTooLargeError, NavaiResponse

__all__ = ["NO_BODY", "STREAMED", "BodyBuffer", "BodyLimit", "Framing"]


@attrs.frozen
class Framing:
    """What the headers say of the body, so how the adapter reads it (or does not).

    Attributes:
        length: The declared ``Content-Length``, within the limit; ``None`` when none
            was sent.
        bodiless: Neither a length nor a stream: there is no body to read.
        refused: The headers alone rule the body out (400, 413): send this without
            reading the body, and close the connection, which still holds it.
    """

    length: int | None = None
    bodiless: bool = False
    refused: NavaiResponse | None = None


#: No body at all (HTTP/1 without ``Content-Length`` or ``Transfer-Encoding``).
NO_BODY: Final = Framing(bodiless=True)
#: A body of no declared length (chunked, HTTP/2): read it to its end.
STREAMED: Final = Framing()


class BodyBuffer:
    """The chunks of one body, refused as soon as they pass the limit."""

    __slots__ = ("_limit", "_parts", "_size")

    def __init__(self, limit: BodyLimit) -> None:
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        """Keep ``chunk``.

        Raises:
            BodyTooLargeError: The body is now over the limit.
        """
        self._size += len(chunk)
        if self._size > self._limit.max_bytes:
            raise BodyTooLargeError(self._limit.too_large().body.decode())
        self._parts.append(chunk)

    def body(self) -> bytes:
        """The body so far, joined."""
        return b"".join(self._parts)


@attrs.frozen
class BodyLimit:
    """The largest body a request may have, and the answers that enforce it."""

    max_bytes: int

    def too_large(self) -> NavaiResponse:
        """The 413 answer."""
        return NavaiResponse.error(
            413,
            f"Request body is larger than {self.max_bytes} bytes "
            "(raise NAVAI_MAX_BODY_BYTES to allow more).",
        )

    def frame(self, content_length: str | None, *, streamed: bool) -> Framing:
        """How to read a body of ``Content-Length`` (as sent), or one that is ``streamed``."""
        if content_length is None:
            return STREAMED if streamed else NO_BODY
        try:
            length = int(content_length)
        except ValueError:
            length = -1
        if length < 0:
            refused = NavaiResponse.error(400, "Content-Length must be a whole number.")
            return Framing(refused=refused)
        if length > self.max_bytes:
            return Framing(refused=self.too_large())
        return Framing(length)

    def read(self, chunks: Iterable[bytes]) -> bytes:
        """Join ``chunks`` (blocking), stopping as soon as they pass the limit.

        Raises:
            BodyTooLargeError: The body is over the limit.
        """
        buffer = BodyBuffer(self)
        for chunk in chunks:
            buffer.add(chunk)
        return buffer.body()

    async def aread(self, chunks: AsyncIterable[bytes]) -> bytes:
        """Join ``chunks`` as they arrive: :meth:`read` for async iterables."""
        buffer = BodyBuffer(self)
        async for chunk in chunks:
            buffer.add(chunk)
        return buffer.body()
