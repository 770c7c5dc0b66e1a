"""A private Open vSwitch (ovsdb-server + ovs-vswitchd) with its own run directory, optionally inside a netns."""
from __future__ import annotations

import glob
import hashlib
import logging
import os
import subprocess

from osm_l2sm.errors import L2smError
from osm_l2sm.processes import stop_process

LOG = logging.getLogger(__name__)
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
DAEMONS = ("ovs-vswitchd", "ovsdb-server")  # stop order


def kernel_datapath_available() -> bool:
    """True when the OVS kernel module is loaded (else bridges use the userspace ``netdev`` datapath)."""
    return os.path.isdir("/sys/module/openvswitch")


def run_tool(cmd: list[str], env: dict | None = None, timeout: float = 30.0) -> str:
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as err:
        raise L2smError(f"{cmd[0]} not found (install openvswitch-switch and iproute2)") from err
    except subprocess.TimeoutExpired as err:
        raise L2smError(f"{' '.join(cmd[:4])} ... did not finish within {timeout:.0f}s") from err
    if out.returncode != 0:
        detail = (out.stderr or out.stdout).strip().splitlines()
        raise L2smError(f"{' '.join(cmd[:3])} ... failed: {detail[-1] if detail else out.returncode}")
    return out.stdout


class OvsInstance:
    """ovsdb-server and ovs-vswitchd whose sockets, pidfiles, database and logs all live in ``run_dir``."""

    def __init__(self, run_dir: str, netns: str | None = None):
        self.run_dir = os.path.abspath(run_dir)
        self.netns = netns
        self.db_file = os.path.join(self.run_dir, "conf.db")
        self.db_sock = os.path.join(self.run_dir, "db.sock")
        if len(self.db_sock) > 100:
            raise L2smError(f"OVS run dir {self.run_dir} is too long for a unix socket path")

    @property
    def env(self) -> dict:
        """Environment for OVS tools: they find this instance's sockets through it."""
        env = dict(os.environ)
        env.update(OVS_RUNDIR=self.run_dir, OVS_DBDIR=self.run_dir, OVS_LOGDIR=self.run_dir,
                   OVS_SYSCONFDIR=self.run_dir)
        return env

    def _pidfile(self, daemon: str) -> str:
        return os.path.join(self.run_dir, f"{daemon}.pid")

    def _pid(self, daemon: str) -> int | None:
        try:
            with open(self._pidfile(daemon)) as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rpartition(")")[2].split()[0] == "Z":
                    return None  # exited, not reaped yet
            return pid
        except (OSError, ValueError, IndexError):
            return None

    @property
    def running(self) -> bool:
        return all(self._pid(d) for d in DAEMONS)

    def dead_daemons(self) -> list[str]:
        """The daemons of this instance that do not run (a killed ``ovs-vswitchd`` leaves its bridge unserved)."""
        return [d for d in DAEMONS if not self._pid(d)]

    def _in_netns(self, cmd: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *cmd] if self.netns else cmd

    def _saved_flows(self) -> dict[str, str]:
        """{bridge: file} of the flows :meth:`save_flows` kept for the next start."""
        return {os.path.basename(p)[:-len(".flows")]: p
                for p in glob.glob(os.path.join(self.run_dir, "saved-flows", "*.flows"))}

    def save_flows(self, bridge: str) -> str:
        """Keep the bridge's OpenFlow flows (which live in ``ovs-vswitchd`` only) for the next :meth:`start`."""
        flows = self.ofctl("dump-flows", "--no-stats", "--no-names", bridge)
        path = os.path.join(self.run_dir, "saved-flows", f"{bridge}.flows")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(flows)
        os.replace(path + ".tmp", path)
        return path

    def start(self) -> "OvsInstance":
        """Start the daemons that do not run. Flows saved by :meth:`save_flows` are put back before
        ``ovs-vswitchd`` forwards a packet or speaks to a controller (OVS's ``flow-restore-wait``), so a restarted
        switch forwards at once what it forwarded before, controller or not; the controller then resyncs it."""
        saved = self._saved_flows()
        if self.running:
            for path in saved.values():  # the daemons outlived their agent: their flows are current
                os.unlink(path)
            return self
        self.stop()  # a half-started instance
        os.makedirs(self.run_dir, exist_ok=True)
        if not os.path.exists(self.db_file):
            run_tool(["ovsdb-tool", "create", self.db_file, SCHEMA], self.env)
        common = ["--detach", "--no-chdir"]
        run_tool(self._in_netns([
            "ovsdb-server", self.db_file, f"--remote=punix:{self.db_sock}",
            f"--pidfile={self._pidfile('ovsdb-server')}",
            f"--unixctl={os.path.join(self.run_dir, 'ovsdb-server.ctl')}",
            f"--log-file={os.path.join(self.run_dir, 'ovsdb-server.log')}", *common]), self.env)
        self.vsctl("--no-wait", "init")
        # set either way: a start interrupted while restoring must not leave OVS waiting for ever
        self.vsctl("--no-wait", "set", "open_vswitch", ".",
                   f"other_config:flow-restore-wait={'true' if saved else 'false'}")
        run_tool(self._in_netns([
            "ovs-vswitchd", f"unix:{self.db_sock}", f"--pidfile={self._pidfile('ovs-vswitchd')}",
            f"--unixctl={os.path.join(self.run_dir, 'ovs-vswitchd.ctl')}",
            f"--log-file={os.path.join(self.run_dir, 'ovs-vswitchd.log')}", *common]), self.env)
        if saved:
            self._restore(saved)
        return self

    def _restore(self, saved: dict[str, str]) -> None:
        self.vsctl("set", "open_vswitch", ".", "other_config:flow-restore-wait=true")  # waits for the bridges
        # ovs-vswitchd flushes a bridge's flows when its controllers appear, which they do once flow-restore-wait
        # is false (they stay away until then): lift it first, then restore, a few milliseconds later.
        self.vsctl("set", "open_vswitch", ".", "other_config:flow-restore-wait=false")
        for bridge, path in saved.items():
            try:
                self.ofctl("add-flows", "--bundle", bridge, path)
                LOG.info("restored the saved flows of %s", bridge)
            except L2smError as err:  # a bridge gone since: the controller resyncs what is there
                LOG.warning("could not restore the saved flows of %s: %s", bridge, err)
            os.unlink(path)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop both daemons by their pidfiles (SIGTERM, then SIGKILL)."""
        for daemon in DAEMONS:
            pid = self._pid(daemon)
            if pid is None:
                continue
            stop_process(pid, lambda: self._pid(daemon) == pid, grace=timeout)
            try:
                os.unlink(self._pidfile(daemon))
            except FileNotFoundError:
                pass

    def vsctl(self, *args: str) -> str:
        return run_tool(["ovs-vsctl", f"--db=unix:{self.db_sock}", "--timeout=20", *args], self.env)

    def ofctl(self, *args: str) -> str:
        return run_tool(["ovs-ofctl", "-O", "OpenFlow13", *args], self.env)

    def appctl(self, *args: str) -> str:
        return run_tool(["ovs-appctl", "-t", os.path.join(self.run_dir, "ovs-vswitchd.ctl"), *args], self.env)
