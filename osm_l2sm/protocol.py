"""What the controller and its peers (switch agent, CNI daemon, sandbox, operator, CLI) must agree on to talk to
each other, written once: the REST prefix and default ports, the token's environment variable, and the datapath id
a switch name gets (the switch sets it on its bridge; the controller checks it against a TLS certificate's name)."""
from __future__ import annotations

import hashlib

TOKEN_ENV = "L2SM_CONTROLLER_TOKEN"  # the REST bearer token: passed in the environment, never on a command line
REST_PREFIX = "/api/v1"
OPENFLOW_PORT = 6653
REST_PORT = 8181


def dpid_for(name: str) -> str:
    """A deterministic datapath id (16 hex digits, never zero) for a switch name."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return digest if int(digest, 16) else "0000000000000001"
