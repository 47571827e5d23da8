"""Quality gates: the same commands locally and in CI.

nox -t tests     # the suite on every supported Python found, the lowest allowed
                 # dependencies, then one combined coverage report (README's command)
nox -s tests     # the suite on every supported Python found, then the coverage report
nox -s lowest    # the suite against the lowest versions pyproject.toml allows
nox -s newest    # the suite against today's newest releases, skipping any cache
nox -s browser   # the WebRTC example page in headless Chromium (part of -t tests)
nox -s lint      # ruff check + ruff format --check
nox -s typing    # mypy --strict on the packages and tests/typing
nox -s docs      # mkdocs build --strict (warnings are errors)

The supported Pythons are read from pyproject.toml's classifiers, as stamina's noxfile
does, so the list lives in one place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typing", "docs"]
nox.options.default_venv_backend = "venv"

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHONS = nox.project.python_versions(PYPROJECT)
OLDEST = PYTHONS[0]
COVERAGE_FLOOR = "95"
# CI runs on a clean machine: a supported Python it cannot find is a failure there, and a
# skipped session with a note on a developer's machine.
nox.options.error_on_missing_interpreters = bool(os.environ.get("CI"))


def _runs(python: str, version: str) -> bool:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def _patch_level(python: Path) -> int:
    patch = python.parents[1].name.split(".")[2]
    return int(patch) if patch.isdigit() else -1


def _find_interpreters() -> None:
    """Put each supported Python that is installed, but not on PATH, on PATH.

    pyenv installs several versions side by side while its shims answer only for the
    selected ones: ``python3.12`` is then on PATH yet fails. Look in pyenv's (and
    asdf's) version folders for each supported version that PATH does not run.
    """
    roots = [Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"]
    roots.append(Path.home() / ".asdf" / "installs" / "python")
    extra: list[str] = []
    for version in PYTHONS:
        found = shutil.which(f"python{version}")
        if found and _runs(found, version):
            continue
        candidates = sorted(
            (path for root in roots for path in root.glob(f"{version}.*/bin/python{version}")),
            key=_patch_level,
        )
        for candidate in reversed(candidates):
            if _runs(str(candidate), version):
                extra.append(str(candidate.parent))
                break
    if extra:
        os.environ["PATH"] = os.pathsep.join([*extra, os.environ.get("PATH", "")])


_find_interpreters()


def _group(name: str) -> list[str]:
    return nox.project.dependency_groups(PYPROJECT, name)


def _pytest_with_coverage(session: nox.Session) -> None:
    # Each run writes its own data file (parallel = true); `coverage` combines them all,
    # so a branch taken only on 3.10 counts as covered. pytest exits 5 when it collects
    # nothing: nox counts that as a failure, as it must.
    session.run("coverage", "run", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHONS, tags=["tests"])
def tests(session: nox.Session) -> None:
    """Install the package as a user would (not editable) and run every test."""
    session.install(".[server,ratelimit]", *_group("tests"))
    _pytest_with_coverage(session)
    session.notify("coverage")


@nox.session(python=OLDEST, venv_backend="uv", tags=["tests"])
def lowest(session: nox.Session) -> None:
    """Every test against the lowest versions that pyproject.toml allows.

    uv resolves the lowest version of each direct requirement (the package's and the
    tests'); their own dependencies take what those versions accept. A lower bound that
    this run does not pass is a lower bound that is not true: raise it.
    """
    session.install("--resolution", "lowest-direct", ".[server,ratelimit]", *_group("tests"))
    # Not measured: coverage is the version sessions' job, with a current coverage.py.
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHONS[-1], tags=["tests"])
def browser(session: nox.Session) -> None:
    """The WebRTC example page in headless Chromium, with an aiortc peer playing OpenAI.

    Needs Chromium on the machine (``apt-get install chromium``); the test skips without it.
    """
    session.install(".[server]", *_group("tests"), *_group("browser"))
    session.run("pytest", "tests/browser", *session.posargs)


@nox.session(python=PYTHONS[-1], venv_backend="uv")
def newest(session: nox.Session) -> None:
    """Every test against today's newest releases, whatever a cache or lock holds.

    Run it whenever you like to learn early what a new release of a dependency breaks;
    CI's fresh environments resolve the newest releases too.
    """
    session.install("--refresh", "--upgrade", ".[server,ratelimit]", *_group("tests"))
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHONS[-1])
def coverage(session: nox.Session) -> None:
    """Combine the coverage of every run before it, and hold it to the floor."""
    session.install("coverage[toml]")
    session.run("coverage", "combine", success_codes=[0, 1])
    session.run("coverage", "report", f"--fail-under={COVERAGE_FLOOR}")
    session.run("coverage", "erase")


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff's checks and formatting."""
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict on the packages and on tests/typing (the public API as users write it)."""
    session.install("-e", ".[server,ratelimit]", *_group("typing"))
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs with warnings as errors."""
    session.install(*_group("docs"))
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")
