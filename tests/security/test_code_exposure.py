"""Code exposure: only the registry's own tools run, whatever the request says.

A functions tree full of temptations (imported `os.system` and `subprocess`, private
functions and methods, a module outside the base directory reached by a symlink or by
`..` and absolute tokens) is served by both adapters. Each forbidden name is asked for
under many spellings; each must be a 404, and the outside module must never have been
imported (it would leave a marker file behind).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI

from .conftest import LIST, Served, assert_json, assert_json_error, execute, options_for, running

pytestmark = pytest.mark.integration

EXPOSED = '''
import importlib
import os
import subprocess
from os import popen, system
from shutil import rmtree
from subprocess import run as run_command

eval_alias = eval
_alias = system


def visible(x: int) -> int:
    """The one public function here."""
    return x


def visible_text(text: str) -> str:
    """Answer the text, which is data and never code."""
    return text


def _private() -> str:
    return "private"


def __dunder__() -> str:
    return "dunder"


class Helper:
    def public(self) -> str:
        return "public"

    def _secret(self) -> str:
        return "secret"

    def __call__(self) -> str:
        return "called"

    @staticmethod
    def _hidden() -> str:
        return "hidden"


class _PrivateClass:
    def method(self) -> str:
        return "private class"
'''

LISTED = """
from os import system

__all__ = ["safe"]


def safe() -> str:
    return "safe"


def not_listed() -> str:
    return "not listed"
"""

EVIL = """
from pathlib import Path

Path({marker!r}).write_text("imported")


def pwned() -> str:
    return "pwned"
"""

FORBIDDEN = [
    # imported names, under their own and dotted or prefixed spellings
    "system",
    "SYSTEM",
    "os.system",
    "os_system",
    "tools.system",
    "tools_system",
    "exposed.system",
    "exposed_system",
    "popen",
    "run_command",
    "subprocess",
    "subprocess.run",
    "subprocess_run",
    "rmtree",
    "importlib",
    "os",
    "__import__",
    "eval",
    "exec",
    "eval_alias",
    "listed_system",
    # private names
    "_private",
    "private",
    "__dunder__",
    "dunder",
    "_alias",
    "alias",
    "helper__secret",
    "helper_secret",
    "Helper._secret",
    "helper._secret",
    "helper__hidden",
    "helper_hidden",
    "helper___call__",
    "helper_call",
    "helper",
    "_private_class_method",
    "private_class_method",
    # a public name left out of __all__
    "not_listed",
    # the outside module, however it is named
    "pwned",
    "evil_pwned",
    "outside_evil_pwned",
    "linked_evil_pwned",
    "../outside/evil.py#pwned",
    "tools/exposed.py#_private",
    "exposed.py#system",
    # near misses of a real name
    "visible\x00",
    "visible()",
    "visible;system",
    "\uff56\uff49\uff53\uff49\uff42\uff4c\uff45",  # "visible" in full-width letters
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("exposure")
    base, outside = root / "project", root / "outside"
    (base / "tools").mkdir(parents=True)
    outside.mkdir()
    marker = root / "outside-was-imported"
    (outside / "evil.py").write_text(textwrap.dedent(EVIL.format(marker=str(marker))))
    (base / "tools" / "exposed.py").write_text(EXPOSED)
    (base / "tools" / "listed.py").write_text(LISTED)
    (base / "tools" / "evil_link.py").symlink_to(outside / "evil.py")
    (base / "linked").symlink_to(outside, target_is_directory=True)
    yield base, marker
    assert not marker.exists(), "the module outside the base directory was imported"


TOKENS = "tools,linked,../outside,/tmp,tools/../../outside,linked/evil.py,tools/evil_link.py"


@pytest.fixture(scope="module")
def exposed(adapter: str, tree, upstream: FakeOpenAI) -> Iterator[Served]:
    base, _ = tree
    options = options_for(upstream)
    with running(
        adapter,
        options,
        functions_base_dir=base,
        functions_folders=TOKENS,
        expose_load_warnings=True,
    ) as server:
        yield server


def test_only_defined_public_names_are_listed(exposed: Served, tree) -> None:
    body = assert_json(exposed.client.get(LIST), 200)
    assert sorted(item["name"] for item in body["items"]) == [
        "helper_public",
        "safe",
        "visible",
        "visible_text",
    ]
    warnings = "\n".join(body["warnings"])
    assert "'..' is not allowed" in warnings
    assert "absolute paths are not allowed" in warnings
    assert "resolves outside the base directory" in warnings
    assert not tree[1].exists()


@pytest.mark.parametrize("name", FORBIDDEN)
def test_forbidden_names_are_404_under_every_spelling(exposed: Served, name: str) -> None:
    for payload in (None, {}, {"args": ["echo pwned"]}, {"constructorArgs": {}, "methodArgs": {}}):
        body = assert_json_error(execute(exposed.client, name, payload), 404)
        assert body["error"] == "Unknown or disallowed function."
        assert set(body["available_functions"]) == {
            "helper_public",
            "safe",
            "visible",
            "visible_text",
        }


@pytest.mark.parametrize("name", ["visible", "VISIBLE", "  Visible\t", "\nvisible\n"])
def test_a_real_name_is_matched_trimmed_and_in_any_case(exposed: Served, name: str) -> None:
    body = assert_json(execute(exposed.client, name, {"x": 7}), 200)
    assert body == {
        "ok": True,
        "function_name": "visible",
        "source": "tools/exposed.py#visible",
        "result": 7,
    }


def test_arguments_are_data_never_code(exposed: Served, tree) -> None:
    code = f"__import__('pathlib').Path({str(tree[1])!r}).write_text('ran')"
    assert execute(exposed.client, "visible_text", {"text": code}).json()["result"] == code
    assert assert_json_error(execute(exposed.client, "visible", {"x": code}), 400)
    assert not tree[1].exists()


def test_class_methods_expose_only_public_ones(exposed: Served) -> None:
    body = execute(exposed.client, "helper_public", {"constructorArgs": None}).json()
    assert body["result"] == "public"
