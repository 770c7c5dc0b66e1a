"""The CNI spec's error object: a code, a message and details. The node daemon returns it to the plugin, which
prints it unchanged on stdout with exit status 1."""
from __future__ import annotations

# Well-known error codes of the CNI 1.1 specification ("Error codes" table).
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
CONTAINER_UNKNOWN = 3
INVALID_ENV = 4
IO_FAILURE = 5
DECODE_FAILURE = 6
INVALID_CONFIG = 7
TRY_AGAIN_LATER = 11
NOT_AVAILABLE = 50  # STATUS: cannot serve ADD now
OTHER = 999


class CniError(Exception):
    """A failure reported to the runtime as the spec's error JSON."""

    def __init__(self, code: int, msg: str, details: str = ""):
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_dict(self) -> dict:
        return {"code": self.code, "msg": self.msg, "details": self.details}
