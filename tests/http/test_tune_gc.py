"""``tune_gc``: the garbage-collector settings ``navai serve`` applies after startup."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest

from navai_adapters import tune_gc


def run_isolated(code: str) -> dict[str, object]:
    # The settings are the process's: change them in a process of their own.
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_freezes_the_startup_heap_and_raises_the_young_threshold() -> None:
    state = run_isolated(
        "import gc, json\n"
        "import navai_adapters.starlette\n"
        "before = gc.get_threshold()\n"
        "navai_adapters.tune_gc()\n"
        "after = gc.get_threshold()\n"
        "print(json.dumps({'before': before, 'after': after,"
        " 'frozen': gc.get_freeze_count(), 'young_left': len(gc.get_objects(0))}))\n"
    )
    young, middle, old = state["before"]
    # Only the young threshold changes, and only upwards: the interpreter's default
    # differs between versions (700 up to 3.12, 2,000 on 3.13).
    assert state["after"] == [max(young, 10_000), middle, old]
    assert isinstance(state["frozen"], int)
    assert state["frozen"] > 10_000  # starlette, httpx, attrs, navai: all frozen
    # Collected, then frozen: nothing left to walk but get_objects' own list.
    assert state["young_left"] <= 1


def test_takes_another_threshold() -> None:
    state = run_isolated(
        "import gc, json, navai_adapters\n"
        "before = gc.get_threshold()\n"
        "navai_adapters.tune_gc(50_000)\n"
        "print(json.dumps({'before': before, 'after': gc.get_threshold()}))\n"
    )
    _, middle, old = state["before"]
    assert state["after"] == [50_000, middle, old]


def test_never_lowers_the_interpreters_threshold() -> None:
    state = run_isolated(
        "import gc, json, navai_adapters\n"
        "gc.set_threshold(20_000, 10, 10)\n"
        "navai_adapters.tune_gc(10_000)\n"
        "print(json.dumps({'after': gc.get_threshold()}))\n"
    )
    assert state["after"] == [20_000, 10, 10]


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, "young_threshold must be at least 1, not 0."),
        (-5, ValueError, "young_threshold must be at least 1, not -5."),
        (1.5, TypeError, "young_threshold must be a whole number, not 1.5."),
        (True, TypeError, "young_threshold must be a whole number, not True."),
        ("700", TypeError, "young_threshold must be a whole number, not '700'."),
    ],
)
def test_rejects_a_bad_threshold_before_changing_anything(
    value: object, error: type[Exception], message: str
) -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    with pytest.raises(error) as raised:
        tune_gc(value)  # type: ignore[arg-type]
    assert str(raised.value) == message
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)
