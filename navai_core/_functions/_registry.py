"""The registry: discovered tools, and running them validated, bounded and on time."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import gc
import inspect
import logging
import os
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any

import attrs

from navai_core._functions._context import FunctionContext
from navai_core._functions._deadlines import LoopDeadlines
from navai_core._functions._discovery import (
    Candidate,
    SourceFile,
    collect_sources,
    exported_candidates,
    import_source,
    module_name,
    module_prefix,
)
from navai_core._functions._jsonready import ResultSizeError, UnsupportedTypeError, to_json
from navai_core._functions._naming import normalize_name
from navai_core._functions._params import (
    ParamSpec,
    SkipToolError,
    build_param_spec,
    split_payload,
)
from navai_core._functions._runner import BackgroundLoop, WorkerPool
from navai_core._functions._schema import SchemaBatch, read_doc
from navai_core._functions._settings import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RESULT_BYTES,
    DEFAULT_TIMEOUT_SECONDS,
    _Settings,
    checked_settings,
    registry_arguments,
)
from navai_core.exceptions import (
    FunctionExecutionError,
    FunctionTimeoutError,
    InvalidArgumentsError,
    ResultNotSerializableError,
    ResultTooLargeError,
    ToolError,
    UnknownFunctionError,
)

__all__ = ["FunctionDefinition", "NavaiFunctionRegistry", "load_navai_functions"]

logger = logging.getLogger("navai.functions")

MASKED_DETAILS = "The function failed. See the server log for details."
_CLASS_KEYS = frozenset({"constructorArgs", "methodArgs"})


# --- what one tool is ---------------------------------------------------------------------


def _call_method(
    cls: type,
    attr: str,
    init: tuple[tuple[Any, ...], dict[str, Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    instance = cls(*init[0], **init[1])
    return getattr(instance, attr)(*args, **kwargs)


def _split_class_args(
    value: Any, key: str, function_name: str
) -> tuple[Sequence[Any], Mapping[str, Any]]:
    if value is None:
        return (), {}
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict):
        return (), value
    reason = "must be a list (by position), an object (by name) or null"
    raise InvalidArgumentsError(function_name, reason, parameter=key)


@attrs.frozen(eq=False)
class _FunctionTarget:
    """A module-level function: the payload rules, then one validated call."""

    func: Callable[..., Any]
    spec: ParamSpec

    def prepare(
        self, payload: Mapping[str, Any] | None, context: FunctionContext | None, name: str
    ) -> Callable[[], Any]:
        positional, keywords = split_payload(payload, self.spec, name)
        args, kwargs = self.spec.bind(positional, keywords, context, name)
        return functools.partial(self.func, *args, **kwargs)


@attrs.frozen(eq=False)
class _MethodTarget:
    """A class's method: construct from ``constructorArgs``, call with ``methodArgs``.

    ``init`` is ``None`` for static and class methods, which need no instance.
    """

    owner: type
    attr: str
    spec: ParamSpec
    init: ParamSpec | None

    def prepare(
        self, payload: Mapping[str, Any] | None, context: FunctionContext | None, name: str
    ) -> Callable[[], Any]:
        payload = payload or {}
        unknown = [str(key) for key in payload if key not in _CLASS_KEYS]
        if unknown:
            reason = (
                f"unknown key{'s' * (len(unknown) > 1)} {', '.join(unknown)}; a class method "
                'takes {"constructorArgs": ..., "methodArgs": ...}'
            )
            raise InvalidArgumentsError(name, reason)
        positional, keywords = _split_class_args(payload.get("methodArgs"), "methodArgs", name)
        args, kwargs = self.spec.bind(positional, keywords, context, name, "methodArgs.")
        init_args = payload.get("constructorArgs")
        if self.init is None:
            if init_args:
                reason = "this is a static or class method; it takes no constructor arguments"
                raise InvalidArgumentsError(name, reason, parameter="constructorArgs")
            return functools.partial(getattr(self.owner, self.attr), *args, **kwargs)
        positional, keywords = _split_class_args(init_args, "constructorArgs", name)
        init = self.init.bind(positional, keywords, context, name, "constructorArgs.")
        return functools.partial(_call_method, self.owner, self.attr, init, args, kwargs)


@attrs.frozen
class FunctionDefinition:
    """One tool, as it is listed (run it through its registry).

    Attributes:
        name: The tool name (lower snake_case, unique in its registry).
        description: The decorator's description, else the docstring's summary, else
            ``Call exported function {name}.``.
        source: ``{relative path}#{qualified name}``, such as ``orders.py#Cart.total``.
        parameters: The JSON Schema of its arguments (an object schema; for a class
            method, one with ``constructorArgs`` and ``methodArgs``). Treat it as
            read-only: it is shared, not copied, on every listing.
        timeout_seconds: How long a call may take.
    """

    name: str
    description: str
    source: str
    parameters: dict[str, Any] = attrs.field(hash=False)
    timeout_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The listing form: ``name``, ``description``, ``source`` and ``parameters``."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "parameters": self.parameters,
        }


# --- building a snapshot ------------------------------------------------------------------


def _init_descriptions(cls: type) -> Mapping[str, str]:
    """Constructor parameter descriptions: the class docstring's, then ``__init__``'s."""
    return {**read_doc(cls).params, **read_doc(cls.__init__).params}  # type: ignore[misc]


@attrs.frozen(eq=False)
class _Pending:
    """A candidate whose parameters are read, waiting for its schema."""

    candidate: Candidate
    source: str
    spec: ParamSpec
    init: ParamSpec | None
    is_async: bool

    def hints(self) -> list[tuple[str, Any]]:
        """``(parameter, type)`` pairs to describe; constructor ones named as such."""
        hints = self.spec.hints()
        if self.init is not None:
            hints += [(f"constructor {name}", hint) for name, hint in self.init.hints()]
        return hints


class _Entry:
    """One tool in a snapshot: what running it needs, and its listing, made on demand.

    Running needs only the name, timeout and target, all settled at load. The listing
    (description and schema) needs the docstrings, and parsing docstrings is the
    largest cost of loading a thousand modules, so it waits until the tool is first
    listed or looked up, and is kept from then on.
    """

    __slots__ = (
        "_definition",
        "batch",
        "is_async",
        "name",
        "pending",
        "source",
        "target",
        "timeout_seconds",
    )

    def __init__(
        self, name: str, timeout_seconds: float, pending: _Pending, batch: SchemaBatch
    ) -> None:
        self.name = name
        self.timeout_seconds = timeout_seconds
        self.pending = pending
        self.batch = batch
        self.source = pending.source
        self.is_async = pending.is_async
        candidate = pending.candidate
        self.target: _FunctionTarget | _MethodTarget
        if candidate.owner is None:
            self.target = _FunctionTarget(func=candidate.func, spec=pending.spec)
        else:
            self.target = _MethodTarget(
                owner=candidate.owner,
                attr=candidate.qualname.rpartition(".")[2],
                spec=pending.spec,
                init=pending.init,
            )
        self._definition: FunctionDefinition | None = None

    @property
    def definition(self) -> FunctionDefinition:
        """The listed form (built once; two threads racing build equal values)."""
        definition = self._definition
        if definition is None:
            doc = read_doc(self.pending.candidate.func)
            meta = self.pending.candidate.meta
            definition = self._definition = FunctionDefinition(
                name=self.name,
                description=(meta.description if meta else None)
                or doc.summary
                or f"Call exported function {self.name}.",
                source=self.source,
                parameters=self._parameters(doc.params),
                timeout_seconds=self.timeout_seconds,
            )
        return definition

    def _parameters(self, descriptions: Mapping[str, str]) -> dict[str, Any]:
        """The ``parameters`` schema (for a class method: constructor and method)."""
        batch, pending, needed = self.batch, self.pending, dict[str, None]()
        candidate = pending.candidate
        if candidate.owner is None:
            parameters = batch.object_schema(pending.spec, needed, descriptions)
        else:
            class_name = candidate.qualname.rpartition(".")[0]
            properties: dict[str, Any] = {}
            required: list[str] = []
            init = pending.init
            if init is not None and (init.field_info or init.var_keyword is not None):
                properties["constructorArgs"] = batch.object_schema(
                    init,
                    needed,
                    _init_descriptions(candidate.owner),
                    f"Arguments to construct {class_name}, by name (or a list, in order).",
                )
                if properties["constructorArgs"]["required"]:
                    required.append("constructorArgs")
            properties["methodArgs"] = batch.object_schema(
                pending.spec,
                needed,
                descriptions,
                f"Arguments of {candidate.qualname}, by name (or a list, in order).",
            )
            if properties["methodArgs"]["required"]:
                required.append("methodArgs")
            parameters = {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            }
        if needed:
            parameters["$defs"] = batch.defs(needed)
        return parameters


class _Snapshot:
    """Everything a scan produced; swapped as a whole by :meth:`NavaiFunctionRegistry.reload`."""

    __slots__ = ("_items", "by_name", "entries", "modules", "warnings")

    def __init__(
        self, entries: tuple[_Entry, ...], warnings: tuple[str, ...], modules: tuple[str, ...]
    ) -> None:
        self.entries = entries
        self.by_name = {entry.name: entry for entry in entries}
        self.warnings = warnings
        self.modules = modules
        self._items: tuple[FunctionDefinition, ...] | None = None

    @property
    def items(self) -> tuple[FunctionDefinition, ...]:
        items = self._items
        if items is None:
            items = self._items = tuple(entry.definition for entry in self.entries)
        return items


class _Builder:
    """One scan: import the files, read every candidate, generate schemas in one pass."""

    def __init__(self, settings: _Settings) -> None:
        self.settings = settings
        self.warnings: list[str] = []
        self.prefix = module_prefix(settings.base_dir)
        self.init_specs: dict[type, ParamSpec | SkipToolError] = {}

    def build(self) -> _Snapshot:
        # A scan allocates many small objects that all stay alive (modules, types,
        # schemas); the cyclic collector would repeatedly walk them for nothing, which
        # costs a large share of loading time. It is paused for the scan only.
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            return self._build()
        finally:
            if paused:
                gc.enable()

    def _build(self) -> _Snapshot:
        sources = collect_sources(
            self.settings.base_dir,
            self.settings.folders,
            self.warnings,
            agents=self.settings.agents,
            exclude=self.settings.exclude,
        )
        taken: set[str] = set()
        pending: list[_Pending] = []
        for source in sources:
            name = module_name(self.prefix, source.relpath, taken)
            module = import_source(source, name, self.warnings)
            if module is None:
                taken.discard(name)
                continue
            for candidate in exported_candidates(
                module, self.prefix, self.settings.require_decorator
            ):
                item = self._read(candidate, source)
                if item is not None:
                    pending.append(item)
        entries = self._define(pending)
        for warning in self.warnings:
            logger.warning("%s", warning)
        return _Snapshot(tuple(entries), tuple(self.warnings), tuple(sorted(taken)))

    def _skip(self, source: str, reason: str) -> None:
        self.warnings.append(f"[navai] Skipped {source}: {reason}.")

    def _init_spec(self, cls: type) -> ParamSpec:
        cached = self.init_specs.get(cls)
        if cached is None:
            init: Callable[..., Any] = cls.__init__  # type: ignore[misc]
            if init is object.__init__:
                init = _no_arguments
            try:
                cached = build_param_spec(init, drop_first=True)
            except SkipToolError as exc:
                cached = SkipToolError(f"its constructor {exc}")
            self.init_specs[cls] = cached
        if isinstance(cached, SkipToolError):
            raise cached
        return cached

    def _read(self, candidate: Candidate, source: SourceFile) -> _Pending | None:
        where = f"{source.relpath}#{candidate.qualname}"
        try:
            spec = build_param_spec(
                candidate.func, drop_first=candidate.kind in ("method", "classmethod")
            )
            init = None
            if candidate.kind == "method":
                assert candidate.owner is not None
                init = self._init_spec(candidate.owner)
        except SkipToolError as exc:
            self._skip(where, str(exc))
            return None
        return _Pending(
            candidate=candidate,
            source=where,
            spec=spec,
            init=init,
            is_async=inspect.iscoroutinefunction(candidate.func),
        )

    def _define(self, pending: list[_Pending]) -> list[_Entry]:
        batch = SchemaBatch(hint for item in pending for _, hint in item.hints())
        entries: list[_Entry] = []
        used: dict[str, str] = {}
        for item in pending:
            failed = next(
                ((name, error) for name, hint in item.hints() if (error := batch.error(hint))),
                None,
            )
            if failed is not None:
                param, error = failed
                reason = f"parameter {param!r} has a type NAVAI cannot describe as JSON Schema"
                self._skip(item.source, f"{reason} ({error})")
                continue
            name = self._name(item, used)
            if name is None:
                continue
            meta, owner_meta = item.candidate.meta, item.candidate.owner_meta
            timeout = (meta.timeout if meta else None) or (
                owner_meta.timeout if owner_meta else None
            )
            entries.append(_Entry(name, timeout or self.settings.timeout_seconds, item, batch))
        return entries

    def _name(self, item: _Pending, used: dict[str, str]) -> str | None:
        meta = item.candidate.meta
        raw = meta.name if meta and meta.name else item.candidate.raw_name
        base = normalize_name(raw)
        if not base:
            self._skip(
                item.source,
                f"{raw!r} does not give a tool name; name it with @navai_function(name=...)",
            )
            return None
        name, counter = base, 1
        while name in used:
            counter += 1
            name = f"{base}_{counter}"
        if name != base:
            self.warnings.append(
                f"[navai] Function name {base!r} from {item.source} is already used by "
                f"{used[base]}; it is exposed as {name!r}."
            )
        used[name] = item.source
        return name


def _no_arguments(self: object) -> None:
    """Stands in for ``object.__init__``, which takes no arguments."""


# --- running ------------------------------------------------------------------------------


@attrs.frozen
class _Raised:
    """A function raised (``error``), or its result could not be made JSON (``result``)."""

    error: BaseException
    serializing: bool = False


def _message(error: BaseException) -> str:
    """An exception's message, or its type's name; never raises (``__str__`` may).

    ``SystemExit(3)`` and its kind (not ``Exception``s) say ``SystemExit: 3``: their
    message alone would mean nothing to the caller.
    """
    try:
        text = str(error)
    except Exception:
        text = ""
    kind = type(error).__name__
    if text and not isinstance(error, Exception):
        return f"{kind}: {text}"
    return text or kind


def _json_result(value: Any, function_name: str, max_bytes: int) -> Any:
    try:
        return to_json(value, max_bytes)
    except ResultSizeError as exc:
        details = (
            f"Function {function_name!r} returned a result of {exc.size} bytes as JSON, over "
            f"the limit of {exc.limit} bytes. Return less (a page, a summary), or raise "
            "NAVAI_MAX_RESULT_BYTES."
        )
        too_large = ResultTooLargeError(function_name, details, size=exc.size, limit=exc.limit)
        return _Raised(too_large, serializing=True)
    except UnsupportedTypeError as exc:
        reason = str(exc)
    except Exception as exc:  # a dict key JSON cannot have, a cycle, an object's own error
        reason = _message(exc)
    details = (
        f"Function {function_name!r} returned a value that cannot be sent as JSON: {reason}. "
        "Return dicts, lists, str, int, float, bool, None, or attrs/dataclass instances."
    )
    error = ResultNotSerializableError(function_name, details)
    error.message, error.args = details, (details,)  # the whole sentence, not "failed: ..."
    return _Raised(error, serializing=True)


def _run_sync(call: Callable[[], Any], function_name: str, max_bytes: int) -> Any:
    try:
        result = call()
    except BaseException as exc:
        # BaseException too: `sys.exit()` or a stray KeyboardInterrupt in a function is
        # that function's failure, and must not end the thread serving the request.
        return _Raised(exc)
    return _json_result(result, function_name, max_bytes)


async def _run_async(call: Callable[[], Any], function_name: str, max_bytes: int) -> Any:
    try:
        result = await call()
    except asyncio.CancelledError:
        raise  # the call is being cancelled (its timeout): let asyncio finish that
    except BaseException as exc:
        # SystemExit or KeyboardInterrupt raised in a task would stop the event loop,
        # and with it the whole server: it is the function's failure, nothing more.
        return _Raised(exc)
    return _json_result(result, function_name, max_bytes)


class _Expired(Exception):  # noqa: N818 - internal marker, never seen outside
    """A pooled call outlived its timeout (set on its future by the timer)."""


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(_Expired())


def _cancelled_itself(function_name: str) -> FunctionExecutionError:
    """The failure of a call that ended cancelled though nobody cancelled it."""
    return FunctionExecutionError(function_name, "The call was cancelled.")


def _cancel_task(task: asyncio.Task[Any]) -> None:
    task.cancel()


def _being_cancelled() -> bool:
    """Whether the running task was asked to stop (Python 3.11+: ``Task.cancelling``)."""
    task = asyncio.current_task()
    cancelling: Callable[[], int] | None = getattr(task, "cancelling", None)
    return cancelling is None or cancelling() > 0


class _CancelledItself(Exception):  # noqa: N818 - internal marker, never seen outside
    """An async function raised ``CancelledError`` though nobody cancelled it (3.10)."""


async def _in_own_task(coroutine: Coroutine[Any, Any, Any], entry: _Entry) -> Any:
    """Python 3.10's stand-in for ``asyncio.timeout`` plus ``Task.cancelling``.

    The function runs in a task of its own, waited for with ``asyncio.wait``, which
    never raises what the task raised: so a ``CancelledError`` reaching this frame means
    the caller was cancelled, and a task that ended cancelled without being asked to
    means the function raised ``CancelledError`` itself.
    """
    task = asyncio.ensure_future(coroutine)
    try:
        done, _ = await asyncio.wait((task,), timeout=entry.timeout_seconds)
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait((task,))  # as wait_for does: let it run its cleanup first
        raise
    if not done:
        task.cancel()
        await asyncio.wait((task,))
        raise asyncio.TimeoutError
    if task.cancelled():
        raise _CancelledItself
    return task.result()


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
        self._pool = WorkerPool(self._settings.max_concurrency)
        self._loop = BackgroundLoop()
        self._deadlines = LoopDeadlines()
        self._reload_lock = threading.Lock()
        self._closed = False
        self._snapshot = _Builder(self._settings).build()

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
    ) -> tuple[_Entry, Callable[[], Any]]:
        if self._closed:
            msg = "The function registry is closed; no more calls can run."
            raise RuntimeError(msg)
        snapshot = self._snapshot
        entry = snapshot.by_name.get(_key(name))
        if entry is None:
            raise UnknownFunctionError(str(name), [item.name for item in snapshot.items])
        if not isinstance(payload, (Mapping, type(None))):
            raise InvalidArgumentsError(entry.name, "payload must be an object or null")
        return entry, entry.target.prepare(payload, context, entry.name)

    def _finish(self, entry: _Entry, outcome: Any) -> Any:
        if not isinstance(outcome, _Raised):
            return outcome
        error = outcome.error
        if outcome.serializing:
            logger.error("%s", error)
            raise error
        if isinstance(error, ToolError):
            details = _message(error)
            logger.info("Function %r failed: %s", entry.name, details)
        else:
            logger.error(
                "Function %r (%s) raised %s",
                entry.name,
                entry.source,
                type(error).__name__,
                exc_info=error,
            )
            details = MASKED_DETAILS if self._settings.mask_errors else _message(error)
        limit = self._settings.max_result_bytes
        if len(details) > limit:  # a message can be as large as any result
            details = details[:limit] + "... (cut)"
        raise FunctionExecutionError(entry.name, details) from error

    def _timed_out(self, entry: _Entry) -> FunctionTimeoutError:
        logger.warning(
            "Function %r did not finish within %g seconds",
            entry.name,
            entry.timeout_seconds,
        )
        return FunctionTimeoutError(entry.name, entry.timeout_seconds)

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
        entry, call = self._prepare(name, payload, context)
        limit = self._settings.max_result_bytes
        future: concurrent.futures.Future[Any]
        if entry.is_async:
            future = self._loop.submit(
                functools.partial(_run_async, call, entry.name, limit), contextvars.copy_context()
            )
        else:
            future = self._pool.submit(
                contextvars.copy_context().run, _run_sync, call, entry.name, limit
            )
        try:
            outcome = future.result(entry.timeout_seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise self._timed_out(entry) from None
        except concurrent.futures.CancelledError:
            raise _cancelled_itself(entry.name) from None
        return self._finish(entry, outcome)

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
        entry, call = self._prepare(name, payload, context)
        limit = self._settings.max_result_bytes
        if not entry.is_async:
            return self._finish(entry, await self._run_in_pool(entry, call, limit))
        if sys.version_info >= (3, 11):
            return self._finish(entry, await self._run_on_loop(entry, call, limit))
        return self._finish(  # Python 3.10
            entry, await self._run_async_310(entry, call, limit)
        )

    if sys.version_info >= (3, 11):

        async def _run_on_loop(self, entry: _Entry, call: Callable[[], Any], limit: int) -> Any:
            """An async function's outcome, awaited here, or ``FunctionTimeoutError``.

            What ``asyncio.timeout`` does, with the timer shared (see ``_deadlines``): on
            expiry the task is cancelled, and the cancellation is turned into the timeout
            here unless someone else cancelled the task too.
            """
            task = asyncio.current_task()
            if task is None:
                msg = "aexecute() must run in an asyncio task (await it from a coroutine)."
                raise RuntimeError(msg)
            cancelling = task.cancelling()
            group, deadline = self._deadlines.start(
                task.get_loop(), entry.timeout_seconds, _cancel_task, task
            )
            try:
                outcome = await _run_async(call, entry.name, limit)
            except asyncio.CancelledError:
                if deadline.expired and task.uncancel() <= cancelling:
                    raise self._timed_out(entry) from None
                if _being_cancelled():
                    raise
                # The function raised CancelledError itself; nobody cancelled this call.
                raise _cancelled_itself(entry.name) from None
            finally:
                group.finish(deadline)
            if deadline.expired:  # it swallowed the cancellation and returned: take it back
                task.uncancel()
            return outcome

    async def _run_async_310(self, entry: _Entry, call: Callable[[], Any], limit: int) -> Any:
        try:
            return await _in_own_task(_run_async(call, entry.name, limit), entry)
        except asyncio.TimeoutError:
            raise self._timed_out(entry) from None
        except asyncio.CancelledError:
            if _being_cancelled():
                raise
            raise _cancelled_itself(entry.name) from None
        except _CancelledItself:
            raise _cancelled_itself(entry.name) from None

    async def _run_in_pool(self, entry: _Entry, call: Callable[[], Any], limit: int) -> Any:
        """A sync function's outcome, run in the pool, or ``FunctionTimeoutError``.

        On expiry, the deadline fails the future itself: no task is started and nothing
        is cancelled. A call still running then keeps its thread (Python cannot stop
        it); its result is dropped.
        """
        future = self._pool.run(contextvars.copy_context().run, _run_sync, call, entry.name, limit)
        group, deadline = self._deadlines.start(
            future.get_loop(), entry.timeout_seconds, _expire, future
        )
        try:
            return await future
        except _Expired:
            raise self._timed_out(entry) from None
        finally:
            group.finish(deadline)

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
            new = _Builder(self._settings).build()
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
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._loop.close()

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
