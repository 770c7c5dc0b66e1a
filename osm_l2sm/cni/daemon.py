"""The node daemon behind ``l2sm-cni``: a root-only unix socket where the plugin forwards each CNI request.

One request per connection, one JSON line each way: the plugin sends ``{"command", "containerID", "netns",
"ifName", "args", "path", "config"}`` and gets ``{"result": {...}}`` (ADD), ``{}`` or ``{"error": {"code", "msg",
"details"}}``. A background loop releases controller ports that DEL could not release at the time; another one
registers the switch and announces the attachments' ports again to a controller that may have lost them
(:mod:`.rejoin`).
"""
from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import struct
import threading

from osm_l2sm.errors import L2smError

from .attachments import Attachments
from .config import NodeConfig, parse_request
from .errors import OTHER, CniError
from .handler import Handler
from .rejoin import rejoin_loop

LOG = logging.getLogger(__name__)
DEFAULT_SOCKET = "/run/l2sm/cni.sock"  # the plugin's default too (cni/main.go)
RELEASE_RETRY_S = (1, 2, 5, 10, 30)


def _peer_uid(sock: socket.socket) -> int:
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return uid


def answer(handler: Handler, line: bytes) -> dict:
    """The reply to one request line; every failure becomes the spec's error object."""
    try:
        result = handler.handle(parse_request(line))
        return {"result": result} if result is not None else {}
    except CniError as err:
        return {"error": err.to_dict()}
    except L2smError as err:
        return {"error": CniError(OTHER, str(err)).to_dict()}
    except Exception as err:  # the runtime must always get the spec's error object
        LOG.exception("request failed")
        return {"error": CniError(OTHER, f"{type(err).__name__}: {err}").to_dict()}


class _Connection(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        if _peer_uid(self.connection) != 0:  # the socket's mode says so too; this holds if someone loosens it
            return
        line = self.rfile.readline()
        if line:
            self.wfile.write(json.dumps(answer(self.server.cni, line)).encode() + b"\n")


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def _listen(path: str) -> _Server:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)  # a stale socket of an earlier run
    old = os.umask(0o077)  # root-only from the first moment, before the chmod below
    try:
        server = _Server(path, _Connection)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return server


def _release_loop(handler: Handler, stop: threading.Event) -> None:
    step = 0
    while not stop.wait(RELEASE_RETRY_S[step]):
        try:
            remaining = handler.retry_releases()
        except Exception:
            LOG.exception("releasing controller ports")
            remaining = 1
        step = min(step + 1, len(RELEASE_RETRY_S) - 1) if remaining else 0


def serve(node: NodeConfig, socket_path: str = DEFAULT_SOCKET, ready=None) -> None:
    """Serve until interrupted; ``ready`` (if given) is called once the socket accepts connections."""
    handler = Handler(node, Attachments(os.path.join(node.ovs_rundir, "cni-attachments.json")))
    server = _listen(socket_path)
    server.cni = handler
    stop = threading.Event()
    threading.Thread(target=_release_loop, args=(handler, stop), daemon=True).start()
    threading.Thread(target=rejoin_loop, args=(handler, stop), daemon=True).start()
    LOG.info("l2sm CNI daemon of switch %s listening on %s", node.switch, socket_path)
    if ready:
        ready()
    try:
        server.serve_forever()
    finally:
        stop.set()
        server.server_close()
        if os.path.exists(socket_path):
            os.unlink(socket_path)
