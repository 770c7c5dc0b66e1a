"""The controller holds nothing that cannot be rebuilt. SIGKILLed with its state file lost, `sandbox up` starts it
empty: the networks come back from the sandbox's records (with their ids), switches and ports from the nodes'
daemons, and no flow of a live pod is removed meanwhile: a pod pair pinging every 10 ms loses nothing, and a new
pod attaches and talks to an old one. Prints the time to rebuild and the pings lost."""
from __future__ import annotations

import os
import re
import signal
import threading
import time

from osm_l2sm.processes import pid_alive
from osm_l2sm.sandbox import Sandbox, netns, temporary_sandbox
from osm_l2sm.sandbox.layout import BRIDGE
from tests.pinger import Pinger
from tests.polling import wait_for
from tests.sandbox.conftest import ping


def views(client) -> dict:
    return {"networks": client.list_networks(), "switches": client.list_switches(), "ports": client.list_ports()}


def pod_flows(sb, node: str) -> set[str]:
    """The node's flows without cookies and counters (they change with the controller), as ovs-ofctl shows them."""
    out = sb.node_ovs(node).ofctl("dump-flows", BRIDGE, "--no-stats")
    return {re.sub(r"cookie=0x[0-9a-f]+, ?", "", line.strip()) for line in out.splitlines() if "actions=" in line}


class ReadyClock:
    """When the controller at ``client`` (not running yet) first answers /healthz."""

    def __init__(self, client):
        self.at: float | None = None
        self._stop = threading.Event()

        def poll():
            while not self._stop.is_set() and self.at is None:
                try:
                    client.healthz()
                    self.at = time.monotonic()
                except Exception:  # not up yet
                    pass
                time.sleep(0.05)

        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def test_a_controller_killed_with_its_state_lost_is_rebuilt_by_sandbox_up_without_losing_a_ping(require_root_ovs,
                                                                                                capsys):
    with temporary_sandbox(prefix="r", nodes=2) as sb:
        sb.create_network("blue", cidr="10.40.0.0/24")
        sb.create_network("red", cidr="10.40.0.0/24")  # same range, other network: isolation must survive too
        sb.run_pod("a", "node1", [("blue", "10.40.0.1/24")])
        sb.run_pod("b", "node2", [("blue", "10.40.0.2/24")])
        sb.run_pod("r", "node2", [("red", "10.40.0.3/24")])
        assert ping(sb, "a", "10.40.0.2")
        client = sb.controller_client()
        before = wait_for(lambda: (v := views(client)) and all(
            s["flows"] == "acknowledged" for n in v["networks"] for s in n["switches"].values()) and v,
            "every switch acknowledged its flows")
        flows = {node: pod_flows(sb, node) for node in ("node1", "node2")}
        pinger = Pinger(netns.argv(sb.layout.pod_netns("a"), ["ping", "-i", "0.01", "-W", "1", "10.40.0.2"]))
        wait_for(lambda: pinger.answered() > 20, "the pings answered")

        record = sb.store.load().clusters[0].controller
        os.kill(record.pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(record.pid), "the controller gone")
        os.remove(sb.builder.controller_file("controller"))
        clock = ReadyClock(client)
        try:
            assert Sandbox(sb.name, sb.layout.state_dir).up(nodes=2) is False  # revived, not built anew
            wait_for(lambda: views(client) == before, "networks, switches and ports as before", timeout=60,
                     interval=0.05)
            rebuilt = time.monotonic()
        finally:
            clock.close()
        answered, lost = pinger.stop()
        with capsys.disabled():  # the figures show in every run's output
            print(f"\nsandbox: controller rebuilt {rebuilt - clock.at:.1f} s after it answered; pings every 10 ms: "
                  f"{answered} answered, {lost} lost")
        assert lost == 0, "".join(pinger.lines[-20:])
        for node, held in flows.items():  # every flow of the live pods is still there (now with others' ids)
            assert held <= pod_flows(sb, node), node

        sb.run_pod("c", "node1", [("blue", "10.40.0.4/24")])  # a new pod attaches and talks to an old one
        assert ping(sb, "c", "10.40.0.2")
        assert not ping(sb, "a", "10.40.0.3"), "red reached from blue after the rebuild"
