"""Weather tools: deterministic fake data, so the example works offline."""

from __future__ import annotations

import hashlib
from typing import Literal

from navai_core import navai_function
from navai_core.exceptions import ToolError

_CONDITIONS = ("sunny", "cloudy", "rainy", "windy", "foggy")


def _seed(city: str) -> int:
    # A stable number per city (hash() is salted per process, sha256 is not).
    return int(hashlib.sha256(city.strip().lower().encode()).hexdigest()[:8], 16)


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, object]:
    """Get the current weather for a city.

    Args:
        city: The city name, such as "Madrid" or "San Francisco".
        unit: The temperature unit to answer in.
    """
    seed = _seed(city)
    celsius = seed % 35 - 5
    temperature = celsius if unit == "celsius" else round(celsius * 9 / 5 + 32)
    return {
        "city": city.strip(),
        "temperature": temperature,
        "unit": unit,
        "conditions": _CONDITIONS[seed % len(_CONDITIONS)],
        "humidity": 30 + seed % 60,
    }


@navai_function(name="get_forecast", timeout=5)
def forecast(city: str, days: int = 3) -> list[dict[str, object]]:
    """Get a daily forecast for the next few days.

    Args:
        city: The city name.
        days: How many days, from 1 to 7.
    """
    if not 1 <= days <= 7:
        msg = "days must be between 1 and 7."
        raise ToolError(msg)
    seed = _seed(city)
    return [
        {
            "day": day + 1,
            "high": seed % 30 + day,
            "low": seed % 30 + day - 8,
            "conditions": _CONDITIONS[(seed + day) % len(_CONDITIONS)],
        }
        for day in range(days)
    ]
