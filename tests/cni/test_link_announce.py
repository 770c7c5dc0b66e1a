"""The gratuitous ARP a pod's ADD sends, on two bare network namespaces joined by a veth pair (root)."""
from __future__ import annotations

import ipaddress
import threading
import uuid

import pytest

from osm_l2sm.cni import link
from osm_l2sm.sandbox import netns
from tests.polling import wait_for

@pytest.fixture
def pair(require_root_ovs):
    """Namespaces ``a`` and ``b`` joined by veth a1 <-> b1: a1 has 10.9.0.1/24, b1 10.9.0.2/24, b1 down."""
    tag = uuid.uuid4().hex[:6]
    a, b = f"garp-a-{tag}", f"garp-b-{tag}"
    netns.create(a)
    netns.create(b)
    try:
        netns.run(a, ["ip", "link", "add", "a1", "type", "veth", "peer", "name", "b1", "netns", b], check=True)
        netns.run(a, ["ip", "addr", "add", "10.9.0.1/24", "dev", "a1"], check=True)
        netns.run(a, ["ip", "link", "set", "a1", "up"], check=True)
        netns.run(b, ["ip", "addr", "add", "10.9.0.2/24", "dev", "b1"], check=True)
        yield a, b
    finally:
        netns.remove(a)
        netns.remove(b)


def test_an_announcement_sent_before_the_path_forwards_reaches_the_neighbour_when_it_does(pair):
    """A pod port's flows may land after its ADD has answered (the controller installs them once the switch reports
    the port): the first announcement is then lost. The neighbour must still learn the new MAC: here its link comes
    up 0.1 s after the first announcement went out into nothing."""
    a, b = pair
    mac = netns.run(a, ["cat", "/sys/class/net/a1/address"], check=True).stdout.strip()
    netns.run(b, ["ip", "neigh", "replace", "10.9.0.1", "lladdr", "02:00:00:00:00:99", "nud", "stale", "dev",
                  "b1"], check=True)
    link.announce(netns.path(a), "a1", [ipaddress.ip_interface("10.9.0.1/24")])
    threading.Timer(0.1, lambda: netns.run(b, ["ip", "link", "set", "b1", "up"], check=True)).start()
    wait_for(lambda: mac in netns.run(b, ["ip", "neigh", "show", "10.9.0.1"]).stdout.lower(),
             "the neighbour's entry to follow a later announcement", timeout=5, interval=0.1)
