"""Fixtures shared by the HTTP contract suite and the security suite: fake upstreams, adapters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_elevenlabs import FakeElevenLabs
from tests.fake_openai import FakeOpenAI

ADAPTERS = ("starlette", "wsgi")


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fake OpenAI on a real socket, one per test module."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="module")
def fake_elevenlabs() -> Iterator[FakeElevenLabs]:
    """A fake ElevenLabs text-to-speech on a real socket, one per test module."""
    with FakeElevenLabs() as fake:
        yield fake


@pytest.fixture(scope="module", params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> str:
    """Each adapter in turn: every test using it runs against both."""
    return str(request.param)
