"""A KDU's networks from the records real NBI keeps for an NS created as stock `osm ns-create` creates it.

The pods' labels are the ones LCM's podLabels post-renderer writes (ns-id, vnf-id = the VNF record's id, kdu-name).
"""
from __future__ import annotations

import json
import uuid

import pytest

from osm_l2sm.errors import L2smError
from osm_l2sm.osm.nbi import RestNbi
from osm_l2sm.osm.records import KDU_NAME_LABEL, NS_ID_LABEL, VNF_ID_LABEL, NsPlans
from tests.ports import free_port

pytestmark = pytest.mark.osm_real


class CountingNbi(RestNbi):
    """The real NBI client, counting its requests (to see the per-NS cache at work)."""

    requests = 0

    def _send(self, method, path, **kwargs):
        self.requests += 1
        return super()._send(method, path, **kwargs)


@pytest.fixture
def stock_ns(osm):
    """Instantiate an NS the way `osm ns-create --config` does (no KDU values); delete it afterwards."""
    made = []

    def create(config: dict | None = None) -> tuple[str, dict]:
        name = f"cdn-{uuid.uuid4().hex[:6]}"
        ns_id, _ = osm["nbi"].ns_create(name, "cdn_ns", "k8s-vim", config or {})
        made.append(name)
        members = {v["member-vnf-index-ref"]: v["_id"] for v in osm["nbi"].vnf_records(ns_id)}
        return ns_id, members

    yield create
    for name in made:
        osm["nbi"].ns_delete(name, force=True)


def labels(ns_id: str, vnf_id: str, kdu: str) -> dict:
    return {NS_ID_LABEL: ns_id, VNF_ID_LABEL: vnf_id, KDU_NAME_LABEL: kdu, "managed-by": "osm.etsi.org"}


def test_each_kdu_gets_its_planned_attachments_and_two_ns_never_share_a_network(osm, stock_ns):
    plans = NsPlans(CountingNbi(osm["url"]))
    ns_a, members_a = stock_ns()
    ns_b, members_b = stock_ns()
    router = plans.kdu_networks(labels(ns_a, members_a["router"], "router-firewall"))
    record = osm["nbi"].ns_record(ns_a)
    prefix = f"{record['name']}-{ns_a[:8]}"
    assert json.loads(router.annotation) == [{"name": f"{prefix}-cache-vl", "ips": ["10.0.1.1/24"]},
                                             {"name": f"{prefix}-content-vl", "ips": ["10.0.2.1/24"]}]
    assert [(n.name, n.cidr, n.vld) for n in router.networks] == [
        (f"{prefix}-cache-vl", "10.0.1.0/24", "cache-vl"), (f"{prefix}-content-vl", "10.0.2.0/24", "content-vl")]
    cache = plans.kdu_networks(labels(ns_a, members_a["cache"], "cdn-cache"))
    assert json.loads(cache.annotation) == [{"name": f"{prefix}-cache-vl", "ips": ["10.0.1.10/24"]}]
    assert cache.member_vnf_index == "cache" and [n.name for n in cache.networks] == [f"{prefix}-cache-vl"]

    other = plans.kdu_networks(labels(ns_b, members_b["router"], "router-firewall"))
    assert not {n.name for n in other.networks} & {n.name for n in router.networks}
    assert [json.loads(other.annotation)[i]["ips"] for i in (0, 1)] == [["10.0.1.1/24"], ["10.0.2.1/24"]]


def test_nbi_is_read_once_per_ns_while_the_plan_is_fresh(osm, stock_ns):
    nbi = CountingNbi(osm["url"])
    plans = NsPlans(nbi, ttl=3600)
    ns_id, members = stock_ns()
    plans.kdu_networks(labels(ns_id, members["cache"], "cdn-cache"))
    after_first = nbi.requests
    for member, kdu in (("router", "router-firewall"), ("content", "content-server"), ("cache", "cdn-cache")):
        plans.kdu_networks(labels(ns_id, members[member], kdu))
    assert nbi.requests == after_first


def test_the_instantiation_config_overrides_the_descriptor_addresses(osm, stock_ns):
    ns_id, members = stock_ns({"vld": [{"name": "cache-vl", "vnfd-connection-point-ref": [
        {"member-vnf-index-ref": "cache", "vnfd-connection-point-ref": "cache-ext", "ip-address": "10.0.1.20"}]}]})
    cache = NsPlans(RestNbi(osm["url"])).kdu_networks(labels(ns_id, members["cache"], "cdn-cache"))
    assert json.loads(cache.annotation)[0]["ips"] == ["10.0.1.20/24"]


def test_an_unknown_ns_or_kdu_and_an_unreachable_nbi_are_clear_errors(osm, stock_ns):
    plans = NsPlans(RestNbi(osm["url"]))
    ns_id, members = stock_ns()
    with pytest.raises(L2smError, match=r"^NS instance 0000-gone is unknown to OSM \(NBI at http://127.0.0.1"):
        plans.kdu_networks(labels("0000-gone", members["cache"], "cdn-cache"))
    with pytest.raises(L2smError, match=f"^VNF record nope is not part of NS {ns_id} in OSM$"):
        plans.kdu_networks(labels(ns_id, "nope", "cdn-cache"))
    with pytest.raises(L2smError, match=f"^NS {ns_id} has no KDU 'router-firewall' in member-vnf-index cache$"):
        plans.kdu_networks(labels(ns_id, members["cache"], "router-firewall"))
    with pytest.raises(L2smError, match="^pod lacks the OSM label.s. osm.etsi.org/vnf-id$"):
        plans.kdu_networks({NS_ID_LABEL: ns_id, KDU_NAME_LABEL: "cdn-cache"})
    down = NsPlans(RestNbi(f"http://127.0.0.1:{free_port()}/osm", timeout=5))
    with pytest.raises(L2smError, match="^cannot reach OSM NBI at http://127.0.0.1:[0-9]+/osm: ConnectionError$"):
        down.kdu_networks(labels(ns_id, members["cache"], "cdn-cache"))
