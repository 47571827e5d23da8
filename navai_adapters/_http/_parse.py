"""What a request asks for, read from its body and headers: pure, raising the 4xx it earns."""

from __future__ import annotations

from typing import Any, Final

import attrs
import httpx
import msgspec

from navai_adapters._http._messages import NavaiRequest, NavaiResponse, UnsupportedMediaTypeError
from navai_core import CreateClientSecretRequest
from navai_core._upstream._calls import validate_offer
from navai_core.exceptions import InvalidRequestError

__all__ = ["CallOffer", "call_offer", "execute_fields", "json_object", "wants_raw_audio"]

_decode: Final = msgspec.json.Decoder().decode


@attrs.frozen
class CallOffer:
    """A call asked for: the SDP offer, the session's fields, the headers for its sideband."""

    sdp: str
    request: CreateClientSecretRequest
    headers: httpx.Headers


def _media_type(request: NavaiRequest) -> str:
    content_type: str = request.headers.get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower()


def json_object(request: NavaiRequest) -> dict[str, Any]:
    """The body as a JSON object; no body at all is an empty one.

    Raises:
        UnsupportedMediaTypeError: A body that does not say it is JSON (415).
        InvalidRequestError: A body that is not a JSON object (400).
    """
    body = request.body
    if not body:  # no body at all is an empty object, as Express's body-parser reads it
        return {}
    # A body must say it is JSON: that forces a CORS preflight on cross-site posts
    # (a form, a beacon or an untyped blob cannot send application/json).
    media_type = _media_type(request)
    if media_type != "application/json" and not media_type.endswith("+json"):
        given = repr(media_type) if media_type else "missing"
        msg = f"Content-Type must be application/json, not {given}."
        raise UnsupportedMediaTypeError(msg)
    try:
        data = _decode(body)
    except msgspec.DecodeError:
        msg = "Request body is not valid JSON. Send a JSON object."
        raise InvalidRequestError(msg) from None
    except RecursionError:
        msg = "Request body is JSON nested too deeply. Send a flatter JSON object."
        raise InvalidRequestError(msg) from None
    if not isinstance(data, dict):
        msg = "Request body must be a JSON object."
        raise InvalidRequestError(msg)
    return data


def call_offer(request: NavaiRequest, max_sdp_bytes: int) -> CallOffer:
    """The offer and the session asked for: raw ``application/sdp``, or JSON.

    Raises:
        InvalidRequestError: No offer, or one that is not SDP.
    """
    if _media_type(request) == "application/sdp":
        try:
            sdp: object = request.body.decode("utf-8")
        except UnicodeDecodeError:
            msg = "The SDP offer must be UTF-8 text."
            raise InvalidRequestError(msg) from None
        fields: dict[str, Any] = {}
    else:
        fields = json_object(request)
        sdp = fields.pop("sdp", None)
        if sdp is None:
            msg = 'sdp is required: send the offer as application/sdp, or JSON {"sdp": ...}.'
            raise InvalidRequestError(msg)
        fields.pop("apiKey", None)  # a call always goes out with the server's key
    offer = validate_offer(sdp, max_sdp_bytes)
    return CallOffer(offer, CreateClientSecretRequest.from_wire(fields), request.headers)


def execute_fields(data: dict[str, Any]) -> tuple[str, dict[str, Any] | None] | NavaiResponse:
    """The tool to run (its name trimmed) and its payload, or the 400 for a body without them."""
    name = data.get("function_name")
    if name is not None and not isinstance(name, str):
        # The contract's message, which clients match; the detail says what is wrong.
        return NavaiResponse.error(
            400,
            "function_name is required.",
            details=f"function_name must be a string, not {_json_type(name)}.",
        )
    if name is None or not name.strip():
        return NavaiResponse.error(400, "function_name is required.")
    payload = data.get("payload")
    if payload is not None and not isinstance(payload, dict):
        return NavaiResponse.error(400, "payload must be a JSON object or null.")
    return name.strip(), payload


def wants_raw_audio(accept: str | None) -> bool:
    """Whether ``Accept`` asks for audio and not JSON (``audio/mpeg``, ``audio/*``).

    The original frontend sends no ``Accept``: it gets base64 in JSON, as from the original.
    """
    if not accept:
        return False
    ranges = [part.split(";", 1)[0].strip().lower() for part in accept.split(",")]
    return any(item.startswith("audio/") for item in ranges) and not any(
        item in ("application/json", "application/*") for item in ranges
    )


def _json_type(value: object) -> str:
    """What JSON calls ``value``'s type, with an article, for error details."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "an array" if isinstance(value, list) else "an object"
