"""Make values JSON-ready: exactly what a client will receive, or a clear refusal."""

from __future__ import annotations

from typing import Any, NoReturn

import msgspec

__all__ = ["ResultSizeError", "UnsupportedTypeError", "encode_json", "to_json"]


class UnsupportedTypeError(TypeError):
    """A value holds an object of a type JSON has no form for.

    Attributes:
        kind: The offending type.
    """

    def __init__(self, kind: type) -> None:
        super().__init__(f"objects of type {kind.__qualname__!r} are not supported")
        self.kind = kind


class ResultSizeError(ValueError):
    """A value's JSON form is larger than allowed.

    Attributes:
        size: Its size as JSON, in bytes.
        limit: The most bytes allowed.
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes as JSON, over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


def _refuse(obj: object) -> NoReturn:
    raise UnsupportedTypeError(type(obj))


def encode_json(value: Any, max_bytes: int | None = None) -> bytes:
    """Encode ``value`` as JSON, exactly the bytes a client will receive.

    msgspec's encoder handles attrs classes, dataclasses, enums, datetimes, UUIDs,
    decimals, sets and tuples alike (tuples become lists, number keys become strings,
    NaN becomes ``null``), so a Python caller and an HTTP client see the same thing.

    Args:
        value: What a function returned.
        max_bytes: The most bytes its JSON form may have; ``None`` for no bound.

    Raises:
        ResultSizeError: The JSON form is larger than ``max_bytes``.
        UnsupportedTypeError: Something in ``value`` has no JSON form (names the type).
        TypeError: Another encoding problem (a dict key that is not str-like).
        ValueError: Another encoding problem.
        OverflowError: An integer too large for JSON numbers as msgspec encodes them.
        RecursionError: ``value`` contains itself.
    """
    encoded = msgspec.json.encode(value, enc_hook=_refuse)
    if max_bytes is not None and len(encoded) > max_bytes:
        raise ResultSizeError(len(encoded), max_bytes)
    return encoded


def to_json(value: Any, max_bytes: int | None = None) -> Any:
    """Turn ``value`` into plain JSON data (dict, list, str, int, float, bool, None).

    A round trip through :func:`encode_json` rather than ``msgspec.to_builtins``: the
    decoded result is exactly what goes over the wire. Raises what
    :func:`encode_json` raises.
    """
    return msgspec.json.decode(encode_json(value, max_bytes))
