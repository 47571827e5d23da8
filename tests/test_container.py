"""The Dockerfile, checked without docker: non-root, and a command `navai serve` accepts."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from navai_adapters.cli import _build_parser

DOCKERFILE = Path(__file__).parents[1] / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def test_the_container_runs_as_a_non_root_user() -> None:
    steps = instructions()
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users, "no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # Nothing after the last USER switches back to root or installs anything.
    last_user = max(i for i, (keyword, _) in enumerate(steps) if keyword == "USER")
    assert not any(keyword == "RUN" for keyword, _ in steps[last_user:])


def test_the_command_is_a_valid_navai_serve() -> None:
    command = json.loads(next(rest for keyword, rest in instructions() if keyword == "CMD"))
    assert command[:2] == ["navai", "serve"]
    args = _build_parser().parse_args(command[1:])
    assert args.host == "0.0.0.0"
    assert args.strict is True


def test_the_health_check_uses_the_health_route() -> None:
    check = next(rest for keyword, rest in instructions() if keyword == "HEALTHCHECK")
    assert "/navai/health" in check
    assert shlex.split(check)  # well-formed
