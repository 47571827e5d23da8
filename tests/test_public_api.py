"""The public surface: what is exported, sorted, and importable; no web framework in the core."""

from __future__ import annotations

import subprocess
import sys

import pytest

import navai_adapters
import navai_core
from navai_core import exceptions


@pytest.mark.parametrize("module", [navai_core, navai_adapters, exceptions])
def test_all_is_sorted_and_complete(module) -> None:
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), name
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", module.__name__).startswith(module.__name__.split(".")[0])
        and not isinstance(value, type(sys))
    }
    assert public <= set(module.__all__) | {"annotations"}


def test_every_exception_is_a_navai_error_with_a_status() -> None:
    for name in exceptions.__all__:
        error = getattr(exceptions, name)
        assert issubclass(error, exceptions.NavaiError)
        assert 200 <= error.status_code < 600


def test_core_imports_no_web_framework() -> None:
    code = (
        "import sys, navai_core; "
        "bad = [m for m in ('starlette', 'fastapi', 'flask', 'django', 'uvicorn', 'werkzeug') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_version_matches_distribution() -> None:
    from importlib.metadata import version

    assert navai_core.__version__ == version("navai")
