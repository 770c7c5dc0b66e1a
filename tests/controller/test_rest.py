"""The REST API of a real controller process: every route, its errors, auth, persistence across restarts."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from osm_l2sm.controller.client import ControllerClient
from osm_l2sm.errors import L2smError
from tests.controllers import controller_process
from tests.ports import free_port

TOKEN = "s3cret-token"


@pytest.fixture
def controller_token() -> str:
    """The ``controller`` fixture's (tests/controllers.py) bearer token."""
    return TOKEN


@pytest.fixture
def client(controller):
    return controller.client()


def raw(controller, method, path, token=TOKEN, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, controller.url + path, headers=headers, timeout=5, **kw)


def status_of(call, *args, **kwargs) -> int:
    with pytest.raises(L2smError) as err:
        call(*args, **kwargs)
    return err.value.status


def test_healthz_needs_no_token_but_the_api_does(controller):
    health = raw(controller, "GET", "/healthz", token=None).json()
    assert health == {"status": "ok", "pid": controller.pid, "instance": health["instance"]}
    assert len(health["instance"]) == 32 and raw(controller, "GET", "/healthz").json() == health
    for method, path in (("GET", "/api/v1/networks"), ("POST", "/api/v1/networks"), ("GET", "/api/v1/ports"),
                         ("PUT", "/api/v1/switches/s1"), ("POST", "/api/v1/switches/s1/sweep"),
                         ("GET", "/api/v1/topology"), ("GET", "/metrics")):
        for token in (None, "wrong"):
            resp = raw(controller, method, path, token=token, json={"name": "x"})
            assert resp.status_code == 401 and "token" in resp.json()["error"], (method, path)
    with pytest.raises(L2smError) as err:
        ControllerClient(controller.url).list_networks()
    assert err.value.status == 401 and "bearer token" in str(err.value)


def test_every_answer_tells_the_controller_time_in_server_timing(controller):
    for method, path, token in (("GET", "/healthz", None), ("GET", "/api/v1/networks", TOKEN),
                                ("GET", "/api/v1/networks/nope", TOKEN), ("GET", "/api/v1/networks", "wrong")):
        header = raw(controller, method, path, token=token).headers["Server-Timing"]
        name, dur = header.split(";")
        assert name == "app" and dur.startswith("dur=") and float(dur[4:]) >= 0, (path, header)


def test_networks_create_get_list_delete(client):
    blue = client.create_network("blue", cidr="10.10.0.0/24", description="the blue one")
    assert blue == {"name": "blue", "id": blue["id"], "cidr": "10.10.0.0/24", "description": "the blue one",
                    "ports": [], "switches": {}}
    assert 1 <= blue["id"] <= 4094
    assert client.create_network("blue", cidr="10.10.0.0/24", description="the blue one") == blue  # idempotent
    assert status_of(client.create_network, "blue", cidr="10.20.0.0/24") == 409
    red = client.create_network("red", cidr="10.10.0.0/24")  # same subnet is fine
    assert red["id"] != blue["id"]
    assert [n["name"] for n in client.list_networks()] == ["blue", "red"]
    assert client.get_network("red") == red
    client.delete_network("red")
    assert status_of(client.get_network, "red") == 404
    assert status_of(client.delete_network, "red") == 404
    assert client.get_network("blue")["id"] == blue["id"]


def test_networks_list_in_pages_follows_the_next_header_to_every_network(controller, client):
    names = sorted(f"n{i:02d}" for i in range(7))
    for name in reversed(names):
        client.create_network(name)
    seen, after, pages = [], "", 0
    while after is not None:
        resp = raw(controller, "GET", f"/api/v1/networks?limit=3&after={after}")
        assert resp.status_code == 200
        page = resp.json()
        assert len(page) <= 3 and page == [client.get_network(n["name"]) for n in page]
        seen += [n["name"] for n in page]
        after, pages = resp.headers.get("X-Next-After"), pages + 1
    assert seen == names and pages == 3
    assert [n["name"] for n in raw(controller, "GET", "/api/v1/networks?after=n04").json()] == ["n05", "n06"]
    for bad in ("0", "1001", "x", "-1"):
        resp = raw(controller, "GET", f"/api/v1/networks?limit={bad}")
        assert resp.status_code == 400 and "limit" in resp.json()["error"], bad


@pytest.mark.parametrize("body", [
    b"not json", b"[1, 2]", b"42", b'"name"', b"{}", b'{"name": ""}', b'{"name": "a/b"}', b'{"name": "x y"}',
    b'{"name": "-lead"}', b'{"name": 7}', b'{"name": ["x"]}', b'{"name": "' + b"a" * 64 + b'"}',
    b'{"name": "ok", "cidr": 5}', b'{"name": "ok", "cidr": "garbage"}', b'{"name": "ok", "cidr": "10.0.0.0/33"}',
    b'{"name": "ok", "description": {"a": 1}}', b"\xff\xfe\x00",
])
def test_bad_network_bodies_are_400_and_the_controller_keeps_answering(controller, client, body):
    resp = requests.post(controller.url + "/api/v1/networks", data=body, timeout=5,
                         headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]
    assert client.list_networks() == []
    assert controller.running and client.healthz()["status"] == "ok"


def test_ports_attach_detach_and_conflicts(client):
    client.create_network("blue")
    client.create_network("red")
    port = client.attach_port("blue", "node1", "veth1", "02:00:00:00:00:AA")
    assert port == {"id": "node1/veth1", "network": "blue", "switch": "node1", "interface": "veth1",
                    "mac": "02:00:00:00:00:aa", "ofport": None}
    assert client.attach_port("blue", "node1", "veth1", "02:00:00:00:00:aa") == port  # idempotent
    assert status_of(client.attach_port, "red", "node1", "veth1") == 409
    assert status_of(client.attach_port, "green", "node1", "veth2") == 404
    assert status_of(client.attach_port, "blue", "node1", "veth2", "zz:00") == 400
    assert status_of(client.attach_port, "blue", "node1", "much-too-long-interface") == 400
    assert client.list_ports() == [port]
    assert client.get_network("blue")["ports"] == [port]
    client.detach_port("node1", "veth1")
    assert status_of(client.detach_port, "node1", "veth1") == 404
    assert client.list_ports() == []


def test_bad_port_bodies_are_400(controller, client):
    client.create_network("blue")
    for body in ({}, {"network": "blue"}, {"network": "blue", "switch": "n1"}, {"network": "blue", "switch": "n1",
                 "interface": None}, {"network": "blue", "switch": "n/1", "interface": "v"}, [], "x"):
        resp = raw(controller, "POST", "/api/v1/ports", json=body)
        assert resp.status_code == 400 and resp.json()["error"], body
    assert client.list_ports() == []


def test_deleting_a_network_detaches_its_ports(client):
    client.create_network("blue")
    client.create_network("red")
    client.attach_port("blue", "node1", "b1")
    client.attach_port("red", "node1", "r1")
    client.delete_network("blue")
    assert [p["id"] for p in client.list_ports()] == ["node1/r1"]
    client.create_network("blue")
    assert client.get_network("blue")["ports"] == []


def test_switches_register_update_unregister_and_topology(controller, client):
    s1 = client.register_switch("node1", "00000000000000A1", {"node2": "vx-node2"})
    assert s1 == {"name": "node1", "dpid": "00000000000000a1", "tunnels": {"node2": "vx-node2"},
                  "connected": False, "ports": {}}
    client.register_switch("node2", "00000000000000a2", {"node1": "vx-node1"})
    assert client.topology()["links"] == [{"a": "node1", "b": "node2", "a_interface": "vx-node2",
                                           "b_interface": "vx-node1"}]
    assert status_of(client.register_switch, "node3", "00000000000000a1", {}) == 409  # dpid taken
    assert status_of(client.register_switch, "node3", "xyz", {}) == 400
    assert status_of(client.register_switch, "node3", "00000000000000a3", ["vx"]) == 400
    assert status_of(client.register_switch, "node3", "00000000000000a3", {"node1": "bad/name"}) == 400
    client.register_switch("node1", "00000000000000a1", {})  # update: no more tunnel
    assert client.topology()["links"] == [{"a": "node1", "b": "node2", "a_interface": None,
                                           "b_interface": "vx-node1"}]
    client.unregister_switch("node2")
    assert status_of(client.unregister_switch, "node2") == 404
    assert [s["name"] for s in client.list_switches()] == ["node1"]
    assert raw(controller, "PUT", "/api/v1/switches/node9", data=b"{{").status_code == 400


def test_an_unregistered_switch_releases_its_ports_and_their_addresses(controller, client):
    """A node removed from the cluster: its switch unregistered, the ports of its pods go too (and survive a
    restart gone), the other switch's stay, and the addresses are free again."""
    client.create_network("blue", "10.0.0.0/24")
    client.register_switch("node1", "00000000000000a1", {"node2": "vx-node2"})
    client.register_switch("node2", "00000000000000a2", {"node1": "vx-node1"})
    client.attach_port("blue", "node1", "p1", "02:00:00:00:00:01", ["10.0.0.1/24"])
    client.attach_port("blue", "node2", "p2", "02:00:00:00:00:02", ["10.0.0.2/24"])
    client.unregister_switch("node2")
    assert [p["id"] for p in client.list_ports()] == ["node1/p1"]
    controller.kill()
    controller.start()
    assert [p["id"] for p in client.list_ports()] == ["node1/p1"]
    assert client.attach_port("blue", "node1", "p3", "02:00:00:00:00:03", ["10.0.0.2/24"])["ips"] == ["10.0.0.2/24"]


def test_unknown_routes_and_methods_are_json_errors(controller):
    assert raw(controller, "GET", "/api/v1/nothing").status_code == 404
    resp = raw(controller, "PATCH", "/api/v1/networks")
    assert resp.status_code == 405 and resp.json()["error"]


def test_state_survives_a_restart_with_the_same_ids(controller, client):
    ids = {name: client.create_network(name)["id"] for name in ("blue", "red", "green")}
    client.delete_network("red")
    client.attach_port("green", "node1", "g1", "02:00:00:00:00:01")
    client.register_switch("node1", "00000000000000a1", {})
    controller.kill()
    controller.start()
    assert {n["name"]: n["id"] for n in client.list_networks()} == {"blue": ids["blue"], "green": ids["green"]}
    assert [p["id"] for p in client.list_ports()] == ["node1/g1"]
    assert [s["name"] for s in client.list_switches()] == ["node1"]


def test_metrics_are_prometheus_text_with_the_counts(client):
    client.create_network("blue")
    client.attach_port("blue", "node1", "b1")
    with pytest.raises(L2smError):
        client.get_network("nope")
    text = client.metrics()
    assert "# TYPE l2sm_networks gauge" in text
    assert "l2sm_networks 1.0" in text and "l2sm_ports 1.0" in text and "l2sm_switches_connected 0.0" in text
    assert 'l2sm_rest_requests_total{code="404"} 1.0' in text
    assert "l2sm_flow_syncs_total" in text


def test_an_unreachable_controller_is_one_error_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(L2smError) as err:
        ControllerClient(url, timeout=1).healthz()
    assert url in str(err.value) and "\n" not in str(err.value)


def test_a_second_controller_on_a_busy_port_fails_with_one_line(controller, tmp_path):
    rest_port = controller.rest_listen.rsplit(":", 1)[1]
    second = controller_process(tmp_path, "second", rest_listen=f"127.0.0.1:{rest_port}")
    log = Path(second.log_file)
    with pytest.raises(L2smError, match="exited with code 1"):
        second.start()
    assert log.read_text().strip().splitlines()[-1] == \
        f"osm-l2sm: error: cannot listen for REST on 127.0.0.1:{rest_port}: Address already in use"
    assert controller.client().healthz()["status"] == "ok"
