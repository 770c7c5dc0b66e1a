"""Waiting, the way every box does it: for a condition, with a deadline; for work run side by side; and stopping a
process (SIGTERM, grace, SIGKILL)."""
from __future__ import annotations

import contextlib
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_until(probe: Callable[[], T], timeout: float, interval: float = 0.1) -> T:
    """Call ``probe`` every ``interval`` seconds until it returns something true, which is returned, or until
    ``timeout`` seconds have passed: then its last answer (false) is returned, from a call made at the deadline. An
    exception of ``probe`` ends the wait."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        left = deadline - time.monotonic()
        if result or left <= 0:
            return result
        time.sleep(min(interval, left))


def in_parallel(calls: list[Callable[[], T]]) -> list[T]:
    """Run each of ``calls`` on a thread of its own; their results, in order, once every one has ended (so nothing
    is left running): the first failure is raised then."""
    if len(calls) < 2:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        wait(futures)
    return [f.result() for f in futures]


def pid_alive(pid: int) -> bool:
    """The process exists and is not a zombie (reaped here when it is our child)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def stop_process(pid: int, alive: Callable[[], bool] | None = None, grace: float = 5.0,
                 kill_wait: float = 2.0, group: bool = False) -> bool:
    """SIGTERM ``pid``, wait up to ``grace`` seconds for ``alive()`` to turn false, else SIGKILL and wait up to
    ``kill_wait`` seconds. ``alive`` (default :func:`pid_alive`) tells whether the pid is still the process meant:
    a recorded pid may have been reused. ``group``: signal the process group ``pid`` leads (a process started in a
    session of its own, with its workers). True when the process is gone."""
    alive = alive or (lambda: pid_alive(pid))
    kill = os.killpg if group else os.kill
    for sig, seconds in ((signal.SIGTERM, grace), (signal.SIGKILL, kill_wait)):
        if not alive():
            return True
        with contextlib.suppress(ProcessLookupError):
            kill(pid, sig)
        wait_until(lambda: not alive(), seconds, interval=0.05)
    return not alive()
