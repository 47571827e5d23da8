"""Every error NAVAI raises on purpose.

Each class carries ``status_code``: the HTTP status the HTTP layer answers with.
The adapters map errors by that hint alone (as h11's ``error_status_hint``), so a
new error needs no table of special cases anywhere else. Classes also subclass the
standard library exception that means the same thing (``ValueError``,
``LookupError``, ``TimeoutError``, ``PermissionError``), so plain ``except``
clauses keep working.

Messages say what was wrong and how to fix it, and never contain an API key.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from navai_core._redact import redact_keys as _redact_keys

__all__ = [
    "AuthorizationError",
    "BackendError",
    "BackendFunctionError",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "FunctionExecutionError",
    "FunctionTimeoutError",
    "InvalidArgumentsError",
    "InvalidBackendResponseError",
    "InvalidOptionError",
    "InvalidRequestError",
    "MissingApiKeyError",
    "NavaiError",
    "PolicyViolationError",
    "RequestApiKeyDisabledError",
    "ResultNotSerializableError",
    "ResultTooLargeError",
    "SidebandLimitError",
    "SpeechUnavailableError",
    "ToolError",
    "UnknownBackendFunctionError",
    "UnknownFunctionError",
    "UpstreamError",
    "UpstreamTimeoutError",
]


class NavaiError(Exception):
    """Base class of every error NAVAI raises on purpose.

    Attributes:
        status_code: The HTTP status an HTTP layer should answer with.
    """

    status_code: int = 500
    #: How to fix it, for the person who can (an operator, a developer); ``None`` when the
    #: message says it all. HTTP answers carry it as an extra ``hint`` key.
    hint: str | None = None

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code

    def __str__(self) -> str:
        return self.message


# --- configuration and requests ----------------------------------------------------------


class InvalidOptionError(NavaiError, ValueError):
    """An option (or the environment variable behind it) has a value NAVAI cannot use.

    Raised when options are built, never later, so a misconfigured server fails at start.

    Attributes:
        option: The option's name (``client_secret_ttl_seconds``).
        variable: The environment variable it came from, when it came from one.
        value: The offending value, as given.
    """

    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        option: str | None = None,
        variable: str | None = None,
        value: object = None,
    ) -> None:
        super().__init__(message)
        self.option = option
        self.variable = variable
        self.value = value


class InvalidRequestError(NavaiError, ValueError):
    """A request to NAVAI is malformed: wrong JSON, a field of the wrong type, too large."""

    status_code = 400


class AuthorizationError(NavaiError, PermissionError):
    """Raise from an ``authorize`` hook to refuse a request (401 unless told otherwise).

    Example: ``raise AuthorizationError("Send a valid session cookie.", status_code=401)``.
    A hook that returns ``False`` gets a 403 with a generic message instead.
    """

    status_code = 401


class PolicyViolationError(NavaiError, PermissionError):
    """A request asks for something the server's policy does not allow (a model, a voice)."""

    status_code = 403


# --- minting -----------------------------------------------------------------------------


class MissingApiKeyError(NavaiError, PermissionError):
    """Neither the server nor (where allowed) the request provides an OpenAI API key."""

    status_code = 401
    # The contract fixes the message; the variable a server operator sets goes here.
    hint = "Set OPENAI_API_KEY in the server's environment (or openai_api_key in code)."


class RequestApiKeyDisabledError(NavaiError, PermissionError):
    """The request sent ``apiKey`` but the server does not accept keys from requests."""

    status_code = 403


class UpstreamError(NavaiError):
    """OpenAI answered with an error, broken JSON, or could not be reached.

    ``status_code`` keeps an upstream 4xx as is and turns everything else into 502.

    Attributes:
        upstream_status: The status OpenAI answered with, or ``None`` when it did not answer.
    """

    status_code = 502

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.upstream_status = upstream_status


class UpstreamTimeoutError(UpstreamError, TimeoutError):
    """OpenAI did not answer within ``openai_timeout_seconds`` (retries included)."""

    status_code = 504


class SidebandLimitError(NavaiError):
    """Every server-side tools slot is taken (``max_sidebands``): the call is refused (503).

    Raised before OpenAI is asked, so no call is created that the server could not serve.
    """

    status_code = 503


# --- speech ------------------------------------------------------------------------------


class SpeechUnavailableError(NavaiError, LookupError):
    """Speech synthesis was asked for, but this server's ``tts_provider`` is not ElevenLabs.

    404: the route is off. The message says how to turn it on.
    """

    status_code = 404

    def __init__(
        self,
        message: str = (
            "Speech synthesis is off on this server: it needs NAVAI_TTS_PROVIDER=elevenlabs "
            "(with ELEVENLABS_API_KEY and ELEVENLABS_VOICE_ID), or tts_provider='elevenlabs' "
            "in code."
        ),
    ) -> None:
        super().__init__(message)


# --- backend functions -------------------------------------------------------------------


class UnknownFunctionError(NavaiError, LookupError):
    """No function of that name is in the registry.

    Attributes:
        function_name: The name that was asked for.
        available: The names that are in the registry.
    """

    status_code = 404

    def __init__(self, function_name: str, available: Sequence[str]) -> None:
        super().__init__("Unknown or disallowed function.")
        self.function_name = function_name
        self.available = list(available)

    @property
    def suggestion(self) -> str | None:
        """The available name closest to the one asked for (``dobule`` -> ``double``)."""
        asked = self.function_name.strip().lower()
        if not asked or len(asked) > _MAX_SUGGESTED_LENGTH:
            return None
        close = difflib.get_close_matches(asked, self.available, n=1, cutoff=0.6)
        return close[0] if close else None

    @property
    def details(self) -> str:
        """The message for a person: which name, and the closest one if any."""
        shown = self.function_name.strip()
        if len(shown) > _MAX_SUGGESTED_LENGTH:
            shown = shown[:_MAX_SUGGESTED_LENGTH] + "..."
        # The caller's own input, but a key pasted by mistake is not sent back.
        text = f"No function named {_redact_keys(shown)!r}."
        if (suggestion := self.suggestion) is not None:
            text += f" Did you mean {suggestion!r}?"
        elif not self.available:
            text += " No functions are loaded."
        return text


_MAX_SUGGESTED_LENGTH = 100  # longer names are no typo of a tool's name


class InvalidArgumentsError(NavaiError, ValueError):
    """The payload does not fit the function's parameters.

    Attributes:
        function_name: The function that was called.
        parameter: The parameter at fault (a path such as ``items[0].id``), if one is.
        reason: Why the value was refused.
    """

    status_code = 400

    def __init__(self, function_name: str, reason: str, *, parameter: str | None = None) -> None:
        where = f"parameter {parameter!r}: " if parameter else ""
        super().__init__(f"Invalid arguments for {function_name!r}: {where}{reason}")
        self.function_name = function_name
        self.parameter = parameter
        self.reason = reason


class ToolError(NavaiError):
    """Raise this from a backend function to fail with a message meant for the caller.

    Its message is always sent back as ``details``, even when the server masks the
    messages of other exceptions.
    """

    status_code = 200


class FunctionExecutionError(NavaiError):
    """A backend function raised. Over HTTP this is ``200`` with ``ok: false``.

    Attributes:
        function_name: The function that failed.
        details: The message sent back to the caller (masked when the server says so).
    """

    status_code = 200

    def __init__(self, function_name: str, details: str) -> None:
        super().__init__(f"Function {function_name!r} failed: {details}")
        self.function_name = function_name
        self.details = details


class ResultNotSerializableError(FunctionExecutionError, TypeError):
    """A backend function returned something that cannot be turned into JSON."""


class ResultTooLargeError(FunctionExecutionError, ValueError):
    """A backend function's result is larger, as JSON, than the registry allows.

    The bound (``max_result_bytes``, ``NAVAI_MAX_RESULT_BYTES``) keeps one function from
    making the server hold and send an answer of any size. Over HTTP this is ``200``
    with ``ok: false``, like any other failed call.

    Attributes:
        size: The result's size as JSON, in bytes.
        limit: The most bytes a result may have.
    """

    def __init__(self, function_name: str, details: str, *, size: int, limit: int) -> None:
        super().__init__(function_name, details)
        self.message = details
        self.args = (details,)
        self.size = size
        self.limit = limit


class FunctionTimeoutError(NavaiError, TimeoutError):
    """A backend function did not finish within its timeout.

    Attributes:
        function_name: The function that timed out.
        timeout_seconds: The timeout it had.
    """

    status_code = 504

    def __init__(self, function_name: str, timeout_seconds: float) -> None:
        super().__init__(
            f"Function {function_name!r} did not finish within {timeout_seconds:g} seconds. "
            "Make it faster, or raise its timeout with @navai_function(timeout=...) "
            "or NAVAI_FUNCTION_TIMEOUT."
        )
        self.function_name = function_name
        self.timeout_seconds = timeout_seconds


# --- the backend client (talking to a running NAVAI backend) ----------------------------


class BackendError(NavaiError):
    """A NAVAI backend answered with an error, or could not be asked.

    Raised by :class:`~navai_core.NavaiBackendClient` and its async twin. ``str(error)``
    is what the original clients throw: the answer's ``details``, else its ``error``,
    else its text, else ``HTTP {status}``.

    Attributes:
        status_code: The backend's HTTP status (``502`` when it could not be reached,
            ``504`` when it did not answer in time).
        error: The answer's ``error`` field, when it sent one.
        details: The answer's ``details`` field, when it sent one.
        text: The answer's body as text (cut to a few hundred characters), if any.
    """

    status_code = 502

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error: str | None = None,
        details: str | None = None,
        text: str = "",
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.error = error
        self.details = details
        self.text = text


class BackendFunctionError(BackendError):
    """A backend function was called and failed: the answer says ``ok: false``.

    The status tells the cases apart, as the server's table does: ``200`` the function
    raised, ``400`` the arguments were refused, ``504`` it timed out.

    Attributes:
        function_name: The function the backend ran (or was asked for).
    """

    status_code = 200

    def __init__(
        self,
        message: str,
        *,
        function_name: str,
        status_code: int | None = None,
        error: str | None = None,
        details: str | None = None,
        text: str = "",
    ) -> None:
        super().__init__(message, status_code=status_code, error=error, details=details, text=text)
        self.function_name = function_name


class UnknownBackendFunctionError(BackendError, LookupError):
    """The backend has no function of that name (``404``).

    Attributes:
        function_name: The name that was asked for.
        available: The names the backend offers instead.
    """

    status_code = 404

    def __init__(
        self,
        message: str,
        *,
        function_name: str,
        available: Sequence[str],
        error: str | None = None,
        text: str = "",
    ) -> None:
        super().__init__(message, status_code=404, error=error, text=text)
        self.function_name = function_name
        self.available = list(available)


class InvalidBackendResponseError(BackendError, ValueError):
    """The backend answered success with a body that is not what the route returns."""


class BackendUnavailableError(BackendError, ConnectionError):
    """The backend could not be reached, or dropped the connection without answering."""


class BackendTimeoutError(BackendError, TimeoutError):
    """The backend did not answer within the client's timeout."""

    status_code = 504
