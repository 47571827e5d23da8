"""Fixtures shared by the HTTP contract suite and the security suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_openai import FakeOpenAI

ADAPTERS = ("starlette", "wsgi")


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fake OpenAI on a real socket, one per test module."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="module", params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> str:
    """Each adapter in turn: every test using it runs against both."""
    return str(request.param)
