"""Free loopback ports for the test servers (controllers, API doubles, API servers)."""
from __future__ import annotations

import socket


def free_port() -> int:
    """A local TCP port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
