"""What osm-l2sm leaves alone: management VLs (the cluster's pod network serves KDUs) and VM members (OSM's RO
deploys them); values written the way OSM's IM reads them."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from broken_cases import df, nsd
from cdn_package_copies import PACKAGES, VM_VNFD, mixed_ns

from osm_l2sm.descriptors import DescriptorError, load_descriptor_text, load_package, plan_ns, validate_all
from osm_l2sm.descriptors.errors import STRICTER

KNFS = {"cdn_cache_knf": "cache", "router_firewall_knf": "router", "content_server_knf": "content"}
MGMT_REASON = "management network: KDUs reach it on the cluster's pod network"



def add_mgmt_vl(pkg_copy, mgmt_network=True):
    """The CDN with a management VL joining every KNF through a new first ext-cpd ``mgmt-ext``, as OSM users
    write their KNFs."""
    for package in KNFS:
        def knf(d):
            d["vnfd"]["k8s-cluster"]["nets"].append({"id": "mgmtnet"})
            d["vnfd"]["ext-cpd"].insert(0, {"id": "mgmt-ext", "k8s-cluster-net": "mgmtnet"})
            d["vnfd"]["mgmt-cp"] = "mgmt-ext"
        pkg_copy.edit(package, knf)

    def ns(d):
        nsd(d)["virtual-link-desc"].append({"id": "mgmtnet", "mgmt-network": mgmt_network})
        for profile in df(d)["vnf-profile"]:
            profile["virtual-link-connectivity"].append({"virtual-link-profile-id": "mgmtnet", "constituent-cpd-id": [
                {"constituent-base-element-id": profile["id"], "constituent-cpd-id": "mgmt-ext"}]})
    pkg_copy.edit("cdn_ns", ns)


def test_a_management_vl_gets_no_network_and_no_interface(pkg_copy, cdn_packages):
    add_mgmt_vl(pkg_copy)
    plan = plan_ns(pkg_copy.load(), "vod")
    before = plan_ns(cdn_packages, "vod")
    # the data VLs plan exactly as without the management VL: same networks, interfaces, addresses, values
    assert plan.networks == before.networks
    assert plan.attachments == before.attachments
    assert [k.values for k in plan.kdus] == [k.values for k in before.kdus]
    assert [(u.vld, u.reason.split(" (")[0]) for u in plan.not_wired] == [("mgmtnet", MGMT_REASON)]
    assert before.not_wired == []


@pytest.mark.parametrize("how", ["argument", "config"])
def test_wiring_the_management_vl_is_opt_in(pkg_copy, how):
    add_mgmt_vl(pkg_copy)
    if how == "argument":
        plan = plan_ns(pkg_copy.load(), "vod", wire_mgmt=True)
    else:
        plan = plan_ns(pkg_copy.load(), "vod", {"additionalParamsForNs": {"l2sm_wire_mgmt": True}})
    assert [n.vld for n in plan.networks] == ["cache-vl", "content-vl", "mgmtnet"]
    mgmt = [(a.member_vnf_index, a.interface, a.address) for a in plan.attachments if a.network == "vod-mgmtnet"]
    assert mgmt == [("cache", "net1", None), ("router", "net1", None), ("content", "net1", None)]
    assert plan.not_wired == []


def test_the_opt_in_key_must_be_a_boolean(pkg_copy):
    with pytest.raises(DescriptorError, match=r"^--config: additionalParamsForNs.l2sm_wire_mgmt: expected true or "
                                              r"false, got 'yes'$"):
        plan_ns(pkg_copy.load(), "vod", {"additionalParamsForNs": {"l2sm_wire_mgmt": "yes"}})


# pyangbind's YANGBool: these forms and no others
@pytest.mark.parametrize("written, mgmt", [("true", True), ("True", True), (1, True), ("1", True),
                                           ("false", False), ("False", False), (0, False), ("0", False)])
def test_a_boolean_is_read_as_osm_reads_it(pkg_copy, written, mgmt):
    add_mgmt_vl(pkg_copy, mgmt_network=written)
    assert validate_all(pkg_copy.load()) == []
    plan = plan_ns(pkg_copy.load(), "vod")
    assert ("mgmtnet" in [u.vld for u in plan.not_wired]) is mgmt
    assert ("mgmtnet" in [n.vld for n in plan.networks]) is not mgmt


@pytest.mark.parametrize("written", ["TRUE", "yes"])
def test_a_boolean_osm_refuses_is_refused_without_a_stricter_note(pkg_copy, written):
    add_mgmt_vl(pkg_copy, mgmt_network=written)
    assert [str(e) for e in validate_all(pkg_copy.load())] == [
        f"cdn_ns/cdn_nsd.yaml: nsd.nsd[0].virtual-link-desc[2].mgmt-network: expected true or false, got "
        f"{written!r}"]


def test_numbers_and_single_values_are_read_as_osm_reads_them(pkg_copy):
    """A number for a string leaf is its text, one value for a leaf-list a list of one (pyangbind)."""
    pkg_copy.edit("cdn_ns", lambda d: nsd(d).update({"version": 1.0}))
    text = pkg_copy.path("cdn_cache_knf").read_text().replace('version: "1.0"', "version: 2")
    pkg = load_descriptor_text(text.replace("cni: [multus]", "cni: multus"), "cache.yaml")
    assert pkg.body["version"] == "2" and pkg.body["k8s-cluster"]["cni"] == ["multus"]
    assert load_package(pkg_copy.root / "cdn_ns").body["version"] == "1.0"


def test_a_mixed_ns_is_planned_for_its_knf_members(pkg_copy):
    packages = mixed_ns(pkg_copy)
    assert validate_all(packages) == []
    plan = plan_ns(packages, "vod")
    assert [n.vld for n in plan.networks] == ["cache-vl"]
    assert [(u.vld, u.reason) for u in plan.not_wired] == [
        ("content-vl", "not wired by osm-l2sm (the VM side is RO's)"), ("vm-vl", "joins VM members only (RO's)")]
    assert [(a.member_vnf_index, a.cpd, a.interface) for a in plan.attachments] == [
        ("cache", "cache-ext", "net1"), ("router", "cache-ext", "net1")]
    assert [k.member_vnf_index for k in plan.kdus] == ["cache", "router", "content"]  # no KDU for the VM
    content = plan.kdus[2].values
    assert "podLabels" not in content and "podAnnotations" not in content  # its pods stay as the chart makes them


def test_a_vm_vnfd_alone_validates():
    vm = load_descriptor_text(yaml.safe_dump(VM_VNFD), "vm_vnfd.yaml")
    assert validate_all([vm]) == []


@pytest.mark.parametrize("mgmt_cp, problem", [(None, "required for a VNFD with VDUs but missing"),
                                               ("eth9-ext", "unknown ext-cpd 'eth9-ext'")])
def test_a_vm_vnfd_needs_its_management_cpd_as_osm_says(mgmt_cp, problem):
    """OSM's NBI refuses a VNFD with VDUs whose mgmt-cp is missing or names no ext-cpd: no stricter note."""
    vnfd = yaml.safe_load(yaml.safe_dump(VM_VNFD))
    vnfd["vnfd"].pop("mgmt-cp")
    if mgmt_cp:
        vnfd["vnfd"]["mgmt-cp"] = mgmt_cp
    vm = load_descriptor_text(yaml.safe_dump(vnfd), "vm_vnfd.yaml")
    assert [str(e) for e in validate_all([vm])] == [f"vm_vnfd.yaml: vnfd.mgmt-cp: {problem}"]


def test_the_operator_plans_what_validate_refuses_only_as_stricter(pkg_copy):
    """OSM onboards a KNF whose ext-cpd names a k8s-cluster net it does not list; `validate` says it is stricter,
    and the planner (which the operator's OSM mode uses on what NBI serves) plans the NS all the same."""
    pkg_copy.edit("cdn_cache_knf", lambda d: d["vnfd"]["ext-cpd"][0].update({"k8s-cluster-net": "other"}))
    packages = pkg_copy.load()
    errors = validate_all(packages)
    assert len(errors) == 1 and STRICTER in str(errors[0])
    served = [load_descriptor_text(yaml.safe_dump(p.descriptor), f"osm:{p.kind}/{p.id}") for p in packages]
    assert [a.network for a in plan_ns(served, "vod").attachments if a.member_vnf_index == "cache"] == [
        "vod-cache-vl"]


def test_plan_cli_says_which_vl_is_not_wired_and_why(pkg_copy):
    add_mgmt_vl(pkg_copy)
    paths = [pkg_copy.root / name for name in PACKAGES]
    table = subprocess.run([sys.executable, "-m", "osm_l2sm", "plan", *paths, "--ns-name", "vod"],
                           capture_output=True, text=True)
    assert table.returncode == 0, table.stderr
    assert "NOT WIRED  WHY\nmgmtnet    management network: KDUs reach it on the cluster's pod network" in table.stdout
    wired = subprocess.run([sys.executable, "-m", "osm_l2sm", "plan", *paths, "--ns-name", "vod", "--wire-mgmt",
                            "--json"], capture_output=True, text=True)
    plan = json.loads(wired.stdout)
    assert [n["vld"] for n in plan["networks"]] == ["cache-vl", "content-vl", "mgmtnet"]
    assert plan["not_wired"] == []


def test_plan_cli_says_when_nothing_is_wired(pkg_copy):
    pkg_copy.edit("cdn_ns", lambda d: [vl.update({"mgmt-network": True}) for vl in nsd(d)["virtual-link-desc"]])
    table = subprocess.run([sys.executable, "-m", "osm_l2sm", "plan", *[pkg_copy.root / name for name in PACKAGES],
                            "--ns-name", "vod"], capture_output=True, text=True)
    assert table.returncode == 0, table.stderr
    assert "no L2S-M network: osm-l2sm leaves every virtual link as OSM deploys it" in table.stdout
    assert "cache-vl    management network" in table.stdout and "content-vl  management network" in table.stdout
