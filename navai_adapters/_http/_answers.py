"""The responses the routes give: built from values, no IO, no state."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final, Protocol

from navai_adapters._http._messages import (
    CALL_ID_HEADER,
    JSON_HEADERS,
    NO_STORE_HEADERS,
    SERVER_TOOLS_HEADER,
    NavaiRequest,
    NavaiResponse,
)
from navai_core._functions._result import EncodedResult, failure_body
from navai_core.exceptions import NavaiError, UnknownFunctionError

if TYPE_CHECKING:
    from navai_adapters._ratelimit import Decision
    from navai_core import RealtimeClientSecret, SynthesizedSpeech

__all__ = [
    "BAD_TOKEN",
    "HEALTHY",
    "REFUSED",
    "call_answer",
    "executed",
    "internal_error",
    "listing",
    "minted",
    "over_limit",
    "spoken",
    "stamped",
    "tool_failed",
]

logger = logging.getLogger("navai")

_SDP_HEADERS: Final = (("content-type", "application/sdp"), ("cache-control", "no-store"))

HEALTHY: Final = NavaiResponse.json(200, {"status": "ok"}, NO_STORE_HEADERS)
BAD_TOKEN: Final = NavaiResponse.json(
    401,
    {"error": "This request is not authorized. Send Authorization: Bearer <NAVAI_AUTH_TOKEN>."},
    (*JSON_HEADERS, ("www-authenticate", 'Bearer realm="navai"')),
)
#: The ``authorize`` hook said ``False``.
REFUSED: Final = NavaiResponse.error(403, "This request is not authorized.")


class _Listed(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def listing(items: Iterable[_Listed], warnings: Iterable[str]) -> dict[str, Any]:
    """The functions listing: the list route's body, and ``navai functions --json``."""
    return {"items": [item.to_dict() for item in items], "warnings": list(warnings)}


def minted(secret: RealtimeClientSecret) -> NavaiResponse:
    """A minted client secret."""
    return NavaiResponse.json(200, secret.to_dict(), NO_STORE_HEADERS)


def executed(result: EncodedResult) -> NavaiResponse:
    """A tool's result: its JSON goes into the body as it was encoded, once."""
    return NavaiResponse.json(
        200,
        {"ok": True, "function_name": result.name, "source": result.source, "result": result.json},
    )


def tool_failed(function_name: str, error: NavaiError) -> NavaiResponse:
    """A tool that could not run, or ran and failed, as the execute route's table says."""
    if isinstance(error, UnknownFunctionError):
        return NavaiResponse.error(
            404,
            "Unknown or disallowed function.",
            available_functions=error.available,
            details=error.details,
        )
    body = failure_body(error)
    if body is None:
        return NavaiResponse.from_error(error)
    name = getattr(error, "function_name", function_name)
    return NavaiResponse.json(error.status_code, {"ok": False, "function_name": name, **body})


def spoken(speech: SynthesizedSpeech, *, raw_audio: bool) -> NavaiResponse:
    """Synthesized speech: the audio itself, or base64 in JSON."""
    if raw_audio:
        return NavaiResponse(
            200, speech.audio, (("content-type", speech.mime_type), ("cache-control", "no-store"))
        )
    return NavaiResponse.json(200, speech.to_dict(), NO_STORE_HEADERS)


def call_answer(call_id: str, sdp: str, *, server_tools: bool) -> NavaiResponse:
    """A new call: OpenAI's SDP answer, with the call's id and who runs its tools."""
    tools = "on" if server_tools else "off"
    headers = (*_SDP_HEADERS, (CALL_ID_HEADER, call_id), (SERVER_TOOLS_HEADER, tools))
    return NavaiResponse(201, sdp.encode("utf-8"), headers)


def over_limit(decision: Decision) -> NavaiResponse:
    """The rate limit's own answer (429, or 503 when its storage failed closed)."""
    assert decision.status is not None
    assert decision.body is not None
    return NavaiResponse.json(decision.status, decision.body, (*JSON_HEADERS, *decision.headers))


def stamped(response: NavaiResponse, decision: Decision) -> NavaiResponse:
    """``response`` with the rate limit's headers."""
    if not decision.headers:
        return response
    return NavaiResponse(response.status, response.body, (*response.headers, *decision.headers))


def internal_error(request: NavaiRequest) -> NavaiResponse:
    """The 500 for what nobody expected; called from an ``except`` block."""
    # The traceback goes to the log, not the client.
    logger.error("Unexpected error serving %s %s", request.method, request.path, exc_info=True)  # noqa: LOG014
    return NavaiResponse.error(500, "Internal server error. The server log has the details.")
