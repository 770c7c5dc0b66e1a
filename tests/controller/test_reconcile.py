"""A port whose interface is gone from its switch is released when the switch connects again, also to a controller
restarted from its state file; a port registered ahead of its interface is kept. The switches are the flow tables
of test_incremental (no OpenFlow library): what is checked is the controller's state and the flows it sends."""
from __future__ import annotations

from osm_l2sm.controller.core import Controller
from osm_l2sm.controller.state import State

from tests.controller.test_incremental import Datapath, deliver

MAC = "02:00:00:00:00:0a"


def connect(controller: Controller, name: str, ports: dict, datapaths: dict) -> None:
    datapaths[name] = Datapath(name)
    controller.switch_connected(controller.state.switches[name].dpid, datapaths[name], ports)
    for batch in deliver(controller):
        datapaths[batch.switch] = batch.datapath


def test_a_port_gone_while_the_controller_was_down_is_released_and_one_never_seen_is_kept(tmp_path):
    path = str(tmp_path / "controller.json")
    first = Controller(State(path))
    first.register_switch("s1", "00000000000000a1", {"s2": "vx-s2"})
    first.register_switch("s2", "00000000000000a2", {"s1": "vx-s1"})
    first.create_network("blue")
    datapaths: dict = {}
    connect(first, "s1", {"vx-s2": 1, "pod-a": 2}, datapaths)
    connect(first, "s2", {"vx-s1": 1, "pod-b": 2}, datapaths)
    first.attach_port("blue", "s1", "pod-a", MAC)  # its interface is on the switch: seen
    first.attach_port("blue", "s1", "later0")      # registered ahead of its interface: never seen
    first.attach_port("blue", "s2", "pod-b")
    deliver(first)
    assert any(MAC in str(flow) for flow in datapaths["s2"].flows())
    first.state.close()  # the controller stops; meanwhile pod-a is deleted on s1

    second = Controller(State(path))
    datapaths = {}
    connect(second, "s2", {"vx-s1": 1, "pod-b": 2}, datapaths)
    connect(second, "s1", {"vx-s2": 1}, datapaths)
    ports = {p["id"] for p in second.state.list_ports()}
    assert ports == {"s1/later0", "s2/pod-b"}
    assert not any(MAC in str(flow) for flow in datapaths["s2"].flows()), "s2 still forwards to the released port"
    second.state.close()
    assert {p["id"] for p in State(path).list_ports()} == {"s1/later0", "s2/pod-b"}  # journaled


def test_a_port_seen_later_is_released_once_it_is_gone():
    controller = Controller(State())
    controller.register_switch("s1", "00000000000000a1", {})
    controller.create_network("blue")
    datapaths: dict = {}
    controller.attach_port("blue", "s1", "tap0")  # ahead of its interface
    connect(controller, "s1", {}, datapaths)
    assert [p["id"] for p in controller.state.list_ports()] == ["s1/tap0"]
    controller.port_changed("00000000000000a1", "tap0", 5)  # the interface appears
    deliver(controller)
    controller.switch_disconnected("00000000000000a1", datapaths["s1"])
    connect(controller, "s1", {}, datapaths)  # and is gone at the next connection
    assert controller.state.list_ports() == []
