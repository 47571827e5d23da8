"""Rate limits, the counting part: the ``limits`` library, in memory or in Redis.

:class:`RouteLimiter` counts each request of a limited route against the caller's rates
(a moving window per rate) and says whether it may go on, with the ``RateLimit-*``
headers to send either way. ``hit`` uses ``limits``' sync API (WSGI), ``ahit`` its async
API (ASGI); both share the pure parts in :mod:`navai_core._ratelimit`.

When the storage fails (Redis down, slow, unreachable), the request is let through
(fail open, the default: a voice app keeps working while Redis is repaired) or refused
with 503 (fail closed, ``NAVAI_RATE_LIMIT_FAIL_OPEN=false``). Either way the failure is
logged (at most every few seconds) and never takes more than the storage timeout.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from navai_core._ratelimit import (
    RATE_LIMIT_ENV,
    Rate,
    RateState,
    limit_headers,
    too_many_requests,
)
from navai_core.exceptions import InvalidOptionError

if TYPE_CHECKING:
    import limits
    import limits.aio.strategies
    import limits.strategies

__all__ = ["Decision", "RouteLimiter", "redacted_url"]

logger = logging.getLogger("navai")

#: Seconds a Redis connect or command may take before the request goes on without it.
DEFAULT_STORAGE_TIMEOUT: Final = 0.5
_LOG_EVERY_SECONDS: Final = 10.0
_UNAVAILABLE: Final = (
    "Rate limiting is unavailable, so this route refuses requests for now. Retry shortly."
)
_REDIS_SCHEMES: Final = frozenset({"redis", "rediss", "redis+unix"})
STORAGE_SCHEMES: Final = frozenset({"memory", *_REDIS_SCHEMES})


def redacted_url(url: str) -> str:
    """``url`` without its password, for ``repr`` and messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@attrs.frozen
class Decision:
    """What the limiter says about one request.

    Attributes:
        status: ``None`` to go on; else the status to answer with (429, or 503 when the
            storage failed and the limiter fails closed).
        body: The error body when refused.
        headers: Headers for the answer: ``RateLimit-*`` (and ``Retry-After`` when refused).
    """

    status: int | None
    body: dict[str, object] | None = None
    headers: tuple[tuple[str, str], ...] = ()


_PASS: Final = Decision(None)


def _require(module: str, why: str, extra: str) -> None:
    try:
        __import__(module)
    except ImportError:
        msg = f"{why} the {module!r} package: pip install 'navai[{extra}]'."
        raise InvalidOptionError(msg, option="rate_limits", value=module) from None


def _items(rates: tuple[Rate, ...]) -> tuple[limits.RateLimitItem, ...]:
    import limits  # noqa: PLC0415 - an optional extra, imported once limits are configured

    kinds = limits.limits.GRANULARITIES
    return tuple(kinds[rate.granularity](rate.amount, rate.multiples) for rate in rates)


def _state(rate: Rate, allowed: bool, remaining: int, reset_at: float) -> RateState:
    # limits counts an entry exactly one window old as still inside when it refuses, and
    # as outside in its stats: a refused request has nothing left, whatever they say.
    return RateState(rate, allowed, remaining if allowed else 0, reset_at)


class RouteLimiter:
    """Counts requests per route and caller against the configured rates.

    Args:
        rates: Each limited route's rates, shortest window first.
        storage: ``memory://`` (this process only) or a Redis URL shared by every process.
        fail_open: What a storage failure means: let the request through (``True``) or
            refuse it with 503 (``False``).
        storage_timeout: Seconds a Redis connect or command may take; a ``socket_timeout``
            or ``socket_connect_timeout`` in the URL's query wins.
        clock: The time, in epoch seconds (tests pass a fake one).

    Raises:
        InvalidOptionError: The ``limits`` library (or ``redis``, for a Redis URL) is not
            installed.
    """

    def __init__(
        self,
        rates: Mapping[str, tuple[Rate, ...]],
        storage: str = "memory://",
        *,
        fail_open: bool = True,
        storage_timeout: float = DEFAULT_STORAGE_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        names = ", ".join(RATE_LIMIT_ENV.get(route, route) for route in rates)
        _require("limits", f"Rate limits ({names}) need", "ratelimit")
        scheme = urllib.parse.urlsplit(storage).scheme
        if scheme in _REDIS_SCHEMES:
            _require("redis", "A Redis storage (NAVAI_RATE_LIMIT_STORAGE) needs", "ratelimit")
        self.rates = dict(rates)
        self.storage = storage
        self.fail_open = fail_open
        self.storage_timeout = storage_timeout
        self._clock = clock
        self._items = {route: _items(route_rates) for route, route_rates in self.rates.items()}
        self._redis = scheme in _REDIS_SCHEMES
        self._sync: limits.strategies.MovingWindowRateLimiter | None = None
        self._async: tuple[object, limits.aio.strategies.MovingWindowRateLimiter] | None = None
        # limits' in-memory store is not safe against threads racing on one key.
        self._memory_lock = threading.Lock()
        self._creating = threading.Lock()
        self._logged_at = -_LOG_EVERY_SECONDS

    def __repr__(self) -> str:
        routes = {route: [str(rate) for rate in rates] for route, rates in self.rates.items()}
        return f"RouteLimiter({routes!r}, storage={redacted_url(self.storage)!r})"

    def applies(self, route: str) -> bool:
        """Whether ``route`` has rates."""
        return route in self._items

    # --- storage ------------------------------------------------------------------------

    def _options(self, *, asynchronous: bool) -> dict[str, Any]:
        if not self._redis:
            return {}
        if asynchronous:
            from redis.asyncio.retry import Retry  # noqa: PLC0415
        else:
            from redis.retry import Retry  # type: ignore[assignment]  # noqa: PLC0415
        from redis.backoff import NoBackoff  # noqa: PLC0415

        options: dict[str, Any] = {
            "socket_timeout": self.storage_timeout,
            "socket_connect_timeout": self.storage_timeout,
            # redis-py retries a failed command 3 times with backoff by default: that
            # would multiply the timeout. Fail once, quickly, and let the policy decide.
            "retry": Retry(NoBackoff(), 0),
        }
        if asynchronous:
            options["implementation"] = "redispy"  # limits' default async client is coredis
        return options

    def _sync_limiter(self) -> limits.strategies.MovingWindowRateLimiter:
        if self._sync is not None:
            return self._sync
        # The first requests of a threaded server arrive together: make one store only.
        with self._creating:
            if self._sync is None:
                from limits.storage import storage_from_string  # noqa: PLC0415
                from limits.strategies import MovingWindowRateLimiter  # noqa: PLC0415

                store = storage_from_string(
                    self.storage, wrap_exceptions=True, **self._options(asynchronous=False)
                )
                self._sync = MovingWindowRateLimiter(store)
            return self._sync

    def _async_limiter(self) -> limits.aio.strategies.MovingWindowRateLimiter:
        # An async store belongs to the event loop it was made in (its connections, its
        # expiry task): a handler served by a new loop gets a new one.
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            from limits.aio.strategies import MovingWindowRateLimiter  # noqa: PLC0415
            from limits.storage import storage_from_string  # noqa: PLC0415

            store = storage_from_string(
                "async+" + self.storage, wrap_exceptions=True, **self._options(asynchronous=True)
            )
            self._async = (loop, MovingWindowRateLimiter(store))
        return self._async[1]

    def close(self) -> None:
        """Close the sync store's connections (WSGI app shutdown)."""
        sync, self._sync = self._sync, None
        client = getattr(getattr(sync, "storage", None), "storage", None)
        if self._redis and client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close both stores' connections (ASGI app shutdown)."""
        self.close()
        found, self._async = self._async, None
        if found is None or not self._redis:
            return
        bridge = getattr(found[1].storage, "bridge", None)
        client = getattr(bridge, "storage", None)
        if client is not None and found[0] is asyncio.get_running_loop():
            await client.aclose()

    # --- deciding: pure ---------------------------------------------------------------------

    def _decide(self, route: str, states: list[RateState]) -> Decision:
        now = self._clock()
        rates = self.rates[route]
        if states[-1].allowed:
            return Decision(None, None, limit_headers(rates, states, now))
        body, headers = too_many_requests(rates, states, now)
        return Decision(429, body, headers)

    def _storage_failed(self, route: str, error: BaseException) -> Decision:
        now = time.monotonic()
        if now - self._logged_at >= _LOG_EVERY_SECONDS:
            self._logged_at = now
            what = "letting requests through" if self.fail_open else "refusing requests (503)"
            logger.warning(
                "Rate limit storage %s failed on route %s (%s: %s): %s until it answers again.",
                redacted_url(self.storage),
                route,
                type(error).__name__,
                error,
                what,
            )
        if self.fail_open:
            return _PASS
        return Decision(503, {"error": _UNAVAILABLE}, (("retry-after", "1"),))

    # --- drivers ------------------------------------------------------------------------------

    def hit(self, route: str, key: str) -> Decision:
        """Count one request of ``key`` on ``route`` (blocking; for WSGI)."""
        items = self._items.get(route)
        if items is None:
            return _PASS
        try:
            limiter = self._sync_limiter()
            if self._redis:
                return self._decide(route, self._count(limiter, items, route, key))
            with self._memory_lock:
                return self._decide(route, self._count(limiter, items, route, key))
        except Exception as error:
            return self._storage_failed(route, error)

    def _count(
        self,
        limiter: limits.strategies.MovingWindowRateLimiter,
        items: tuple[limits.RateLimitItem, ...],
        route: str,
        key: str,
    ) -> list[RateState]:
        states = []
        for rate, item in zip(self.rates[route], items, strict=True):
            allowed = limiter.hit(item, "navai", route, key)
            reset_at, remaining = limiter.get_window_stats(item, "navai", route, key)
            states.append(_state(rate, allowed, remaining, reset_at))
            if not allowed:
                break  # longer windows are not charged for a refused request
        return states

    async def ahit(self, route: str, key: str) -> Decision:
        """Async twin of :meth:`hit` (for ASGI): never blocks the event loop."""
        items = self._items.get(route)
        if items is None:
            return _PASS
        if not self._redis:
            # The in-memory store does no IO, so nothing to await: the sync one serves
            # every event loop alike (an async one would belong to the loop it was made in).
            return self.hit(route, key)
        try:
            limiter = self._async_limiter()
            states = []
            for rate, item in zip(self.rates[route], items, strict=True):
                allowed = await limiter.hit(item, "navai", route, key)
                reset_at, remaining = await limiter.get_window_stats(item, "navai", route, key)
                states.append(_state(rate, allowed, remaining, reset_at))
                if not allowed:
                    break
            return self._decide(route, states)
        except Exception as error:
            return self._storage_failed(route, error)
