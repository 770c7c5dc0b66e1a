"""Start and stop a controller as a child process (for the sandbox and for tests)."""
from __future__ import annotations

import os
import subprocess
import sys

from osm_l2sm.errors import L2smError
from osm_l2sm.processes import stop_process, wait_until
from osm_l2sm.protocol import OPENFLOW_PORT, REST_PORT, TOKEN_ENV

from .client import ControllerClient


def _addr(value) -> str:
    if isinstance(value, (tuple, list)):
        return f"{value[0]}:{value[1]}"
    return str(value)


class ControllerProcess:
    """One ``python -m osm_l2sm.controller`` process, known by its own pid."""

    def __init__(self, state_file: str, of_listen=f"0.0.0.0:{OPENFLOW_PORT}", rest_listen=f"127.0.0.1:{REST_PORT}",
                 token: str | None = None, log_file: str | None = None, role: str = "cluster", options=(),
                 tls: tuple[str, str, str] | None = None):
        self.tls = tls  # (key, cert, CA): OpenFlow over TLS only, the switches' dpids bound to their certificates
        self.state_file = state_file
        self.role = role
        self.of_listen = _addr(of_listen)
        self.rest_listen = _addr(rest_listen)
        self.token = token
        self.log_file = log_file
        self.options = tuple(options)  # more command-line options, such as ("--rest-timeout", "5")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        host, _, port = self.rest_listen.rpartition(":")
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        return f"http://{host}:{port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, timeout: float = 5.0) -> ControllerClient:
        return ControllerClient(self.url, self.token, timeout)

    def start(self, timeout: float = 20.0) -> "ControllerProcess":
        if self.running:
            return self
        cmd = [sys.executable, "-m", "osm_l2sm.controller", "--state", self.state_file,
               "--of-listen", self.of_listen, "--rest-listen", self.rest_listen, "--role", self.role, *self.options]
        if self.tls:
            cmd += ["--of-tls-key", self.tls[0], "--of-tls-cert", self.tls[1], "--of-tls-ca", self.tls[2]]
        env = dict(os.environ)
        env.pop(TOKEN_ENV, None)
        if self.token:
            env[TOKEN_ENV] = self.token  # not on the command line, where ps shows it
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                         start_new_session=True)
        finally:
            if self.log_file:
                log.close()
        client = self.client(timeout=1.0)

        def answering() -> bool:
            if self.proc.poll() is not None:
                where = f"; see {self.log_file}" if self.log_file else ""
                raise L2smError(f"controller exited with code {self.proc.returncode} at start{where}")
            try:
                return client.healthz().get("pid") == self.proc.pid  # not another controller on the same port
            except L2smError:
                return False

        if wait_until(answering, timeout):
            return self
        self.kill()
        raise L2smError(f"controller did not answer on {self.url} within {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL when it does not exit in time."""
        if not self.proc:
            return
        stop_process(self.proc.pid, lambda: self.proc.poll() is None, grace=timeout)

    def kill(self) -> None:
        """SIGKILL: the way a crash looks to the switches."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
