"""Protection that needs no code: a shared bearer token, and hooks named by ``module:function``.

Both exist for ``navai serve``, which has no place for a Python ``authorize`` hook: the
token covers the common case (one frontend, one secret), and ``NAVAI_AUTHORIZE`` /
``--authorize`` load a hook from an importable module.
"""

from __future__ import annotations

import hmac
import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from navai_core.exceptions import InvalidOptionError

if TYPE_CHECKING:
    import httpx

    from navai_adapters._http._messages import NavaiRequest

__all__ = ["MIN_TOKEN_LENGTH", "AuthorizeHook", "bearer_token_matches", "load_authorize_hook"]

#: ``authorize(request)``: return ``True``/``None`` to allow, ``False`` to refuse (403), or
#: raise :class:`~navai_core.exceptions.AuthorizationError` (401 unless told otherwise).
#: Returning a string allows too, and names the caller: rate limits count per identity
#: then, instead of per client address.
#: On the Starlette side it may be ``async``; under WSGI it must be a plain function.
AuthorizeHook = Callable[["NavaiRequest"], bool | str | Awaitable[bool | str | None] | None]

#: A shorter shared token is too easy to guess to protect minting billed to your key.
MIN_TOKEN_LENGTH: Final = 16
_MISSING: Final = object()


def load_authorize_hook(spec: str, *, variable: str = "NAVAI_AUTHORIZE") -> AuthorizeHook:
    """Import the hook ``spec`` names, ``package.module:function`` (or ``:Class.method``).

    The object is returned as it is, not wrapped: whatever it returns (``True``/``None``,
    ``False``, an awaitable, or anything else the handler accepts) reaches the handler
    unchanged.

    Args:
        spec: ``module:attribute``, the attribute a dotted path inside the module.
        variable: The setting ``spec`` came from, for error messages.

    Raises:
        InvalidOptionError: The spec is malformed, the module cannot be imported, the
            attribute is missing, or it is not callable. The message says which.
    """
    module_name, colon, attribute = spec.strip().partition(":")
    if not colon or not module_name or not attribute:
        msg = f"{variable}={spec!r} must be 'module:function', such as 'myapp.auth:authorize'."
        raise InvalidOptionError(msg, option="authorize", variable=variable, value=spec)
    try:
        found: Any = importlib.import_module(module_name)
    except Exception as error:  # an import runs user code: anything can go wrong
        msg = (
            f"{variable}={spec!r}: cannot import {module_name!r} "
            f"({type(error).__name__}: {error}). It must be importable from the working "
            "directory or the environment's packages."
        )
        raise InvalidOptionError(msg, option="authorize", variable=variable, value=spec) from error
    for part in attribute.split("."):
        found = getattr(found, part, _MISSING)
        if found is _MISSING:
            msg = f"{variable}={spec!r}: {module_name!r} has no attribute {attribute!r}."
            raise InvalidOptionError(msg, option="authorize", variable=variable, value=spec)
    if not callable(found):
        msg = f"{variable}={spec!r}: {attribute!r} is not callable."
        raise InvalidOptionError(msg, option="authorize", variable=variable, value=spec)
    hook: AuthorizeHook = found
    return hook


def bearer_token_matches(headers: httpx.Headers, expected: bytes) -> bool:
    """Whether ``Authorization: Bearer <token>`` carries ``expected``, compared in constant time."""
    scheme, _, given = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False  # whether the header is there is no secret; the token is
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), expected)
