"""How long each step of one CNI request took: the daemon logs it with the request, and ``bench/dataplane`` reads
it back to show where an attach spends its time."""
from __future__ import annotations

import json
import re
import time

STEPS_LINE = re.compile(r"ADD (?P<host_if>\S+) steps (?P<steps>\{.*\})")


class Steps:
    """Milliseconds per named step, in the order the steps ended; each step runs from the end of the one before."""

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.last = clock()
        self.ms: dict[str, float] = {}
        self.parts: dict[str, float] = {}  # parts run side by side within a step: not added to the steps

    def done(self, name: str) -> None:
        now = self.clock()
        self.ms[name] = round((now - self.last) * 1000, 3)
        self.last = now

    def within(self, name: str, started: float) -> None:
        """A part of the current step that began at ``started`` (a :attr:`clock` reading) ended now."""
        self.parts[name] = round((self.clock() - started) * 1000, 3)

    def line(self, host_if: str) -> str:
        """The log line of an ADD of ``host_if`` (:func:`parse_line` reads it)."""
        return f"ADD {host_if} steps {json.dumps({'steps': self.ms, 'parts': self.parts})}"


def parse_line(line: str) -> tuple[str, dict[str, float], dict[str, float]] | None:
    """(host interface, {step: ms}, {part run side by side within a step: ms}) from a daemon log line written by
    :meth:`Steps.line`, or None."""
    found = STEPS_LINE.search(line)
    if not found:
        return None
    logged = json.loads(found["steps"])
    return found["host_if"], logged["steps"], logged["parts"]
