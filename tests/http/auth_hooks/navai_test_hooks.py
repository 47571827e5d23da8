"""Hooks `NAVAI_AUTHORIZE` / `--authorize` load by name in the tests."""

from navai_core.exceptions import AuthorizationError


def only_alice(request) -> bool:
    """Allow the requests that say they are Alice."""
    if "x-user" not in request.headers:
        raise AuthorizationError("Say who you are.")
    return request.headers["x-user"] == "alice"


NOT_CALLABLE = 42
