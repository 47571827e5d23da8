"""Prometheus metrics for NAVAI's routes (the ``metrics`` extra).

``pip install "navai[metrics]"`` brings in ``prometheus-client``; nothing else in NAVAI
imports it. Give the routes a :class:`NavaiMetrics` as their ``observer`` and expose it
where your scraper looks::

    metrics = NavaiMetrics()
    app = create_app(observer=metrics)
    app.mount("/metrics", metrics.asgi_app())  # or metrics.wsgi_app(), or metrics.serve(9100)

``navai serve --metrics-port 9100`` does the same on a port of its own.

What is measured:

* ``navai_requests_total{route, method, status}`` and
  ``navai_request_duration_seconds{route}``: every request the handler answered;
* ``navai_tool_calls_total{tool, outcome}`` and ``navai_tool_call_duration_seconds{tool}``:
  execute calls, ``outcome`` one of ``ok``, ``error``, ``invalid_arguments``, ``timeout``,
  ``unknown`` (unknown names are all counted as ``(unknown)``, so that callers cannot
  grow the label set);
* ``navai_upstream_duration_seconds{status}``: minting a client secret, OpenAI's
  latency and the retries included, by the status the route answered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client import make_asgi_app as _make_asgi_app
from prometheus_client import make_wsgi_app as _make_wsgi_app
from prometheus_client import start_http_server as _start_http_server

__all__ = ["NavaiMetrics"]

# Minting and most tools answer in tens to hundreds of milliseconds; timeouts are seconds.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class NavaiMetrics:
    """A :class:`~navai_adapters.NavaiObserver` recording Prometheus metrics.

    Args:
        registry: Where the metrics are registered; Prometheus's default registry (with
            the process metrics) when None. Use a registry of your own for several
            apps in one process.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = REGISTRY if registry is None else registry
        self._requests = Counter(
            "navai_requests_total",
            "Requests answered by NAVAI's routes.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self._request_seconds = Histogram(
            "navai_request_duration_seconds",
            "Time to answer a request, by route.",
            ("route",),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._tool_calls = Counter(
            "navai_tool_calls_total",
            "Backend function calls, by tool and outcome.",
            ("tool", "outcome"),
            registry=self.registry,
        )
        self._tool_seconds = Histogram(
            "navai_tool_call_duration_seconds",
            "Time a backend function call took, by tool.",
            ("tool",),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._upstream_seconds = Histogram(
            "navai_upstream_duration_seconds",
            "Time to mint a client secret at OpenAI, retries included, by answered status.",
            ("status",),
            buckets=_BUCKETS,
            registry=self.registry,
        )

    # --- the observer ---------------------------------------------------------------------

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self._requests.labels(route, method, str(status)).inc()
        self._request_seconds.labels(route).observe(seconds)

    def tool_call(self, name: str, outcome: str, seconds: float) -> None:
        """Count one execute call."""
        self._tool_calls.labels(name, outcome).inc()
        self._tool_seconds.labels(name).observe(seconds)

    def upstream(self, status: int, seconds: float) -> None:
        """Time one mint."""
        self._upstream_seconds.labels(str(status)).observe(seconds)

    # --- exposing them ----------------------------------------------------------------------

    def asgi_app(self) -> Callable[..., Any]:
        """An ASGI app answering scrapes (mount it, e.g. at ``/metrics``)."""
        return _make_asgi_app(self.registry)

    def wsgi_app(self) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
        """A WSGI app answering scrapes."""
        return _make_wsgi_app(self.registry)

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Answer scrapes on ``addr:port`` from a background thread of this process."""
        _start_http_server(port, addr, registry=self.registry)
