"""The original browser client, unchanged, against both adapters.

`@navai/voice-frontend`'s `createNavaiBackendClient` (pinned in package-lock.json) runs
in Node against our real servers: secrets, listing and execution must read exactly as it
expects, including `ok: false` failures surfacing their `details`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Served

HERE = Path(__file__).parents[1] / "node_client"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def node_client() -> Path:
    """Install the pinned client once (from the npm registry), or say why we cannot."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Node.js and npm to check the original client.")
        pytest.skip("Node.js and npm are needed to run the original client.")
    if not (HERE / "node_modules" / "@navai" / "voice-frontend").is_dir():
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            check=True,
            timeout=600,
        )
    return HERE / "client.mjs"


def run_client(script: Path, url: str) -> dict:
    done = subprocess.run(
        ["node", str(script), url],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def test_original_frontend_client_works_unchanged(node_client: Path, server: Served) -> None:
    out = run_client(node_client, server.url)

    assert out["secret"]["ok"], out["secret"]
    assert out["secret"]["value"]["value"].startswith("ek_test_")
    assert isinstance(out["secret"]["value"]["expires_at"], int)
    assert out["secretDefaults"]["ok"], out["secretDefaults"]

    listed = out["list"]["value"]
    names = {item["name"] for item in listed["functions"]}
    assert {"add", "explode", "whoami", "counter_plus"} <= names
    add = next(item for item in listed["functions"] if item["name"] == "add")
    assert add == {
        "name": "add",
        "description": "Add two whole numbers.",
        "source": "app_functions/tools.py#add",
    }
    assert listed["warnings"] == []  # broken.py's failure is in the server log only

    assert out["add"] == {"ok": True, "value": 5}
    assert out["addArgs"] == {"ok": True, "value": 9}
    assert out["explode"] == {"ok": False, "message": "the widget is broken"}
    assert out["refuse"] == {"ok": False, "message": "Order B-7 was not found."}
    assert out["unknown"]["ok"] is False
    assert json.loads(out["unknown"]["message"])["error"] == "Unknown or disallowed function."
