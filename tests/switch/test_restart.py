"""A node's switch restarted on purpose (its pod deleted and made again): the flows it held are saved before its
OVS goes and restored by the next start before ``ovs-vswitchd`` forwards or speaks to a controller
(flow-restore-wait), so the node's pods talk again at once, without the controller. On a sandbox's two nodes."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time

from osm_l2sm.constants import BRIDGE
from osm_l2sm.sandbox import netns
from osm_l2sm.switch import start_switch
from tests.polling import wait_for
from tests.switch.test_overlay import blue as pair  # noqa: F401  (the same two nodes and three pods)
from tests.switch.test_overlay import flows, ping


def lost(ping_output: str) -> tuple[int, int]:
    """(sent, lost) from ping's summary line."""
    found = re.search(r"(\d+) packets transmitted, (\d+) received", ping_output)
    assert found, ping_output
    return int(found[1]), int(found[1]) - int(found[2])


def test_a_restarted_switch_forwards_its_saved_flows_before_the_controller_is_back(pair):
    ovs = pair.node_ovs("node2")
    controller = pair.status()["controller"]["pid"]
    pinger = subprocess.Popen(netns.argv(pair.layout.pod_netns("a"), ["ping", "-i", "0.01", "-w", "12", "-q",
                                                                    "10.10.0.2"]),
                              stdout=subprocess.PIPE, text=True)
    os.kill(controller, signal.SIGSTOP)  # no controller can put the flows back: they must come from the switch
    try:
        time.sleep(1)  # pings under way
        ovs.save_flows(BRIDGE)  # what the switch pod's preStop hook does on a restart
        ovs.stop()
        start_switch(ovs.run_dir, ovs.netns)  # the next pod's `switch up` starts OVS again
        assert ping(pair, "a", "10.10.0.2"), "the restarted switch forwards without its controller"
        assert not ping(pair, "a", "10.10.0.3"), "and keeps the networks apart"
        assert ovs.vsctl("get", "open_vswitch", ".", "other_config:flow-restore-wait").strip('"\n') == "false"
    finally:
        os.kill(controller, signal.SIGCONT)
        out, _ = pinger.communicate(timeout=60)
    sent, missing = lost(out)
    print(f"\nswitch restart (userspace datapath, no controller): {missing} of {sent} pings at 10 ms lost")
    wait_for(lambda: "node2" in {s["name"] for s in pair.controller_client().list_switches() if s.get("connected")},
             "node2 connected to its controller again", timeout=30)
    assert ping(pair, "a", "10.10.0.2")
    assert not os.listdir(os.path.join(ovs.run_dir, "saved-flows")), "the saved flows are used once"


def test_a_switch_whose_daemons_outlived_the_agent_keeps_its_flows_and_drops_stale_saved_ones(pair):
    ovs = pair.node_ovs("node1")
    path = ovs.save_flows(BRIDGE)
    ovs.ofctl("add-flow", BRIDGE, "cookie=0x1,table=0,priority=300,in_port=999,actions=drop")
    start_switch(ovs.run_dir, ovs.netns)  # running: nothing restored, the file dropped
    assert not os.path.exists(path)
    assert "in_port=999" in flows(pair, "node1")
    ovs.ofctl("del-flows", "--strict", BRIDGE, "table=0,priority=300,in_port=999")
    assert ping(pair, "a", "10.10.0.2")
