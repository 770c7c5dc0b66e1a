"""One rule for what a network may be named (osm_l2sm.model.names), whoever applies it: a pod's ``l2sm/networks``
annotation (operator), a user's ``vim-network-name`` (ns-create), the controller's REST API and the planner's names.
A name one of them takes and another refuses is a network a user can ask for and never get."""
from __future__ import annotations

import pytest

from osm_l2sm.descriptors.names import network_name
from osm_l2sm.errors import L2smError
from osm_l2sm.k8s.annotations import parse_networks_annotation
from osm_l2sm.model.names import is_network_name
from osm_l2sm.osm.nsconfig import user_network_names
from tests.controllers import running_controller

NAMES = {
    "cdn-cache-vl": True,
    "net.a": True,  # a Kubernetes L2Network may be named so
    "a" * 63: True,
    "a" * 64: False,
    "Bad_Name": False,  # the controller took it; no L2Network can have it
    "cache_net": False,
    "a..b": False,  # the annotation took it; Kubernetes refuses it
    "a.-b": False,
    "-a": False,
    "a-": False,
}


def annotation_takes(name: str) -> bool:
    try:
        parse_networks_annotation(f'[{{"name": "{name}"}}]')
    except L2smError:
        return False
    return True


def ns_create_takes(name: str) -> bool:
    try:
        user_network_names({"vld": [{"name": "vl", "vim-network-name": name}]})
    except L2smError:
        return False
    return True


@pytest.fixture(scope="module")
def controller(tmp_path_factory):
    with running_controller(tmp_path_factory.mktemp("names")) as proc:
        yield proc.client()


def controller_takes(client, name: str) -> bool:
    try:
        client.create_network(name)
    except L2smError as err:
        assert err.status == 400, err
        return False
    client.delete_network(name)
    return True


@pytest.mark.parametrize("name", list(NAMES))
def test_every_box_takes_and_refuses_the_same_network_names(controller, name):
    expected = NAMES[name]
    assert is_network_name(name) == expected
    assert annotation_takes(name) == expected
    assert ns_create_takes(name) == expected
    assert controller_takes(controller, name) == expected


@pytest.mark.parametrize("ns_name, vld", [("cdn", "cache-vl"), ("My_NS", "Cache VL"), ("n" * 60, "vl" * 10)])
def test_the_planners_names_follow_the_rule(ns_name, vld):
    assert is_network_name(network_name(ns_name, vld))
