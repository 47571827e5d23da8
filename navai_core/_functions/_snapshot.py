"""A snapshot: every tool one scan found, built in one pass and swapped as a whole.

The scan goes discovery -> definition: find and import the files (:mod:`._discovery`),
read each candidate's parameters (:mod:`._params`), describe every parameter type in
one JSON Schema pass (:mod:`._schema`) and name the tools (:mod:`._definition`).
"""

from __future__ import annotations

import gc
import inspect
import logging
from collections.abc import Callable
from typing import Any, Protocol

from navai_core._functions._definition import Entry, FunctionDefinition, Pending
from navai_core._functions._discovery import (
    Candidate,
    SourceFile,
    collect_sources,
    exported_candidates,
    import_source,
    module_name,
    module_prefix,
)
from navai_core._functions._naming import normalize_name
from navai_core._functions._params import SkipToolError, ToolParameters, read_parameters
from navai_core._functions._schema import SchemaBatch

__all__ = ["ScanSettings", "Snapshot", "build_snapshot"]

logger = logging.getLogger("navai.functions")


class ScanSettings(Protocol):
    """The settings a scan reads (the registry's validated settings)."""

    @property
    def base_dir(self) -> str: ...
    @property
    def folders(self) -> tuple[str, ...] | None: ...
    @property
    def agents(self) -> tuple[str, ...] | None: ...
    @property
    def exclude(self) -> tuple[str, ...] | None: ...
    @property
    def timeout_seconds(self) -> float: ...
    @property
    def require_decorator(self) -> bool: ...


class Snapshot:
    """Everything a scan produced; swapped as a whole by ``NavaiFunctionRegistry.reload``."""

    __slots__ = ("_items", "by_name", "entries", "modules", "warnings")

    def __init__(
        self, entries: tuple[Entry, ...], warnings: tuple[str, ...], modules: tuple[str, ...]
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

    def __init__(self, settings: ScanSettings) -> None:
        self.settings = settings
        self.warnings: list[str] = []
        self.prefix = module_prefix(settings.base_dir)
        self.init_specs: dict[type, ToolParameters | SkipToolError] = {}

    def build(self) -> Snapshot:
        # A scan allocates many small objects that all stay alive (modules, types,
        # schemas); the cyclic collector would repeatedly walk them for nothing. It is
        # paused for the scan only.
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            return self._build()
        finally:
            if paused:
                gc.enable()

    def _build(self) -> Snapshot:
        sources = collect_sources(
            self.settings.base_dir,
            self.settings.folders,
            self.warnings,
            agents=self.settings.agents,
            exclude=self.settings.exclude,
        )
        taken: set[str] = set()
        pending: list[Pending] = []
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
        return Snapshot(tuple(entries), tuple(self.warnings), tuple(sorted(taken)))

    def _skip(self, source: str, reason: str) -> None:
        self.warnings.append(f"[navai] Skipped {source}: {reason}.")

    def _init_spec(self, cls: type) -> ToolParameters:
        cached = self.init_specs.get(cls)
        if cached is None:
            init: Callable[..., Any] = cls.__init__  # type: ignore[misc]
            if init is object.__init__:
                init = _no_arguments
            try:
                cached = read_parameters(init, drop_first=True)
            except SkipToolError as exc:
                cached = SkipToolError(f"its constructor {exc}")
            self.init_specs[cls] = cached
        if isinstance(cached, SkipToolError):
            raise cached
        return cached

    def _read(self, candidate: Candidate, source: SourceFile) -> Pending | None:
        where = f"{source.relpath}#{candidate.qualname}"
        try:
            spec = read_parameters(
                candidate.func, drop_first=candidate.kind in ("method", "classmethod")
            )
            init = None
            if candidate.kind == "method":
                assert candidate.owner is not None
                init = self._init_spec(candidate.owner)
        except SkipToolError as exc:
            self._skip(where, str(exc))
            return None
        return Pending(
            candidate=candidate,
            source=where,
            spec=spec,
            init=init,
            is_async=inspect.iscoroutinefunction(candidate.func),
        )

    def _define(self, pending: list[Pending]) -> list[Entry]:
        batch = SchemaBatch(hint for item in pending for _, hint in item.hints())
        entries: list[Entry] = []
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
            entries.append(Entry(name, timeout or self.settings.timeout_seconds, item, batch))
        return entries

    def _name(self, item: Pending, used: dict[str, str]) -> str | None:
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


def build_snapshot(settings: ScanSettings) -> Snapshot:
    """Scan with ``settings``: import the files and read every tool (warnings logged)."""
    return _Builder(settings).build()
