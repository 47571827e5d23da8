# os.path on plain strings, not pathlib: discovery walks thousands of paths, and a Path
# object per entry costs time the benchmark against a plain import does not allow.
# ruff: noqa: PTH110, PTH112, PTH113, PTH117, PTH118
"""Finding ``.py`` files under the base directory, importing them, and picking exports.

Containment is a security property here, not a convenience: the folders setting may come
from an environment someone else controls, and importing a file runs it. So every token
is checked before anything is touched, every symlink is resolved and must stay inside the
base directory, and a file that fails a check is never imported (only reported).
"""

from __future__ import annotations

import enum
import fnmatch
import hashlib
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, Literal

import attrs

from navai_core._functions._decorator import NavaiFunctionMeta, get_meta

__all__ = [
    "DEFAULT_FOLDER",
    "Candidate",
    "SourceFile",
    "collect_sources",
    "exported_candidates",
    "import_source",
    "module_prefix",
]

DEFAULT_FOLDER = "src/ai/functions-modules"

_SKIPPED_DIRS = frozenset({"__pycache__", "site-packages", "dist-packages", "node_modules"})
_MAGIC = re.compile(r"[*?[]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_NOT_IDENTIFIER = re.compile(r"\W")

MethodKind = Literal["function", "method", "staticmethod", "classmethod"]


@attrs.frozen
class SourceFile:
    """A ``.py`` file to import.

    Attributes:
        relpath: Its path relative to the base directory, with ``/``; what ``source``
            shows.
        realpath: Its resolved path, inside the base directory; what is imported.
    """

    relpath: str
    realpath: str


@attrs.frozen
class Candidate:
    """A callable a module exposes, before it becomes a tool.

    Attributes:
        qualname: ``get_weather`` or ``Cart.total``: the part of ``source`` after ``#``.
        raw_name: The name to normalise into the tool name (``Cart_total``).
        func: The plain function (for a method: the function in the class body).
        owner: The class, for a method.
        kind: How to call it.
        meta: ``@navai_function`` metadata on the function or method itself.
        owner_meta: ``@navai_function`` metadata on the class, for a method.
    """

    qualname: str
    raw_name: str
    func: Callable[..., Any]
    owner: type | None
    kind: MethodKind
    meta: NavaiFunctionMeta | None
    owner_meta: NavaiFunctionMeta | None = None


def _inside(real: str, base: str) -> bool:
    return real == base or real.startswith(base + os.sep)


def _skipped_name(name: str) -> bool:
    return name.startswith(".") or name in _SKIPPED_DIRS


def _is_venv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


_GLOB = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
_GLOB_PIECES = re.compile(r"(\*\*|\*|\?)")


def compile_excludes(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regular expression for ``exclude`` globs, matched against relative paths.

    As the original's: ``**`` is any run of characters, ``*`` (and ``?``) stay within a
    segment, and a folder's path is tried with a trailing ``/`` too, so
    ``**/tests/**`` skips a whole ``tests`` folder without walking it.
    """
    if not patterns:
        return None
    parts = []
    for pattern in patterns:
        text = pattern.strip().replace("\\", "/").lstrip("/")
        while text.startswith("./"):
            text = text[2:]
        regex = "".join(
            _GLOB.get(piece) or re.escape(piece) for piece in _GLOB_PIECES.split(text) if piece
        )
        parts.append(f"(?:{regex})")
    return re.compile("|".join(parts))


class _Scan:
    """One pass over the tokens: files found, by real path, and warnings."""

    def __init__(
        self,
        base: str,
        warnings: list[str],
        *,
        agents: tuple[str, ...] = (),
        exclude: re.Pattern[str] | None = None,
    ) -> None:
        self.base = base
        self.warnings = warnings
        self.agents = agents
        self.exclude = exclude
        self.found: dict[str, str] = {}  # real path -> relative path

    def excluded(self, relpath: str) -> bool:
        """Whether an ``exclude`` glob matches the path (or the path as a folder)."""
        pattern = self.exclude
        return pattern is not None and (
            pattern.fullmatch(relpath) is not None or pattern.fullmatch(relpath + "/") is not None
        )

    def outside(self, relpath: str) -> None:
        self.warnings.append(
            f"[navai] Skipped {relpath}: it resolves outside the base directory, "
            "and nothing outside it is ever imported."
        )

    def token(self, token: str) -> bool | None:
        """Scan one token. ``True`` if it matched files, ``None`` if it was refused."""
        raw = token.strip().replace("\\", "/")
        if raw.startswith("/") or _DRIVE.match(raw) or os.path.isabs(raw):
            self.warnings.append(
                f"[navai] Ignored functions folder {token!r}: absolute paths are not allowed; "
                "give a path relative to the base directory."
            )
            return None
        recursive = raw == "..." or raw.endswith("/...")
        if raw == "...":
            raw = ""
        elif raw.endswith("/..."):
            raw = raw[:-4]
        segments = [segment for segment in raw.split("/") if segment not in ("", ".")]
        if ".." in segments:
            self.warnings.append(
                f"[navai] Ignored functions folder {token!r}: '..' is not allowed; "
                "functions must live inside the base directory."
            )
            return None
        plain_folder = not (
            recursive or _MAGIC.search(raw) or (segments and segments[-1].endswith(".py"))
        )
        if self.agents and plain_folder:
            # As the original's createPathMatcher: with agent folders set, a plain folder
            # token means only {folder}/{agent}/ for each listed agent.
            expanded = [[*segments, agent] for agent in self.agents]
        else:
            expanded = [segments]
        return (
            sum(self._take(path, rel) for parts in expanded for path, rel in self._expand(parts))
            > 0
        )

    def _expand(self, segments: list[str]) -> Iterator[tuple[str, list[str]]]:
        """Paths the segments name (wildcards matched one segment at a time)."""
        matches: list[tuple[str, list[str]]] = [(self.base, [])]
        for position, segment in enumerate(segments):
            last = position == len(segments) - 1
            following: list[tuple[str, list[str]]] = []
            for path, rel in matches:
                if not _MAGIC.search(segment):
                    if not last and _skipped_name(segment):
                        continue
                    following.append((os.path.join(path, segment), [*rel, segment]))
                    continue
                try:
                    entries = sorted(os.scandir(path), key=lambda entry: entry.name)
                except OSError:
                    continue
                following.extend(
                    (entry.path, [*rel, entry.name])
                    for entry in entries
                    if not _skipped_name(entry.name) and fnmatch.fnmatchcase(entry.name, segment)
                )
            matches = following
        return iter(matches)

    def _take(self, path: str, rel: list[str]) -> int:
        """Add the file, or the folder's files; return how many ``.py`` files matched."""
        relpath = "/".join(rel) or "."
        if not os.path.exists(path) or (rel and self.excluded(relpath)):
            return 0
        real = os.path.realpath(path)
        if not _inside(real, self.base):
            self.outside(relpath)
            return 0
        if any(_is_venv(os.path.join(self.base, *rel[:end])) for end in range(1, len(rel))):
            return 0
        if os.path.isdir(path):
            if rel and _skipped_name(rel[-1]):
                return 0
            return self._walk(path, real, rel)
        if rel and rel[-1].endswith(".py") and not rel[-1].startswith("."):
            self.found.setdefault(real, relpath)
            return 1
        return 0

    def _walk(self, top: str, top_real: str, top_rel: list[str]) -> int:
        matched = 0
        visited: set[str] = set()  # real paths: a symlink loop is walked once
        stack = [(top, top_real, top_rel)]
        while stack:
            path, real, rel = stack.pop()
            if real in visited:
                continue
            visited.add(real)
            try:
                entries = sorted(os.scandir(path), key=lambda entry: entry.name, reverse=True)
            except OSError:  # pragma: no cover - unreadable folder
                continue
            if any(entry.name == "pyvenv.cfg" for entry in entries):
                continue  # a virtual environment: thousands of modules that are not tools
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                is_dir = entry.is_dir()
                if is_dir and name in _SKIPPED_DIRS:
                    continue
                if not is_dir and not (name.endswith(".py") and entry.is_file()):
                    continue
                child_rel = [*rel, name]
                if self.exclude is not None and self.excluded("/".join(child_rel)):
                    continue
                child_real = os.path.join(real, name)
                if entry.is_symlink():
                    child_real = os.path.realpath(entry.path)
                    if not _inside(child_real, self.base):
                        self.outside("/".join(child_rel))
                        continue
                if is_dir:
                    stack.append((entry.path, child_real, child_rel))
                else:
                    matched += 1
                    self.found.setdefault(child_real, "/".join(child_rel))
        return matched


def collect_sources(
    base: str,
    tokens: tuple[str, ...] | None,
    warnings: list[str],
    *,
    agents: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] | None = None,
) -> list[SourceFile]:
    """The ``.py`` files the folder tokens name, sorted by relative path.

    If configured tokens match nothing, the default folder is used instead (with a
    warning), so a typo in the setting is loud but does not take every tool away.

    Args:
        base: The base directory, already resolved with ``os.path.realpath``.
        tokens: The configured tokens; ``None`` or empty for the default folder.
        warnings: Where to append warnings.
        agents: Agent folder names: a plain folder token then matches only
            ``{folder}/{agent}/`` for these (``NAVAI_AGENTS_FOLDERS``).
        exclude: Globs of relative paths never scanned, on top of the built-in skips
            (``NAVAI_FUNCTIONS_EXCLUDE``).

    Returns:
        Files in a stable order, each once even when several tokens name it.
    """
    scan = _Scan(base, warnings, agents=agents or (), exclude=compile_excludes(exclude or ()))
    if tokens:
        unmatched = [token for token in tokens if scan.token(token) is False]
        if scan.found:
            warnings.extend(
                f"[navai] Functions folder {token!r} matched no .py files." for token in unmatched
            )
        else:
            listed = ", ".join(repr(token) for token in tokens)
            warnings.append(
                f"[navai] The configured functions folders ({listed}) matched no .py files; "
                f"falling back to the default folder {DEFAULT_FOLDER!r}."
            )
    if not scan.found:
        scan.token(DEFAULT_FOLDER)
        if not scan.found:
            warnings.append(
                f"[navai] The default functions folder {DEFAULT_FOLDER!r} has no .py files "
                f"under {base}; no functions were loaded."
            )
    files = [SourceFile(relpath=rel, realpath=real) for real, rel in scan.found.items()]
    files.sort(key=lambda source: source.relpath)
    return files


def module_prefix(base: str) -> str:
    """The package-like prefix of module names for one base directory.

    A hash of the base directory keeps two registries over different trees apart in
    ``sys.modules`` even when their files have the same relative paths.
    """
    digest = hashlib.sha256(base.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"navai_functions_{digest}"


def module_name(prefix: str, relpath: str, taken: set[str]) -> str:
    """A unique module name for a file: ``{prefix}.tools.weather`` for ``tools/weather.py``."""
    parts = relpath.removesuffix(".py").split("/")
    cleaned = []
    for part in parts:
        part = _NOT_IDENTIFIER.sub("_", part) or "_"  # noqa: PLW2901
        cleaned.append(f"_{part}" if part[0].isdigit() else part)
    name = f"{prefix}.{'.'.join(cleaned)}"
    if name in taken:
        name = f"{name}_{hashlib.sha256(relpath.encode()).hexdigest()[:8]}"
    taken.add(name)
    return name


def import_source(source: SourceFile, name: str, warnings: list[str]) -> ModuleType | None:
    """Import one file by path under ``name``; on failure warn and return ``None``.

    The module is in ``sys.modules`` while it runs (dataclasses and ``get_type_hints``
    look it up there) and taken out again if it fails, so a broken file leaves nothing
    behind. ``sys.path`` is not touched.
    """
    spec = importlib.util.spec_from_file_location(name, source.realpath)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py path always has one
        warnings.append(f"[navai] Failed to load {source.relpath}: no loader for this file")
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        warnings.append(f"[navai] Failed to load {source.relpath}: {type(exc).__name__}: {exc}")
        return None
    return module


def _is_service_class(cls: type) -> bool:
    """Classes whose methods can be tools: not enums, exceptions, protocols or ABCs."""
    return not (
        issubclass(cls, (enum.Enum, BaseException))
        or getattr(cls, "_is_protocol", False)
        or inspect.isabstract(cls)
    )


def _class_candidates(
    cls: type, export_name: str, prefix: str, require_decorator: bool
) -> Iterator[Candidate]:
    owner_meta = get_meta(cls)
    class_name = owner_meta.name if owner_meta and owner_meta.name else export_name
    seen: set[str] = set()
    for klass in cls.__mro__:
        if klass is not cls and not klass.__module__.startswith(prefix + "."):
            continue  # methods from object or from libraries are not this class's tools
        for attr, value in vars(klass).items():
            if attr.startswith("_") or attr in seen:
                continue
            seen.add(attr)
            kind: MethodKind
            if isinstance(value, staticmethod):
                kind, func = "staticmethod", value.__func__
            elif isinstance(value, classmethod):
                kind, func = "classmethod", value.__func__
            elif inspect.isfunction(value):
                kind, func = "method", value
            else:
                continue
            meta = get_meta(func)
            if require_decorator and meta is None and owner_meta is None:
                continue
            yield Candidate(
                qualname=f"{export_name}.{attr}",
                raw_name=f"{class_name}_{attr}",
                func=func,
                owner=cls,
                kind=kind,
                meta=meta,
                owner_meta=owner_meta,
            )


def _is_service_object(obj: object) -> bool:
    """An object whose members may be tools: not a module, routine, class or plain data."""
    return not (
        obj is None
        or isinstance(obj, (ModuleType, str, bytes, int, float, complex, list, tuple, dict, set))
        or inspect.isroutine(obj)
        or inspect.isclass(obj)
    )


def _object_candidates(
    obj: object, export_name: str, prefix: str, require_decorator: bool
) -> Iterator[Candidate]:
    """One candidate per public callable member of an object named in ``__all__``.

    Members are the object's own attributes that are Python functions (a namespace of
    functions, a lambda set on an instance) and the methods of its class, where the
    class is defined in a scanned module: methods inherited from ``object`` or from a
    library are not this object's tools, as for classes.
    """
    seen: set[str] = set()
    own = getattr(obj, "__dict__", None)
    members: list[tuple[str, Any]] = []
    if isinstance(own, dict):
        for attr, value in own.items():
            # Plain functions only: a bound method stored on it (``self.log = logger.info``)
            # belongs to another object, which nobody listed.
            if isinstance(attr, str) and inspect.isfunction(value):
                members.append((attr, value))
    for klass in type(obj).__mro__:
        if not klass.__module__.startswith(prefix + "."):
            continue
        for attr, value in vars(klass).items():
            if isinstance(value, (staticmethod, classmethod)) or inspect.isfunction(value):
                members.append((attr, getattr(obj, attr, None)))
    for attr, member in members:
        if attr.startswith("_") or attr in seen or not callable(member):
            continue
        seen.add(attr)
        meta = get_meta(member)
        if require_decorator and meta is None:
            continue
        yield Candidate(
            qualname=f"{export_name}.{attr}",
            raw_name=f"{export_name}_{attr}",
            func=member,
            owner=None,
            kind="function",
            meta=meta,
        )


def exported_candidates(
    module: ModuleType, prefix: str, require_decorator: bool
) -> Iterator[Candidate]:
    """The functions and class methods a module exposes, in definition order.

    Without ``__all__``: public functions and classes whose ``__module__`` is this
    module, so ``from os import system`` never becomes a tool, each once (an alias such
    as ``lookup = find_order`` adds no second tool). With ``__all__``: exactly the
    public names it lists, re-exports included, since listing a name there is a
    deliberate act; an object it lists (neither a class nor a function) gives one tool
    per public callable member, ``{object}_{member}``, as the original does for an
    exported object. Only ``__all__`` does that, so a module-level logger or client
    never turns into tools by accident.
    """
    namespace = vars(module)
    listed = namespace.get("__all__")
    if isinstance(listed, (list, tuple)):
        names = [name for name in listed if isinstance(name, str)]
        check_origin = False
    else:
        names = list(namespace)
        check_origin = True
    seen: set[int] = set()
    for name in names:
        if name.startswith("_"):
            continue
        obj = namespace.get(name)
        if check_origin:
            if getattr(obj, "__module__", None) != module.__name__ or id(obj) in seen:
                continue
            seen.add(id(obj))
        if inspect.isclass(obj):
            if _is_service_class(obj):
                yield from _class_candidates(obj, name, prefix, require_decorator)
        elif not check_origin and _is_service_object(obj):
            yield from _object_candidates(obj, name, prefix, require_decorator)
        elif inspect.isfunction(obj):
            meta = get_meta(obj)
            if require_decorator and meta is None:
                continue
            yield Candidate(
                qualname=name,
                raw_name=name,
                func=obj,
                owner=None,
                kind="function",
                meta=meta,
            )
