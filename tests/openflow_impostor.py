"""An impostor switch: a raw OpenFlow 1.3 client that claims a datapath id, over plain TCP or TLS.

It answers HELLO, FEATURES_REQUEST (with the dpid it claims), echo, barrier and multipart requests (a port list
with no port), and reports whether the
controller kept the connection open, which is all a takeover needs."""
from __future__ import annotations

import socket
import ssl
import struct
import threading
import time

from osm_l2sm.processes import wait_until

OFP_VERSION = 4
HELLO, ECHO_REQUEST, ECHO_REPLY, FEATURES_REQUEST, FEATURES_REPLY = 0, 2, 3, 5, 6
MULTIPART_REQUEST, MULTIPART_REPLY, BARRIER_REQUEST, BARRIER_REPLY = 18, 19, 20, 21


def _message(kind: int, xid: int, body: bytes = b"") -> bytes:
    return struct.pack("!BBHI", OFP_VERSION, kind, 8 + len(body), xid) + body


class Impostor:
    def __init__(self, host: str, port: int, dpid: str, tls: tuple[str, str, str] | None = None):
        """``tls``: (key, certificate, CA) to present; None for plain TCP."""
        self.dpid = int(dpid, 16)
        def connected() -> socket.socket | None:
            try:
                return socket.create_connection((host, port), timeout=10)
            except ConnectionRefusedError:
                return None

        raw = wait_until(connected, 60, 0.2)  # the controller answers REST before its OpenFlow listener is up
        if raw is None:
            raise ConnectionRefusedError(f"nothing listens for OpenFlow on {host}:{port}")
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False  # OVS does not check the controller's name either, only its CA
            ctx.load_cert_chain(tls[1], tls[0])
            ctx.load_verify_locations(tls[2])
            raw = ctx.wrap_socket(raw)
        self.sock = raw
        self.features_requested = False
        self.thread: threading.Thread | None = None

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

    def handshake_and_hold(self, seconds: float = 15.0) -> bool:
        """Say HELLO, answer FEATURES with the claimed dpid, keep answering for ``seconds``; True when the
        controller still holds the connection open at the end. A refusal ends it at once: ``seconds`` is only how
        long a kept connection is watched."""
        return self._serve(time.monotonic() + seconds)

    def hold_in_background(self) -> threading.Thread:
        """Serve the connection in a thread until the controller or :meth:`close` ends it."""
        thread = threading.Thread(target=self._serve, args=(float("inf"),), daemon=True)
        thread.start()
        self.thread = thread
        return thread

    def _serve(self, deadline: float) -> bool:
        self.sock.sendall(_message(HELLO, 1))
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(min(5.0, max(0.1, deadline - time.monotonic())))
                try:
                    got = self._read()
                except (socket.timeout, TimeoutError):
                    continue
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
                elif kind == BARRIER_REQUEST:
                    self.sock.sendall(_message(BARRIER_REPLY, xid))
                elif kind == MULTIPART_REQUEST:  # same multipart type, no flags, empty body
                    self.sock.sendall(_message(MULTIPART_REPLY, xid, body[:2] + b"\0" * 6))
        except (ConnectionError, ssl.SSLError, OSError):
            return False
        return True

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # also wakes a background reader
        except OSError:
            pass
        if self.thread is not None:  # its reader must be out before the descriptor is freed: a socket opened next
            self.thread.join(timeout=30)  # would get the same number, and the reader would take its bytes
        self.sock.close()
