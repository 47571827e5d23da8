"""Quality gates: the same commands locally and in CI.

nox -s tests     # the test suite, with branch coverage
nox -s lint      # ruff check + ruff format --check
nox -s typing    # mypy --strict on the packages and tests/typing
nox -s docs      # mkdocs build --strict (warnings are errors)
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typing", "docs"]
nox.options.error_on_missing_interpreters = False
nox.options.default_venv_backend = "venv"

PYPROJECT = nox.project.load_toml("pyproject.toml")
COVERAGE_FLOOR = "95"


def _group(name: str) -> list[str]:
    return nox.project.dependency_groups(PYPROJECT, name)


@nox.session
def tests(session: nox.Session) -> None:
    """Install the package as a user would (not editable) and run every test."""
    session.install(".[server,ratelimit]", *_group("tests"))
    session.run("coverage", "erase")
    # pytest exits 5 when it collects nothing: nox counts that as a failure, as it must.
    session.run("coverage", "run", "-m", "pytest", *session.posargs)
    session.run("coverage", "combine", success_codes=[0, 1])
    session.run("coverage", "report", f"--fail-under={COVERAGE_FLOOR}")


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
