"""`osm-l2sm ns-create` / `ns-delete` / `k8scluster-add` against the NBI double and a real controller process."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from nbi_double import add_descriptor
from osm_testdata import PACKAGES, TOKEN

from osm_l2sm.cli import main
from osm_l2sm.descriptors import decode_params
from osm_l2sm.errors import L2smError
from osm_l2sm.model import Network
from osm_l2sm.osm import nbi as nbi_module
from osm_l2sm.osm.targets import ControllerTarget

NETWORKS = {"vod-cache-vl": "10.0.1.0/24", "vod-content-vl": "10.0.2.0/24"}


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch):
    """Poll LCM operations without the 2 s pause meant for a real OSM."""
    wait_op = nbi_module.RestNbi.wait_op
    monkeypatch.setattr(nbi_module.RestNbi, "wait_op", lambda self, op_id, timeout=600.0, interval=2.0, **kw:
                        wait_op(self, op_id, timeout, 0.01, **kw))


@pytest.fixture
def onboarded(nbi):
    """The CDN packages as OSM holds them after onboarding."""
    for pkg in PACKAGES:
        (descriptor,) = Path(pkg).glob("*.yaml")
        add_descriptor(nbi.state, descriptor.read_text())
    return nbi


def osm_args(nbi, controller) -> list[str]:
    return ["--osm-host", nbi.url, "--user", "admin", "--password", nbi.state.password,
            "--controller", controller.url, "--controller-token", TOKEN]


def ns_create(nbi, controller, *extra) -> int:
    return main(["ns-create", "--ns_name", "vod", "--nsd_name", "cdn_ns", "--vim_account", "k8s-vim",
                 *osm_args(nbi, controller), *extra])


def controller_networks(controller) -> dict:
    return {n["name"]: n["cidr"] for n in controller.client().list_networks()}


def kdu_params(body: dict) -> dict:
    """``{(member-vnf-index, kdu_name): entry}`` of an ns-create body."""
    return {(vnf["member-vnf-index"], kdu["kdu_name"]): kdu
            for vnf in body["additionalParamsForVnf"] for kdu in vnf["additionalParamsForKdu"]}


USER_CONFIG = {
    "additionalParamsForNs": {"owner": "cdn-team"},
    "additionalParamsForVnf": [{
        "member-vnf-index": "cache",
        "additionalParamsForKdu": [{"kdu_name": "cdn-cache", "k8s-namespace": "cdn",
                                    "additionalParams": {"replicaCount": 2, "podLabels": {"team": "video"}}}]}],
}


def test_ns_create_makes_networks_then_sends_the_kdu_values(onboarded, controller, capsys):
    assert ns_create(onboarded, controller, "--config", yaml.safe_dump(USER_CONFIG), "--wait") == 0
    assert controller_networks(controller) == NETWORKS

    (body,) = onboarded.state.bodies("POST", "/nslcm/v1/ns_instances_content")
    assert body["nsName"] == "vod" and body["vimAccountId"] == "vim-0001"
    assert body["additionalParamsForNs"] == {"owner": "cdn-team"}
    params = kdu_params(body)
    assert set(params) == {("cache", "cdn-cache"), ("router", "router-firewall"), ("content", "content-server")}

    cache = params[("cache", "cdn-cache")]
    assert cache["k8s-namespace"] == "cdn"  # the user's per-KDU keys stay
    raw = cache["additionalParams"]
    assert raw["replicaCount"] == 2
    assert raw["podLabels"].startswith("!!yaml ") and raw["l2sm"].startswith("!!yaml ")
    values = decode_params(raw)
    assert values["podLabels"] == {"l2sm": "true", "team": "video"}  # merged, not clobbered
    assert json.loads(values["podAnnotations"]["l2sm/networks"]) == [{"name": "vod-cache-vl",
                                                                      "ips": ["10.0.1.10/24"]}]
    assert values["l2sm"]["routes"] == [{"to": "10.0.2.0/24", "via": "10.0.1.1", "interface": "net1"}]

    router = decode_params(params[("router", "router-firewall")]["additionalParams"])
    assert [(n["name"], n["interface"], n["ips"]) for n in router["l2sm"]["networks"]] == [
        ("vod-cache-vl", "net1", ["10.0.1.1/24"]), ("vod-content-vl", "net2", ["10.0.2.1/24"])]
    out = capsys.readouterr().out
    assert "network vod-cache-vl (10.0.1.0/24, virtual link cache-vl): created" in out
    assert "instantiated" in out


def test_ns_create_500_removes_only_the_networks_it_made(onboarded, controller, capsys):
    controller.client().create_network("vod-cache-vl", cidr="10.0.1.0/24")  # there before: must stay
    onboarded.state.ns_create_status = 500
    assert ns_create(onboarded, controller) == 1
    assert "osm-l2sm: error: OSM NBI POST /nslcm/v1/ns_instances_content: 500 server error" in capsys.readouterr().err
    assert controller_networks(controller) == {"vod-cache-vl": "10.0.1.0/24"}


def test_ns_create_failed_operation_rolls_back(onboarded, controller, capsys):
    onboarded.state.op_outcome = "FAILED"
    assert ns_create(onboarded, controller, "--wait") == 1
    assert "ended FAILED: helm install failed" in capsys.readouterr().err
    assert controller_networks(controller) == {}


def test_ns_create_unknown_nsd_creates_nothing(onboarded, controller, capsys):
    assert main(["ns-create", "--ns_name", "vod", "--nsd_name", "nope", "--vim_account", "k8s-vim",
                 *osm_args(onboarded, controller)]) == 1
    assert "NSD 'nope' not found in OSM" in capsys.readouterr().err
    assert controller_networks(controller) == {}
    assert onboarded.state.bodies("POST", "/nslcm/v1/ns_instances_content") == []


def test_ns_delete_removes_the_ns_then_its_networks(onboarded, controller, capsys):
    controller.client().create_network("unrelated", cidr="192.168.9.0/24")
    assert ns_create(onboarded, controller, "--wait") == 0
    assert main(["ns-delete", "--ns_name", "vod", "--wait", *osm_args(onboarded, controller)]) == 0
    assert onboarded.state.ns == []
    assert controller_networks(controller) == {"unrelated": "192.168.9.0/24"}
    out = capsys.readouterr().out
    assert "network vod-content-vl: removed" in out
    # a second delete: the NS is gone, so OSM says so and nothing else is touched
    assert main(["ns-delete", "--ns_name", "vod", *osm_args(onboarded, controller)]) == 1
    assert "NS instance 'vod' not found in OSM" in capsys.readouterr().err
    assert controller_networks(controller) == {"unrelated": "192.168.9.0/24"}


def test_local_packages_without_osm_make_networks_only(controller, capsys):
    argv = ["ns-create", "--ns_name", "vod2", "--package", *PACKAGES, "--controller", controller.url,
            "--controller-token", TOKEN]
    assert main(argv) == 0
    assert controller_networks(controller) == {"vod2-cache-vl": "10.0.1.0/24", "vod2-content-vl": "10.0.2.0/24"}
    assert "KNFs not installed" in capsys.readouterr().out
    assert main(["ns-delete", "--ns_name", "vod2", "--package", *PACKAGES, "--controller", controller.url,
                 "--controller-token", TOKEN]) == 0
    assert controller_networks(controller) == {}


def test_ns_create_needs_a_target_and_descriptors(capsys):
    assert main(["ns-create", "--ns_name", "x", "--package", *PACKAGES]) == 1
    assert "no network target: pass --local" in capsys.readouterr().err
    assert main(["ns-create", "--ns_name", "x", "--controller", "http://127.0.0.1:9"]) == 1
    assert "no descriptors: pass --package" in capsys.readouterr().err


def test_bad_controller_token_is_a_clear_error(controller, capsys):
    assert main(["ns-create", "--ns_name", "vod", "--package", *PACKAGES, "--controller", controller.url,
                 "--controller-token", "wrong"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("osm-l2sm: error: controller:") and err.count("\n") == 1
    assert controller_networks(controller) == {}


def test_controller_target_is_idempotent_and_refuses_other_cidr(controller):
    target = ControllerTarget(controller.url, token=TOKEN)
    net = Network("t-net", cidr="10.9.0.0/24", vld="vl1")
    assert target.ensure_network(net) is True
    assert target.ensure_network(net) is False
    assert target.list_networks() == ["t-net"]
    with pytest.raises(L2smError, match="already exists on the controller with cidr 10.9.0.0/24") as err:
        target.ensure_network(Network("t-net", cidr="10.8.0.0/24"))
    assert err.value.status == 409
    assert target.delete_network("t-net") is True
    assert target.delete_network("t-net") is False


@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [
        {"name": "c", "cluster": {"server": "https://10.0.0.1:6443"}}]}))
    return path


def test_k8scluster_add_dry_run_maps_knf_nets_to_planned_networks(kubeconfig, capsys):
    assert main(["k8scluster-add", "edge", "--creds", str(kubeconfig), "--version", "1.29", "--vim", "k8s-vim",
                 "--package", *PACKAGES, "--ns-name", "vod", "--dry-run"]) == 0
    out = capsys.readouterr()
    body = json.loads(out.out)
    nets = body.pop("nets")
    # no --description: the key is left out (NBI refuses an empty one); cni is the KNFs' k8s-cluster cni
    assert body == {"name": "edge", "credentials": yaml.safe_load(kubeconfig.read_text()), "k8s_version": "1.29",
                    "vim_account": "k8s-vim", "namespace": "kube-system", "cni": ["multus"]}
    assert out.err == "vim_account is sent as the VIM's id; pass --osm-host to resolve it\n"
    # each KNF net maps to the network of the VL its ext-cpds are connected to
    assert nets == {"cache-net": "vod-cache-vl", "content-net": "vod-content-vl"}


def test_k8scluster_add_refuses_creds_that_are_no_kubeconfig(nbi, tmp_path, capsys):
    creds = tmp_path / "list.yaml"
    creds.write_text("- not\n- a kubeconfig\n")
    assert main(["k8scluster-add", "edge", "--creds", str(creds), "--version", "1.29", "--vim", "k8s-vim",
                 "--package", *PACKAGES, "--osm-host", nbi.url, "--password", nbi.state.password]) == 1
    assert capsys.readouterr().err == (
        f"osm-l2sm: error: kubeconfig {creds} is not a kubeconfig: expected a YAML mapping\n")
    assert nbi.state.bodies("POST", "/admin/v1/k8sclusters") == []


def test_k8scluster_add_posts_to_osm(nbi, kubeconfig, capsys):
    assert main(["k8scluster-add", "edge", "--creds", str(kubeconfig), "--version", "1.29", "--vim", "k8s-vim",
                 "--package", *PACKAGES, "--cni", '["multus"]', "--osm-host", nbi.url,
                 "--password", nbi.state.password]) == 0
    (body,) = nbi.state.bodies("POST", "/admin/v1/k8sclusters")
    assert body["vim_account"] == "vim-0001" and body["cni"] == ["multus"]
    assert set(body["nets"].values()) == {None}  # no NS name, no vim-network-name: any network
    assert "K8s cluster edge:" in capsys.readouterr().out


def test_network_conflict_midway_removes_the_networks_already_made(onboarded, controller, capsys):
    controller.client().create_network("vod-content-vl", cidr="10.7.0.0/24")  # someone else's, other subnet
    assert ns_create(onboarded, controller) == 1
    assert "network 'vod-content-vl' already exists on the controller with cidr 10.7.0.0/24" in capsys.readouterr().err
    assert controller_networks(controller) == {"vod-content-vl": "10.7.0.0/24"}
    assert onboarded.state.bodies("POST", "/nslcm/v1/ns_instances_content") == []


def test_target_choice_from_arguments():
    import argparse

    from osm_l2sm.cli.targets import target_from_args

    def args(**kw):
        return argparse.Namespace(**{"local": False, "kubeconfig": None, "controller": None, **kw})

    assert type(target_from_args(args(local=True, sandbox="osmtst"))).__name__ == "SandboxTarget"
    assert type(target_from_args(args(kubeconfig="k.yaml"))).__name__ == "L2NetworkTarget"
    assert isinstance(target_from_args(args(controller="http://127.0.0.1:9")), ControllerTarget)
    with pytest.raises(L2smError, match="choose one network target"):
        target_from_args(args(local=True, controller="http://127.0.0.1:9"))
