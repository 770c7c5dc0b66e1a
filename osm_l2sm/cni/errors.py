"""The CNI spec's error object: a code, a message and details, printed on stdout with exit status 1."""
from __future__ import annotations

import json

# Well-known error codes of the CNI 1.0 specification.
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
CONTAINER_UNKNOWN = 3
INVALID_CONFIG = 4
IO_FAILURE = 5
DECODE_FAILURE = 6
INVALID_ENV = 7
TRY_AGAIN_LATER = 11
OTHER = 999


class CniError(Exception):
    """A failure reported to the runtime as the spec's error JSON."""

    def __init__(self, code: int, msg: str, details: str = ""):
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_json(self, cni_version: str) -> str:
        return json.dumps({"cniVersion": cni_version, "code": self.code, "msg": self.msg,
                           "details": self.details})
