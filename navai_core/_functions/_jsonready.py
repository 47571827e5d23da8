"""Make values JSON-ready: exactly what a client will receive, or a clear refusal."""

from __future__ import annotations

from typing import Any, NoReturn

import msgspec

__all__ = ["UnsupportedTypeError", "to_json"]


class UnsupportedTypeError(TypeError):
    """A value holds an object of a type JSON has no form for.

    Attributes:
        kind: The offending type.
    """

    def __init__(self, kind: type) -> None:
        super().__init__(f"objects of type {kind.__qualname__!r} are not supported")
        self.kind = kind


def _refuse(obj: object) -> NoReturn:
    raise UnsupportedTypeError(type(obj))


def to_json(value: Any) -> Any:
    """Turn ``value`` into plain JSON data (dict, list, str, int, float, bool, None).

    A round trip through msgspec's JSON encoder, rather than ``msgspec.to_builtins``:
    the encoder handles attrs classes, dataclasses, enums, datetimes, UUIDs, decimals,
    sets and tuples alike, and the decoded result is exactly what goes over the wire
    (tuples become lists, number keys become strings, NaN becomes ``null``), so a
    Python caller and an HTTP client see the same thing.

    Raises:
        UnsupportedTypeError: Something in ``value`` has no JSON form (names the type).
        TypeError: Another encoding problem (a dict key that is not str-like).
        ValueError: Another encoding problem.
        OverflowError: An integer too large for JSON numbers as msgspec encodes them.
        RecursionError: ``value`` contains itself.
    """
    return msgspec.json.decode(msgspec.json.encode(value, enc_hook=_refuse))
