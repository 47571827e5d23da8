"""Time tools: an async function, and one that reads the request through FunctionContext."""

from __future__ import annotations

import asyncio
import datetime as dt

from navai_core import FunctionContext
from navai_core.exceptions import ToolError

# A fixed clock and a small offset table keep the answers the same on every run and
# every machine (no network, no tz database needed).
_NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
_OFFSETS = {
    "UTC": 0,
    "Europe/London": 1,
    "Europe/Madrid": 2,
    "America/New_York": -4,
    "America/Bogota": -5,
    "Asia/Tokyo": 9,
}


async def get_time(timezone: str = "UTC") -> dict[str, str]:
    """Tell the time in a timezone.

    Args:
        timezone: A timezone name, such as "Europe/Madrid" or "Asia/Tokyo".
    """
    await asyncio.sleep(0)  # stands in for real async work (a database, an API)
    if timezone not in _OFFSETS:
        msg = f"Unknown timezone {timezone!r}. Known: {', '.join(sorted(_OFFSETS))}."
        raise ToolError(msg)
    local = _NOW.astimezone(dt.timezone(dt.timedelta(hours=_OFFSETS[timezone])))
    return {"timezone": timezone, "time": local.isoformat(), "weekday": local.strftime("%A")}


def greet_caller(context: FunctionContext, name: str = "there") -> str:
    """Greet the caller in the language their browser asked for.

    The context comes from the server (the request's headers), never from the model,
    so it does not appear in the tool's parameters.

    Args:
        context: The call's context, filled in by NAVAI.
        name: Who to greet.
    """
    language = context.headers.get("accept-language", "en")[:2].lower()
    greeting = {"es": "Hola", "fr": "Bonjour", "de": "Hallo"}.get(language, "Hello")
    return f"{greeting}, {name}!"
