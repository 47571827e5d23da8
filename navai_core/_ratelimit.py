"""Rate limits, the pure part: rate strings, caller keys, and what a limited answer says.

Nothing here counts anything or does IO: :mod:`navai_adapters._ratelimit` counts, with the
``limits`` library, in memory or in Redis. This module decides what ``10/minute;100/day``
means, who the caller is (an identity from the ``authorize`` hook, else the client
address, read from ``X-Forwarded-For`` only behind a trusted proxy), and which headers and
body a limited route answers with.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal

import attrs

from navai_core._config._env import split_names

__all__ = [
    "RATE_LIMIT_ENV",
    "Network",
    "Rate",
    "RateState",
    "caller_key",
    "client_address",
    "limit_headers",
    "parse_networks",
    "parse_rates",
    "too_many_requests",
]

#: Routes that can be limited, and the variable holding each one's rates. Limiting a new
#: route is one line here; the handler limits any route whose name has rates.
RATE_LIMIT_ENV: Final[Mapping[str, str]] = {
    "client_secret": "NAVAI_RATE_LIMIT_MINT",
    "functions_execute": "NAVAI_RATE_LIMIT_EXECUTE",
    "speech_synthesize": "NAVAI_RATE_LIMIT_SPEECH",
    "realtime_calls": "NAVAI_RATE_LIMIT_CALLS",
}

Granularity = Literal["second", "minute", "hour", "day", "month", "year"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The lengths the ``limits`` library gives its granularities (a month is 30 days).
_SECONDS: Final[dict[str, int]] = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "month": 30 * 86400,
    "year": 12 * 30 * 86400,
}
_RATE = re.compile(
    r"^\s*(\d+)\s*(?:/|\s+per\s+)\s*(\d+)?\s*(second|minute|hour|day|month|year)s?\s*$",
    re.IGNORECASE,
)
_EXAMPLE = "Use rates such as '10/minute' or '10/minute;100/day'."
_MAX_KEY_PART = 200


@attrs.frozen
class Rate:
    """One limit: ``amount`` requests per ``multiples`` ``granularity`` (``10/minute``).

    Attributes:
        amount: How many requests the window allows (at least 1).
        granularity: The window's unit.
        multiples: How many units the window lasts (``10/5 minutes``: 5).
    """

    amount: int
    granularity: Granularity
    multiples: int = 1

    def __attrs_post_init__(self) -> None:
        if self.amount < 1 or self.multiples < 1:
            msg = f"A rate needs whole numbers of at least 1. Received: {self}"
            raise ValueError(msg)

    @property
    def seconds(self) -> int:
        """The window's length in seconds."""
        return _SECONDS[self.granularity] * self.multiples

    def __str__(self) -> str:
        if self.multiples == 1:
            return f"{self.amount}/{self.granularity}"
        return f"{self.amount}/{self.multiples} {self.granularity}s"

    @property
    def policy(self) -> str:
        """The rate as one item of a ``RateLimit-Policy`` header: ``10;w=60``."""
        return f"{self.amount};w={self.seconds}"


def parse_rates(value: str | Rate | Iterable[str | Rate]) -> tuple[Rate, ...]:
    """Read rates from ``10/minute;100/day`` (``;`` or ``,`` between them), or take them as given.

    Each rate is ``COUNT/UNIT``, ``COUNT/N UNITs`` or ``COUNT per UNIT``, with a unit of
    second, minute, hour, day, month (30 days) or year. The shortest window comes first,
    so that a request refused by it does not count against the longer ones.

    Raises:
        ValueError: A rate cannot be read; the message quotes it.
    """
    if isinstance(value, Rate):
        items: list[object] = [value]
    elif isinstance(value, str):
        items = [item for item in re.split(r"[;,]", value) if item.strip()]
    else:
        items = list(value)
    rates: list[Rate] = []
    for item in items:
        if isinstance(item, Rate):
            rates.append(item)
            continue
        found = _RATE.match(item) if isinstance(item, str) else None
        if found is None:
            shown = item.strip() if isinstance(item, str) else item
            msg = f"{shown!r} is not a rate. {_EXAMPLE}"
            raise ValueError(msg)
        count, multiples, unit = found.groups()
        unit_name: Granularity = unit.lower()  # type: ignore[assignment]  # the regex's six
        rates.append(Rate(int(count), unit_name, int(multiples or 1)))
    return tuple(sorted(rates, key=lambda rate: (rate.seconds, rate.amount)))


def parse_networks(value: str | Iterable[str | Network]) -> tuple[Network, ...]:
    """Addresses and networks (``10.0.0.0/8``, ``127.0.0.1``, ``::1``), comma-separated or listed.

    Raises:
        ValueError: An item is not an IP address or network; the message quotes it.
    """
    items: list[str | Network] = list(split_names(value) if isinstance(value, str) else value)
    networks: list[Network] = []
    for item in items:
        if isinstance(item, ipaddress.IPv4Network | ipaddress.IPv6Network):
            networks.append(item)
            continue
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            msg = f"{text!r} is not an IP address or network, such as '10.0.0.0/8'."
            raise ValueError(msg) from None
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in trusted)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str | None:
    """The client's address: the peer's, or ``X-Forwarded-For``'s when the peer is trusted.

    ``X-Forwarded-For`` is believed only when the connection comes from a trusted proxy,
    and then read from the right (each proxy appends the address it saw): the first
    address that is not itself a trusted proxy is the client. Anything to its left was
    written by the client and proves nothing.

    Args:
        peer: The address of the connection's other end, as the server saw it.
        forwarded_for: The ``X-Forwarded-For`` header (all of them, comma-joined).
        trusted: The proxies whose ``X-Forwarded-For`` is believed; none by default.
    """
    if peer is None or not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if _ip(hop) is None:
            return peer  # garbage in the chain: stop believing it at that point
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _key_part(text: str) -> str:
    # Quoted, so that a `/` in an identity cannot run into the limiter's own separators;
    # hashed when long, so that a huge identity cannot make a huge key.
    if len(text) > _MAX_KEY_PART:
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return urllib.parse.quote(text, safe="@:.-_")


def caller_key(identity: object, address: str | None) -> str:
    """Who is counted: ``id:...`` for an identity the ``authorize`` hook returned, else ``ip:...``.

    Args:
        identity: What the hook returned; only a non-blank string is an identity.
        address: The client address (see :func:`client_address`).
    """
    if isinstance(identity, str) and identity.strip():
        return "id:" + _key_part(identity.strip())
    return "ip:" + _key_part(address or "unknown")


@attrs.frozen
class RateState:
    """Where one rate stands for one caller, after this request was counted (or refused).

    Attributes:
        rate: The rate.
        allowed: Whether this request fit in it.
        remaining: Requests left in the window.
        reset_at: When (epoch seconds) the window frees a request again.
    """

    rate: Rate
    allowed: bool
    remaining: int
    reset_at: float


def _seconds_until(moment: float, now: float) -> int:
    return max(0, math.ceil(moment - now))


def _binding(states: Sequence[RateState]) -> RateState:
    refused = [state for state in states if not state.allowed]
    if refused:
        return max(refused, key=lambda state: state.reset_at)
    return min(states, key=lambda state: (state.remaining, -state.reset_at))


def limit_headers(
    rates: Sequence[Rate], states: Sequence[RateState], now: float
) -> tuple[tuple[str, str], ...]:
    """The ``RateLimit-*`` headers (IETF draft, ``RateLimit-Reset`` in seconds from now).

    ``RateLimit-Limit``, ``-Remaining`` and ``-Reset`` describe the rate closest to being
    used up (the one that refused, when one did); ``RateLimit-Policy`` lists every rate
    of the route (``10;w=60, 100;w=86400``).

    Args:
        rates: The route's rates.
        states: Where the rates counted for this request stand (a prefix of ``rates``).
        now: The time, in epoch seconds.
    """
    state = _binding(states)
    reset = _seconds_until(state.reset_at, now)
    return (
        ("ratelimit-limit", str(state.rate.amount)),
        ("ratelimit-remaining", str(max(0, state.remaining))),
        ("ratelimit-reset", str(reset)),
        ("ratelimit-policy", ", ".join(rate.policy for rate in rates)),
    )


def too_many_requests(
    rates: Sequence[Rate], states: Sequence[RateState], now: float
) -> tuple[dict[str, object], tuple[tuple[str, str], ...]]:
    """The 429 answer's body and headers, ``Retry-After`` included.

    The body names the limit and says when to retry:
    ``{"error": "...", "limit": "10/minute", "retry_after": 42}``.
    """
    state = _binding(states)
    retry_after = max(1, _seconds_until(state.reset_at, now))
    body: dict[str, object] = {
        "error": f"Too many requests: the limit is {state.rate} on this route. "
        f"Retry in {retry_after} seconds.",
        "limit": str(state.rate),
        "retry_after": retry_after,
    }
    return body, (("retry-after", str(retry_after)), *limit_headers(rates, states, now))
