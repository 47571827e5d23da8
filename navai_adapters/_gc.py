"""Garbage-collector settings for a long-running server process."""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "tune_gc"]

YOUNG_THRESHOLD = 10_000
"""Container allocations (net of frees) that start a young-generation collection.

A request waiting on a worker thread keeps a few dozen containers alive (the ASGI
coroutine chain, the scope, the request). With a few dozen such requests waiting at once,
the interpreter's default threshold (it differs between versions: see
``gc.get_threshold()``) starts a collection every batch or so, and each collection
promotes the waiting requests towards the full collections that walk the whole heap.
10,000 covers a few hundred waiting requests and still bounds cyclic garbage to a few MB.
A threshold the interpreter already sets higher is kept.
"""


def tune_gc(young_threshold: int = YOUNG_THRESHOLD) -> None:
    """Set the garbage collector up for serving: call once, after startup, before serving.

    It does three things:

    1. collects once, so that what importing left as garbage goes now;
    2. freezes what is left (``gc.freeze``): the modules, the app, the discovered tools.
       The collector then never walks those objects again. Without this, every full
       collection walks them all (tens of milliseconds on a 2-CPU machine);
    3. raises the young-generation threshold to ``young_threshold`` (see
       :data:`YOUNG_THRESHOLD`), unless the running interpreter's is already higher; the
       other two thresholds stay as the interpreter has them.

    ``navai serve`` calls it for you (``--no-tune-gc`` turns it off). Under another
    server, call it where that server has built the app: gunicorn's ``post_worker_init``
    hook, or the end of your ASGI lifespan's startup. The settings are the process's,
    not NAVAI's: do it only in a process that serves.

    Frozen objects are never collected. If your code replaces modules after startup
    (``NavaiFunctionRegistry.reload``), the old ones stay in memory.

    Args:
        young_threshold: The new young-generation threshold (at least 1).

    Raises:
        TypeError: ``young_threshold`` is not an ``int``.
        ValueError: ``young_threshold`` is below 1.
    """
    if isinstance(young_threshold, bool) or not isinstance(young_threshold, int):
        msg = f"young_threshold must be a whole number, not {young_threshold!r}."
        raise TypeError(msg)
    if young_threshold < 1:
        msg = f"young_threshold must be at least 1, not {young_threshold}."
        raise ValueError(msg)
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, young_threshold), middle, old)
