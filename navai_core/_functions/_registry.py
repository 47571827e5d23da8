"""The registry: the facade over discovered tools, and the one way to run them.

The folder reads in order: discovery (``_discovery``) finds and imports the files, the
snapshot (``_snapshot``) reads each candidate's parameters (``_params``) and names it a
tool (``_definition``, with its JSON Schema from ``_schema`` made on demand); a call
then validates its payload into a ready call (``_call``), runs it on time (``_running``)
and encodes its result once (``_result``).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import msgspec

from navai_core._functions._context import FunctionContext
from navai_core._functions._definition import Entry, FunctionDefinition, ToolRef
from navai_core._functions._result import EncodedResult, Outcome, finish
from navai_core._functions._running import Runner
from navai_core._functions._settings import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RESULT_BYTES,
    DEFAULT_TIMEOUT_SECONDS,
    checked_settings,
    registry_arguments,
)
from navai_core._functions._snapshot import build_snapshot
from navai_core.exceptions import (
    InvalidArgumentsError,
    UnknownFunctionError,
)

__all__ = ["FunctionDefinition", "NavaiFunctionRegistry", "load_navai_functions"]


def _key(name: object) -> str:
    # Typed ``object``: names come from request bodies, whatever the hints say.
    return name.strip().lower() if isinstance(name, str) else ""


# --- the registry -------------------------------------------------------------------------


class NavaiFunctionRegistry:
    """The tools found in the configured folders, and the one way to run them.

    Discovery happens once, when the registry is built (and again on :meth:`reload`);
    each call then only looks a name up, validates the payload and runs the function:
    sync functions in a bounded pool of worker threads, async ones on the caller's event
    loop (or, from sync code, on one background loop). Use :func:`load_navai_functions`
    to build one from the environment; this constructor takes explicit values only.

    Close it (or use it as a context manager) to stop its threads.

    Args:
        base_dir: The directory folders are relative to; nothing outside it is ever
            imported. Default: the working directory.
        folders: Folder tokens (a comma-separated string or a sequence); default
            ``src/ai/functions-modules``.
        agents_folders: Agent folder names; a plain folder token then matches only
            ``{folder}/{agent}/`` for these agents (as the original's
            ``NAVAI_AGENTS_FOLDERS``).
        exclude: Globs of paths (relative to ``base_dir``) never scanned, on top of the
            built-in skips: ``**/tests/**``, ``src/ai/functions-modules/draft_*.py``.
        timeout_seconds: Default seconds a call may take.
        require_decorator: Expose only ``@navai_function``-marked functions and classes.
        mask_errors: Send a generic message instead of the exception's, except for
            :class:`~navai_core.exceptions.ToolError`.
        max_concurrency: The most sync functions running at once (worker threads).
        max_result_bytes: The largest result, as JSON; a larger one fails the call with
            :class:`~navai_core.exceptions.ResultTooLargeError`. Also bounds the
            ``details`` of a failed call.

    Raises:
        InvalidOptionError: A value NAVAI cannot use (names the argument and value).
    """

    def __init__(
        self,
        *,
        base_dir: str | os.PathLike[str] | None = None,
        folders: str | Sequence[str] | None = None,
        agents_folders: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        require_decorator: bool = False,
        mask_errors: bool = False,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    ) -> None:
        self._settings = checked_settings(
            base_dir,
            folders=folders,
            agents_folders=agents_folders,
            exclude=exclude,
            timeout_seconds=timeout_seconds,
            require_decorator=require_decorator,
            mask_errors=mask_errors,
            max_concurrency=max_concurrency,
            max_result_bytes=max_result_bytes,
        )
        self._runner = Runner(self._settings.max_concurrency)
        self._reload_lock = threading.Lock()
        self._closed = False
        self._snapshot = build_snapshot(self._settings)

    # --- what is in it ---------------------------------------------------------------

    @property
    def items(self) -> tuple[FunctionDefinition, ...]:
        """The tools, sorted by source file, then in definition order."""
        return self._snapshot.items

    @property
    def warnings(self) -> list[str]:
        """What went wrong while loading (a fresh list; each starts with ``[navai]``)."""
        return list(self._snapshot.warnings)

    @property
    def names(self) -> list[str]:
        """The tool names, in the order of :attr:`items`."""
        return [entry.name for entry in self._snapshot.entries]

    @property
    def base_dir(self) -> str:
        """The resolved base directory."""
        return self._settings.base_dir

    @property
    def folders(self) -> tuple[str, ...] | None:
        """The configured folder tokens (``None``: the default folder)."""
        return self._settings.folders

    @property
    def agents_folders(self) -> tuple[str, ...] | None:
        """The agent folder names (``None``: every folder under a token)."""
        return self._settings.agents

    @property
    def exclude(self) -> tuple[str, ...] | None:
        """The configured ``exclude`` globs."""
        return self._settings.exclude

    @property
    def timeout_seconds(self) -> float:
        """The default per-call timeout."""
        return self._settings.timeout_seconds

    @property
    def require_decorator(self) -> bool:
        """Whether only ``@navai_function``-marked names are exposed."""
        return self._settings.require_decorator

    @property
    def mask_errors(self) -> bool:
        """Whether exception messages (other than ToolError's) are hidden from callers."""
        return self._settings.mask_errors

    @property
    def max_concurrency(self) -> int:
        """The most sync functions running at once."""
        return self._settings.max_concurrency

    @property
    def max_result_bytes(self) -> int:
        """The largest result a call may return, as JSON, in bytes."""
        return self._settings.max_result_bytes

    def get(self, name: str) -> FunctionDefinition | None:
        """The tool called ``name`` (trimmed, any case), or ``None``."""
        entry = self._snapshot.by_name.get(_key(name))
        return None if entry is None else entry.definition

    def lookup(self, name: str) -> ToolRef | None:
        """The canonical name and source of the tool called ``name``, or ``None``.

        What :meth:`get` gives, without building the tool's description and schema:
        for callers that only name the tool (a log line, a response).
        """
        entry = self._snapshot.by_name.get(_key(name))
        return None if entry is None else ToolRef(entry.name, entry.source)

    def __len__(self) -> int:
        return len(self._snapshot.entries)

    def __repr__(self) -> str:
        return (
            f"<NavaiFunctionRegistry base_dir={self._settings.base_dir!r} "
            f"functions={len(self._snapshot.entries)} warnings={len(self._snapshot.warnings)}>"
        )

    # --- running ---------------------------------------------------------------------

    def _prepare(
        self,
        name: str,
        payload: Mapping[str, Any] | None,
        context: FunctionContext | None,
    ) -> tuple[Entry, Callable[[], Any]]:
        if self._closed:
            msg = "The function registry is closed; no more calls can run."
            raise RuntimeError(msg)
        snapshot = self._snapshot
        entry = snapshot.by_name.get(_key(name))
        if entry is None:
            # The names only: listing every tool would build every schema.
            raise UnknownFunctionError(str(name), [item.name for item in snapshot.entries])
        if not isinstance(payload, (Mapping, type(None))):
            raise InvalidArgumentsError(entry.name, "payload must be an object or null")
        return entry, entry.target.prepare(payload, context, entry.name)

    def _encoded(self, entry: Entry, outcome: Outcome) -> EncodedResult:
        settings = self._settings
        encoded = finish(
            outcome,
            entry.name,
            entry.source,
            mask_errors=settings.mask_errors,
            max_bytes=settings.max_result_bytes,
        )
        return EncodedResult(entry.name, entry.source, msgspec.Raw(encoded))

    def execute_encoded(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        context: FunctionContext | None = None,
    ) -> EncodedResult:
        """Run a tool from sync code, as :meth:`execute` does; return its result encoded.

        For a caller that sends the result on as JSON (the HTTP layer): the result is
        encoded once, where it was made, and never decoded; the canonical name and the
        source come along, so nothing else is looked up. Arguments and errors are as
        for :meth:`execute`.

        Returns:
            The tool's name and source, and the result as JSON (``msgspec.Raw``).
        """
        entry, call = self._prepare(name, payload, context)
        outcome = self._runner.run(entry, call, self._settings.max_result_bytes)
        return self._encoded(entry, outcome)

    async def aexecute_encoded(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        context: FunctionContext | None = None,
    ) -> EncodedResult:
        """Run a tool from async code, as :meth:`aexecute` does; return its result encoded.

        See :meth:`execute_encoded`.
        """
        entry, call = self._prepare(name, payload, context)
        outcome = await self._runner.arun(entry, call, self._settings.max_result_bytes)
        return self._encoded(entry, outcome)

    def execute(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        context: FunctionContext | None = None,
    ) -> Any:
        """Run a tool from sync code (a WSGI view, a script) and return its JSON-ready result.

        The caller's thread only waits: a sync function runs in a worker thread and an
        async one on the registry's background event loop, so the timeout holds even
        when the function does not return.

        Args:
            name: The tool name (trimmed, any case).
            payload: The arguments: an object or ``None`` (see the payload rules).
            context: The call's context; one with just the function name if omitted.

        Returns:
            The result as plain JSON data.

        Raises:
            UnknownFunctionError: No tool of that name (``.available`` lists the names).
            InvalidArgumentsError: The payload does not fit the parameters.
            FunctionExecutionError: The function raised (``.details`` is its message, or
                a generic one when errors are masked).
            ResultNotSerializableError: The result cannot be made JSON.
            FunctionTimeoutError: The call took longer than its timeout.
        """
        return self.execute_encoded(name, payload, context).decode()

    async def aexecute(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        context: FunctionContext | None = None,
    ) -> Any:
        """Run a tool from async code (an ASGI app) and return its JSON-ready result.

        Async functions are awaited on the running loop; sync ones run in the worker
        pool, so a slow sync function never blocks the event loop. Arguments, return
        value and errors are as for :meth:`execute`.
        """
        return (await self.aexecute_encoded(name, payload, context)).decode()

    # --- lifecycle -------------------------------------------------------------------

    def reload(self) -> NavaiFunctionRegistry:
        """Scan again with the same settings and swap in the result at once.

        Calls already running finish with the tools they started with; calls that start
        after the swap see the new ones. Modules are imported again, so edits show.

        Returns:
            The registry itself.
        """
        with self._reload_lock:
            old = self._snapshot
            new = build_snapshot(self._settings)
            self._snapshot = new
            for stale in set(old.modules) - set(new.modules):
                sys.modules.pop(stale, None)
        return self

    def close(self) -> None:
        """Stop the worker threads and the background loop; calls after this fail.

        A function still running in a worker thread is not interrupted (Python cannot
        stop a thread); its thread is a daemon and ends with it. Safe to call twice.
        """
        self._closed = True
        self._runner.close()

    def __enter__(self) -> NavaiFunctionRegistry:  # noqa: PYI034 - Self needs 3.11
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def load_navai_functions(
    base_dir: str | os.PathLike[str] | None = None,
    folders: str | Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    agents_folders: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    timeout_seconds: float | None = None,
    require_decorator: bool | None = None,
    mask_errors: bool | None = None,
    max_concurrency: int | None = None,
    max_result_bytes: int | None = None,
) -> NavaiFunctionRegistry:
    """Discover the backend functions and return a registry of tools.

    Explicit arguments win over the environment; the environment fills the rest:

    ===================================  ==========================================
    variable                             default
    ===================================  ==========================================
    ``NAVAI_FUNCTIONS_BASE_DIR``         the working directory
    ``NAVAI_FUNCTIONS_FOLDERS``          ``src/ai/functions-modules``
    ``NAVAI_AGENTS_FOLDERS``             none (every folder under a token)
    ``NAVAI_FUNCTIONS_EXCLUDE``          none (only the built-in skips)
    ``NAVAI_FUNCTION_TIMEOUT``           ``30`` (seconds, above 0)
    ``NAVAI_FUNCTIONS_REQUIRE_DECORATOR``  ``false``
    ``NAVAI_MASK_FUNCTION_ERRORS``       ``false``
    ``NAVAI_MAX_CONCURRENT_FUNCTIONS``   ``32`` (at least 1)
    ``NAVAI_MAX_RESULT_BYTES``           ``4194304`` (4 MiB; at least 1)
    ===================================  ==========================================

    Problems with individual files or functions are warnings on the registry; only
    settings NAVAI cannot use are errors, raised now so a misconfigured server fails at
    start.

    Args:
        base_dir: The directory folder tokens are relative to.
        folders: Folder tokens: a comma-separated string or a sequence of tokens.
        env: Where to read variables; ``os.environ`` when omitted.
        agents_folders: Agent folder names (see :class:`NavaiFunctionRegistry`).
        exclude: Globs of relative paths never scanned.
        timeout_seconds: Default seconds a call may take.
        require_decorator: Expose only ``@navai_function``-marked names.
        mask_errors: Hide exception messages (other than ToolError's) from callers.
        max_concurrency: The most sync functions running at once.
        max_result_bytes: The largest result a call may return, as JSON.

    Returns:
        A loaded registry; close it when done.

    Raises:
        InvalidOptionError: A setting NAVAI cannot use; names the variable or argument
            and the value.
    """
    return NavaiFunctionRegistry(
        **registry_arguments(
            env,
            base_dir=base_dir,
            folders=folders,
            agents_folders=agents_folders,
            exclude=exclude,
            timeout_seconds=timeout_seconds,
            require_decorator=require_decorator,
            mask_errors=mask_errors,
            max_concurrency=max_concurrency,
            max_result_bytes=max_result_bytes,
        )
    )
