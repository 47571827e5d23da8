"""A call's result: its JSON encoding, made once, or the error the caller gets.

The function's return value is encoded where it ran (a worker thread, or the task that
awaited it), and that one encoding is what everyone receives: the HTTP layer puts it in
its response as it is (:class:`EncodedResult`), and ``execute`` decodes it into plain
JSON data. What the function raised becomes a :class:`Raised` outcome there, and the
caller's side turns it into the error it sees (:func:`finish`), masked if configured.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
import msgspec

from navai_core._functions._jsonready import ResultSizeError, UnsupportedTypeError, encode_json
from navai_core.exceptions import (
    FunctionExecutionError,
    FunctionTimeoutError,
    InvalidArgumentsError,
    ResultNotSerializableError,
    ResultTooLargeError,
    ToolError,
)

__all__ = [
    "MASKED_DETAILS",
    "EncodedResult",
    "Outcome",
    "Raised",
    "encode_result",
    "failure_body",
    "finish",
]

logger = logging.getLogger("navai.functions")

MASKED_DETAILS = "The function failed. See the server log for details."


@attrs.frozen
class EncodedResult:
    """A tool's result, encoded once, with the tool it came from.

    Attributes:
        name: The tool's canonical name (as listed; the caller may have sent another case).
        source: ``{relative path}#{qualified name}``.
        json: The result as JSON. msgspec writes it as it is when it sits inside a value
            being encoded (``{"result": encoded.json}``), so it is never decoded or
            encoded again on the way out.
    """

    name: str
    source: str
    json: msgspec.Raw = attrs.field(eq=False)

    def decode(self) -> Any:
        """The result as plain JSON data (dict, list, str, int, float, bool, None)."""
        return msgspec.json.decode(self.json)


@attrs.frozen
class Raised:
    """A function raised (``error``), or its result could not be made JSON (``serializing``)."""

    error: BaseException
    serializing: bool = False


Outcome = bytes | Raised  # what running a call gives: the encoded result, or what failed


def message(error: BaseException) -> str:
    """An exception's message, or its type's name; never raises (``__str__`` may).

    ``SystemExit(3)`` and its kind (not ``Exception``s) say ``SystemExit: 3``: their
    message alone would mean nothing to the caller.
    """
    try:
        text = str(error)
    except Exception:
        text = ""
    kind = type(error).__name__
    if text and not isinstance(error, Exception):
        return f"{kind}: {text}"
    return text or kind


def encode_result(value: Any, function_name: str, max_bytes: int) -> Outcome:
    """``value`` as JSON bytes, or the :class:`Raised` error for one that cannot be sent."""
    try:
        return encode_json(value, max_bytes)
    except ResultSizeError as exc:
        details = (
            f"Function {function_name!r} returned a result of {exc.size} bytes as JSON, over "
            f"the limit of {exc.limit} bytes. Return less (a page, a summary), or raise "
            "NAVAI_MAX_RESULT_BYTES."
        )
        too_large = ResultTooLargeError(function_name, details, size=exc.size, limit=exc.limit)
        return Raised(too_large, serializing=True)
    except UnsupportedTypeError as exc:
        reason = str(exc)
    except Exception as exc:  # a dict key JSON cannot have, a cycle, an object's own error
        reason = message(exc)
    details = (
        f"Function {function_name!r} returned a value that cannot be sent as JSON: {reason}. "
        "Return dicts, lists, str, int, float, bool, None, or attrs/dataclass instances."
    )
    error = ResultNotSerializableError(function_name, details)
    error.message, error.args = details, (details,)  # the whole sentence, not "failed: ..."
    return Raised(error, serializing=True)


def finish(outcome: Outcome, name: str, source: str, *, mask_errors: bool, max_bytes: int) -> bytes:
    """The encoded result, or raise the error the caller sees (logged here, once).

    Raises:
        ResultNotSerializableError: The result cannot be made JSON.
        ResultTooLargeError: Its JSON is larger than ``max_bytes``.
        FunctionExecutionError: The function raised (its message, or a generic one when
            ``mask_errors``; a :class:`ToolError`'s message is never masked).
    """
    if not isinstance(outcome, Raised):
        return outcome
    error = outcome.error
    if outcome.serializing:
        logger.error("%s", error)
        raise error
    if isinstance(error, ToolError):
        details = message(error)
        logger.info("Function %r failed: %s", name, details)
    else:
        logger.error(
            "Function %r (%s) raised %s",
            name,
            source,
            type(error).__name__,
            exc_info=error,
        )
        details = MASKED_DETAILS if mask_errors else message(error)
    if len(details) > max_bytes:  # a message can be as large as any result
        details = details[:max_bytes] + "... (cut)"
    raise FunctionExecutionError(name, details) from error


def failure_body(error: Exception) -> dict[str, str] | None:
    """The contract's ``error``/``details`` of a call that ran and failed, else ``None``.

    One table for every place that answers a failed call: the execute route and the
    sideband's ``function_call_output``.
    """
    if isinstance(error, FunctionExecutionError):
        return {"error": "Function execution failed.", "details": error.details}
    if isinstance(error, InvalidArgumentsError):
        return {"error": "Invalid arguments.", "details": error.message}
    if isinstance(error, FunctionTimeoutError):
        return {"error": "Function timed out.", "details": error.message}
    return None
