"""A ping every 10 ms running while something happens, and the pings it lost: the replies missing before the last
one answered (the one in flight when it stops is not counted as lost)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading


class Pinger:
    def __init__(self, argv: list[str]):
        """``argv`` runs ``ping`` (in a pod: ``ip netns exec ...`` or ``kubectl exec ...``) with ``-i 0.01``."""
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.replies: set[int] = set()
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            found = re.search(r"icmp_seq=(\d+) ttl=", line)
            if found:
                self.replies.add(int(found.group(1)))

    def answered(self) -> int:
        return len(self.replies)

    def stop(self) -> tuple[int, int]:
        """(pings answered, pings lost before the last answer)."""
        if self.proc.poll() is None:
            try:
                _killpg(self.proc.pid, signal.SIGINT)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                _killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._reader.join(10)
        if not self.replies:
            return 0, 0
        first, last = min(self.replies), max(self.replies)
        return len(self.replies), (last - first + 1) - len(self.replies)


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
