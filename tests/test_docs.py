"""Every Python example in README.md and docs/ runs, as a reader would run it.

Each block runs in its own process with a fake OpenAI behind OPENAI_BASE_URL, in a
working directory laid out as the repository is where the docs point (``examples/functions``)
and whose default functions folder holds the same examples. A block must run without a
load warning. A block
that is a fragment on purpose says so on the line before it, with the reason:
``<!-- not-run: needs a running app -->``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# The functions registry's load warnings (a client's own "[navai] ..." warnings are fine).
LOAD_WARNING = re.compile(r"\[navai\] (Failed to load \S+\.py|.*matched no \.py files)")
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", re.DOTALL)


def examples() -> Iterator[object]:
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code")) + 1
            marks = []
            if "not-run:" in match.group("before"):
                reason = match.group("before").split("not-run:", 1)[1].strip(" ->")
                marks.append(pytest.mark.skip(reason=f"fragment: {reason}"))
            yield pytest.param(match.group("code"), id=f"{path.name}:{line}", marks=marks)


def test_docs_have_examples() -> None:
    assert len(list(examples())) >= 20


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("reader")
    shutil.copytree(ROOT / "examples" / "functions", where / "src" / "ai" / "functions-modules")
    # The docs run their examples from the repository's root (`--folders examples/functions`).
    shutil.copytree(ROOT / "examples" / "functions", where / "examples" / "functions")
    return where


@pytest.mark.parametrize("code", list(examples()))
def test_example_runs(code: str, fake: FakeOpenAI, workdir: Path) -> None:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "NAVAI_"))
    }
    env.update(OPENAI_API_KEY="sk-docs-example-key", OPENAI_BASE_URL=fake.url)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # An example that works only by falling back, or with a module failing, is wrong.
    assert not LOAD_WARNING.search(done.stderr), done.stderr
