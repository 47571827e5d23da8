"""Fixtures that build module trees in tmp_path and load registries over them."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from navai_core import NavaiFunctionRegistry, _handback, load_navai_functions

Tree = Callable[[Mapping[str, str]], Path]
Load = Callable[..., NavaiFunctionRegistry]


def write_tree(base: Path, files: Mapping[str, str]) -> Path:
    """Write ``{relative path: source}`` under ``base`` (sources are dedented)."""
    for relative, source in files.items():
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return base


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """The base directory of the tree (a sub-folder, so tests can put files outside it)."""
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def tree(base: Path) -> Tree:
    """Write files under the base directory."""

    def make(files: Mapping[str, str]) -> Path:
        return write_tree(base, files)

    return make


@pytest.fixture
def load(base: Path) -> Iterator[Load]:
    """Load registries over the base directory; all are closed after the test.

    Defaults: folder ``.`` (everything under the base), an empty environment, a short
    timeout.
    """
    made: list[NavaiFunctionRegistry] = []

    def make(folders: Any = ".", **kwargs: Any) -> NavaiFunctionRegistry:
        kwargs.setdefault("env", {})
        kwargs.setdefault("timeout_seconds", 2.0)
        kwargs.setdefault("base_dir", base)
        registry = load_navai_functions(folders=folders, **kwargs)
        made.append(registry)
        return registry

    yield make
    for registry in made:
        registry.close()


@pytest.fixture
def one(tree: Tree, load: Load) -> Callable[[str], NavaiFunctionRegistry]:
    """Load a registry from a single module ``tools.py`` with the given source."""

    def make(source: str, **kwargs: Any) -> NavaiFunctionRegistry:
        tree({"tools.py": source})
        return load(**kwargs)

    return make


@pytest.fixture(params=["handback", "run_in_executor"])
def pool_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with the pool's hand-back, then with ``loop.run_in_executor``."""
    monkeypatch.setattr(_handback, "ENABLED", request.param == "handback")
    return str(request.param)
