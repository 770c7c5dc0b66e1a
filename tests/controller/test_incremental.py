"""Incremental flow updates equal the full computation after any sequence of changes (seeded random sequences);
so do the cached network views.

The switches are flow tables kept by the test (the OpenFlow semantics the controller relies on: an ADD replaces the
flow with the same table, priority and match; a strict delete removes it; a cookie-masked delete removes a
generation); the controller's batches are applied to them in queue order, as ofapp sends them.
"""
from __future__ import annotations

import json
import random
import time

import pytest

from osm_l2sm.controller.core import Controller
from osm_l2sm.controller.flows import desired_flows
from osm_l2sm.controller.state import State
from osm_l2sm.errors import L2smError

SWITCHES = ("s1", "s2", "s3", "s4")
EDGE = "s4"


class Datapath:
    """What a switch holds: {(table, priority, match): (flow, cookie)}."""

    def __init__(self, name):
        self.name = name
        self.table: dict = {}

    def apply(self, batch) -> None:
        if batch.passes:
            for gen in batch.pass_generations():
                for flow in batch.add:
                    self.table[(flow.table, flow.priority, flow.match)] = (flow, gen)
                self.table = {k: v for k, v in self.table.items() if v[1] & 1 != gen ^ 1}
            return
        for flow in batch.add:
            self.table[(flow.table, flow.priority, flow.match)] = (flow, batch.generation)
        for flow in batch.remove:
            self.table.pop((flow.table, flow.priority, flow.match), None)

    def flows(self) -> set:
        return {flow for flow, _ in self.table.values()}


def deliver(controller) -> list:
    batches = []
    while controller.outbox:
        batch = controller.outbox.popleft()
        batch.datapath.apply(batch)
        controller.acknowledged(batch.session, batch.seq)  # the barrier reply
        batches.append(batch)
    return batches


def build(rng: random.Random):
    state = State()
    controller = Controller(state)
    datapaths = {}
    for i, name in enumerate(SWITCHES, start=1):
        controller.register_switch(name, f"{i:016x}", {p: f"vx-{p}" for p in SWITCHES if p != name},
                                   {"far": "dl-far"} if name == EDGE else None)
        ports = {f"vx-{p}": 100 + j for j, p in enumerate(SWITCHES) if p != name}
        if name == EDGE:
            ports["dl-far"] = 200
        if rng.random() < 0.8:  # some switches connect later, in the middle of the sequence
            datapaths[name] = Datapath(name)
            controller.switch_connected(f"{i:016x}", datapaths[name], ports)
    return state, controller, datapaths


def check(state, controller, datapaths, step):
    # the networks' JSON kept between changes is what a fresh view gives (ofports included)
    assert json.loads(state.list_networks_json()) == state.list_networks(), step
    for view in state.list_networks():  # everything was delivered and acknowledged
        connected = {s: s in controller.runtime.sessions for s in view["switches"]}
        assert view["switches"] == {s: {"connected": c, "flows": "acknowledged" if c else "pending"}
                                    for s, c in connected.items()}, step
    for name, dp in datapaths.items():
        if name in controller.runtime.sessions:
            assert dp.flows() == set(desired_flows(state, name)), (step, name)
            assert {cookie for _, cookie in dp.table.values()} <= {controller.runtime.sessions[name].generation}, step


@pytest.mark.parametrize("seed", range(40))
def test_incremental_flows_equal_the_full_computation_after_every_change(seed):
    rng = random.Random(seed)
    state, controller, datapaths = build(rng)
    deliver(controller)
    nets, ifaces = [f"n{i}" for i in range(6)], [f"p{i}" for i in range(12)]
    for step in range(80):
        op = rng.choice(("create", "create", "attach", "attach", "attach", "detach", "delete", "plug", "unplug",
                         "connect"))
        net, switch, iface = rng.choice(nets), rng.choice(SWITCHES), rng.choice(ifaces)
        dpid = f"{SWITCHES.index(switch) + 1:016x}"
        try:
            if op == "create":
                tag = rng.choice((None, None, 100 + nets.index(net)))
                # ids past one VLAN tag's 4094: networks whose keys share an S-tag (a group), in several groups
                nid = rng.choice((None, None, 4094 * rng.randint(1, 2) + rng.randint(1, 3)))
                created = controller.create_network(net, interdomain={"tag": tag} if tag else None,
                                                    network_id=nid)[1]
                touched = {b.switch for b in deliver(controller)}
                # a new network has no ports: no switch gets flows for it but the edges when inter-domain
                assert not created or touched <= (state.edges() if tag else set()), step
            elif op == "attach":
                before = state.switches_of_network(net)
                controller.attach_port(net, switch, iface, rng.choice((None, f"02:00:00:00:{step:02x}:01")))
                touched = {b.switch for b in deliver(controller)}
                # work proportional to the change: only the network's switches (and edges when inter-domain)
                assert touched <= before | state.switches_of_network(net) | {switch}, step
            elif op == "detach":
                controller.detach_port(switch, iface)
            elif op == "delete":
                controller.delete_network(net)
            elif op == "plug":  # the interface appears on the switch with an OpenFlow port number
                controller.port_changed(dpid, iface, 1 + ifaces.index(iface) + rng.choice((0, 20)))
            elif op == "unplug":
                controller.port_changed(dpid, iface, None)
            elif op == "connect" and switch not in controller.runtime.sessions:
                datapaths[switch] = datapaths.get(switch) or Datapath(switch)
                ports = {f"vx-{p}": 100 + j for j, p in enumerate(SWITCHES) if p != switch}
                controller.switch_connected(dpid, datapaths[switch], ports)
        except L2smError as err:
            assert err.status in (404, 409), err
        deliver(controller)
        check(state, controller, datapaths, step)


def _stale(dp, desired) -> set:
    """Flows an earlier controller left on ``dp``, one of each cookie generation."""
    flows = set()
    for gen in (0, 1):
        flow = type(desired[0]).make(0, 7, {"in_port": 900 + gen})
        dp.table[(flow.table, flow.priority, flow.match)] = (flow, gen)
        flows.add(flow)
    return flows


def test_a_switch_its_node_registered_keeps_earlier_flows_until_its_and_its_peers_ports_are_announced():
    # a controller started empty learns switches and ports from the nodes: until the nodes of a switch and of its
    # tunnel peers (flows to their MACs) have announced them all, a flow it does not know may be a live pod's, so
    # nothing is removed; then all of either generation go
    state, controller, datapaths = build(random.Random(1))
    controller.create_network("blue")
    deliver(controller)
    dp = datapaths["s1"]
    stale = _stale(dp, desired_flows(state, "s1"))
    controller.switch_connected(f"{1:016x}", dp, dict(state.ofports["s1"]))
    deliver(controller)
    assert dp.flows() == set(desired_flows(state, "s1")) | stale
    assert controller.progress()["s1"]["settled"] is False
    assert controller.sweep_switch("s1") is True
    for peer in SWITCHES[1:]:
        deliver(controller)
        assert stale <= dp.flows(), f"swept before {peer} announced its ports"
        controller.sweep_switch(peer)
    deliver(controller)
    assert dp.flows() == set(desired_flows(state, "s1"))
    assert controller.sweep_switch("s1") is False, "a second sweep changes nothing"
    stale = _stale(dp, desired_flows(state, "s1"))  # a settled switch that connects again is swept at once
    controller.switch_connected(f"{1:016x}", dp, dict(state.ofports["s1"]))
    deliver(controller)
    assert dp.flows() == set(desired_flows(state, "s1"))


def test_a_switch_whose_node_never_announces_is_swept_after_the_grace():
    from osm_l2sm.controller.core import SWEEP_GRACE

    state, controller, datapaths = build(random.Random(1))
    deliver(controller)
    stale = _stale(datapaths["s1"], desired_flows(state, "s1"))
    controller.switch_connected(f"{1:016x}", datapaths["s1"], dict(state.ofports["s1"]))
    deliver(controller)
    assert controller.sweep_overdue() == [] and stale <= datapaths["s1"].flows()
    assert controller.sweep_overdue(time.monotonic() + SWEEP_GRACE + 1) == sorted(controller.runtime.sessions)
    deliver(controller)
    assert datapaths["s1"].flows() == set(desired_flows(state, "s1"))


def test_a_network_made_again_keeps_its_id_when_free():
    controller = Controller(State())
    assert controller.create_network("red", network_id=7)[0]["id"] == 7
    assert controller.create_network("blue", network_id=7)[0]["id"] == 1, "taken: the lowest free id"
    assert controller.create_network("red", network_id=9)[0]["id"] == 7, "an existing network keeps its id"
    for bad in (0, 4094 * 4094 + 1, "7", True):
        with pytest.raises(L2smError, match="id must be"):
            controller.create_network("green", network_id=bad)


def test_a_network_shows_each_switch_with_its_ports_pending_until_the_switch_acknowledges():
    state, controller, datapaths = build(random.Random(3))
    deliver(controller)
    connected = sorted(set(controller.runtime.sessions) - {EDGE})[:2]
    controller.create_network("blue")
    assert not controller.outbox and state.get_network("blue")["switches"] == {}
    for i, switch in enumerate(connected):
        controller.attach_port("blue", switch, "pa", f"02:00:00:00:00:0{i}")
        controller.port_changed(f"{SWITCHES.index(switch) + 1:016x}", "pa", 1)
    waiting = {s: {"connected": True, "flows": "pending"} for s in connected}
    assert json.loads(state.network_json("blue"))["switches"] == waiting
    first = controller.outbox[0]
    while controller.outbox and controller.outbox[0].switch == first.switch:
        batch = controller.outbox.popleft()
        batch.datapath.apply(batch)
        controller.acknowledged(batch.session, batch.seq)
    waiting[first.switch]["flows"] = "acknowledged"
    assert json.loads(state.network_json("blue"))["switches"] == waiting
    deliver(controller)
    assert {s: v["flows"] for s, v in state.get_network("blue")["switches"].items()} == dict.fromkeys(
        connected, "acknowledged")
    controller.switch_disconnected(f"{SWITCHES.index(connected[0]) + 1:016x}", datapaths[connected[0]])
    assert json.loads(state.network_json("blue"))["switches"][connected[0]] == {"connected": False,
                                                                                "flows": "pending"}
