"""The controller refuses a port address its network cannot have, or one another port holds, with a 4xx whose
message names the conflict; a refused attach registers nothing."""
from __future__ import annotations

import pytest

from osm_l2sm.errors import L2smError
from tests.controllers import running_controller


@pytest.fixture(scope="module")
def controller(tmp_path_factory):
    with running_controller(tmp_path_factory.mktemp("addresses")) as proc:
        client = proc.client()
        client.create_network("blue", cidr="10.1.0.0/24")
        client.create_network("red", cidr="10.1.0.0/24")  # the same range on another network is fine
        client.create_network("six", cidr="fd00:1::/64")
        client.create_network("open")  # no CIDR: only duplicates are refused
        client.attach_port("blue", "node1", "held", ips=["10.1.0.5/24"])
        client.attach_port("open", "node1", "open1", ips=["192.168.7.7/16"])
        yield proc


@pytest.fixture
def client(controller):
    return controller.client()


def refused(client, network, ips, interface="new") -> L2smError:
    with pytest.raises(L2smError) as err:
        client.attach_port(network, "node2", interface, ips=ips)
    assert not [p for p in client.list_ports() if p["id"] == f"node2/{interface}"], "a refused port is not kept"
    return err.value


@pytest.mark.parametrize("network,ips,status,message", [
    ("blue", ["10.2.0.9/24"], 400, "address 10.2.0.9/24 is outside network blue (10.1.0.0/24)"),
    ("blue", ["fd00:1::9/64"], 400, "address fd00:1::9/64 is outside network blue (10.1.0.0/24)"),
    ("blue", ["10.1.0.9/16"], 400, "address 10.1.0.9/16 has a prefix wider than network blue (10.1.0.0/24)"),
    ("blue", ["10.1.0.0/24"], 400, "address 10.1.0.0/24 is the network address of network blue (10.1.0.0/24)"),
    ("blue", ["10.1.0.255/24"], 400, "address 10.1.0.255/24 is the broadcast address of network blue (10.1.0.0/24)"),
    ("six", ["fd00:1::/64"], 400, "address fd00:1::/64 is the network address of network six (fd00:1::/64)"),
    ("blue", ["10.1.0.5/24"], 409, "address 10.1.0.5 is already held by port node1/held in network blue"),
    ("blue", ["10.1.0.6/24", "10.1.0.6/25"], 400, "address 10.1.0.6 is given twice for port node2/new"),
    ("open", ["192.168.7.7/24"], 409, "address 192.168.7.7 is already held by port node1/open1 in network open"),
    ("blue", ["10.1.0.7"], 400, "ips: '10.1.0.7' is not an address with its prefix, such as 10.0.0.5/24"),
    ("blue", "10.1.0.7/24", 400, "ips must be a list of at most 16 addresses such as 10.0.0.5/24"),
])
def test_each_bad_address_is_refused_with_a_message_naming_the_conflict(client, network, ips, status, message):
    err = refused(client, network, ips)
    assert err.status == status
    assert str(err) == f"controller: {message}"


def test_good_addresses_are_kept_and_shown(client):
    port = client.attach_port("blue", "node2", "good", ips=["10.1.0.6/24"])
    assert port["ips"] == ["10.1.0.6/24"]
    assert client.attach_port("blue", "node2", "good", ips=["10.1.0.6/24"]) == port  # idempotent
    assert client.attach_port("red", "node2", "other", ips=["10.1.0.5/24"])["ips"] == ["10.1.0.5/24"]
    assert client.attach_port("blue", "node2", "narrow", ips=["10.1.0.9/28"])["ips"] == ["10.1.0.9/28"]
    assert client.attach_port("six", "node2", "v6", ips=["FD00:1::0009/64"])["ips"] == ["fd00:1::9/64"]
    assert client.attach_port("open", "node2", "any", ips=["172.16.0.0/12"])["ips"] == ["172.16.0.0/12"]
    assert "ips" not in client.attach_port("blue", "node2", "bare")  # a port without addresses is as before
    for name in ("good", "other", "narrow", "v6", "any", "bare"):
        client.detach_port("node2", name)


def test_an_address_is_free_again_once_its_port_moves_away_or_is_detached(client):
    client.attach_port("blue", "node3", "mover", ips=["10.1.0.20/24"])
    assert refused(client, "blue", ["10.1.0.20/24"]).status == 409
    client.attach_port("blue", "node3", "mover", ips=["10.1.0.21/24"])  # the same port, another address
    client.attach_port("blue", "node2", "taker", ips=["10.1.0.20/24"])
    client.detach_port("node3", "mover")
    client.attach_port("blue", "node2", "later", ips=["10.1.0.21/24"])
    for name in ("taker", "later"):
        client.detach_port("node2", name)


def test_held_addresses_survive_a_controller_restart(controller):
    controller.kill()
    controller.start()
    err = refused(controller.client(), "blue", ["10.1.0.5/24"])
    assert err.status == 409 and "node1/held" in str(err)


def test_deleting_a_network_frees_its_addresses(client):
    client.create_network("temp", cidr="10.8.0.0/24")
    client.attach_port("temp", "node1", "t1", ips=["10.8.0.1/24"])
    client.delete_network("temp")
    client.create_network("temp", cidr="10.8.0.0/24")
    assert client.attach_port("temp", "node2", "t2", ips=["10.8.0.1/24"])["ips"] == ["10.8.0.1/24"]
    client.delete_network("temp")
