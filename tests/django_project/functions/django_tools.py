"""Tools that need Django's request: the signed-in user and the session."""

from navai_core import FunctionContext


def current_user(context: FunctionContext) -> dict:
    """Who is signed in, as Django's auth middleware says."""
    request = context.request
    return {
        "user": request.user.username,
        "type": type(request).__name__,
        "session": bool(request.session.session_key),
    }


def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b
