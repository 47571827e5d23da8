"""Gates: a backend function served in this process waits until the test opens its gate.

A test orders its steps on what the function did (entered, still inside, cancelled) instead
of sleeping and hoping the server got there first. Backend functions are imported by path
under names of their own, so the gates live here, in the one module both sides import as
``tests.gates``.
"""

from __future__ import annotations

import itertools
import threading

_NUMBERS = itertools.count()
_GATES: dict[str, Gate] = {}
_LOCK = threading.Lock()


class Gate:
    """Calls pass only once it is open; it counts who entered, who is inside, who was cancelled."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.opened = threading.Event()
        self.cancelled = threading.Event()
        self.entered = 0
        self.inside = 0
        self.most_inside = 0
        self._changed = threading.Condition()

    def enter(self) -> None:
        with self._changed:
            self.entered += 1
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
            self._changed.notify_all()

    def leave(self) -> None:
        with self._changed:
            self.inside -= 1
            self._changed.notify_all()

    def wait_until(self, *, entered: int | None = None, inside: int | None = None) -> None:
        """Wait (10 s at most, a generous deadline) until that many calls entered / are inside."""
        with self._changed:
            reached = self._changed.wait_for(
                lambda: (
                    (entered is None or self.entered >= entered)
                    and (inside is None or self.inside == inside)
                ),
                timeout=10,
            )
        assert reached, f"gate {self.name}: entered {self.entered}, inside {self.inside}"

    def open(self) -> None:
        self.opened.set()


def new_gate() -> Gate:
    """A closed gate with a name of its own (the name is what a function is called with)."""
    gate = Gate(f"gate-{next(_NUMBERS)}")
    with _LOCK:
        _GATES[gate.name] = gate
    return gate


def gate(name: str) -> Gate:
    """The gate a function was told to wait at."""
    with _LOCK:
        return _GATES[name]
