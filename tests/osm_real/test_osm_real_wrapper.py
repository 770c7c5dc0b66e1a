"""What a user of `osm-l2sm ns-create/ns-delete/k8scluster-add` sees against OSM release 19's own NBI: NS names OSM
already has, deletion by id, a network the config names, a plain-HTTP NBI, a KNF on another VIM, osmclient's
options. No LCM runs behind this NBI: instantiations stay PROCESSING, clusters never become ENABLED."""
from __future__ import annotations

import json
import uuid

import pytest
import yaml

from osm_l2sm.cli import main
from osm_l2sm.descriptors import decode_params

from osm_real_kit import LOCAL, TOKEN

pytestmark = pytest.mark.osm_real


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def target(controller) -> list[str]:
    return ["--controller", controller.url, "--controller-token", TOKEN]


def ns_create(osm, controller, name: str, *extra: str, host: list[str] | None = None) -> int:
    return main(["ns-create", "--ns_name", name, "--nsd_name", "cdn_ns", "--vim_account", "k8s-vim", *extra,
                 *(host if host is not None else ["--osm-host", osm["url"]]), *target(controller)])


def networks(controller) -> set[str]:
    return {n["name"] for n in controller.client().list_networks()}


def named(osm, name: str) -> list[dict]:
    return [n for n in osm["nbi"].list_ns() if n["name"] == name]


def test_ns_delete_by_id_removes_the_networks_named_after_the_ns(osm, controller, capsys):
    name = unique("vod")
    assert ns_create(osm, controller, name) == 0
    (ns,) = named(osm, name)
    capsys.readouterr()
    assert main(["ns-delete", ns["_id"], "--force", "--osm-host", osm["url"], *target(controller)]) == 0
    out = capsys.readouterr().out
    assert named(osm, name) == [] and networks(controller) == set()
    assert f"network {name}-cache-vl: removed" in out and "already gone" not in out


def test_an_ns_name_osm_already_has_is_refused_before_anything_is_made(osm, controller, capsys):
    """The networks are named after the NS name in the instantiation request itself (before OSM gives the NS an
    id), so a second NS of that name, which NBI accepts, would share the first one's networks and addresses."""
    name = unique("vod")
    first_id, _ = osm["nbi"].ns_create(name, "cdn_ns", "k8s-vim")  # made by another client: no networks
    capsys.readouterr()
    assert ns_create(osm, controller, name) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"osm-l2sm: error: NS name {name!r} is already used in OSM (NS {first_id}): osm-l2sm names an "
                   "NS's networks after its name, so choose another name (or ns-delete that NS)")
    assert [n["_id"] for n in named(osm, name)] == [first_id] and networks(controller) == set()
    osm["nbi"].ns_delete(first_id, force=True)


@pytest.mark.parametrize("form", ["vld", "old top-level list"])
def test_a_vim_network_name_is_the_network_made_wired_and_recorded(osm, controller, form, capsys):
    name, net = unique("vod"), unique("cdn-cache")
    entries = [{"name": "cache-vl", "vim-network-name": net}]
    config = {"vld": entries} if form == "vld" else {"vim-network-name": entries}
    assert ns_create(osm, controller, name, "--config", yaml.safe_dump(config)) == 0
    assert networks(controller) == {net, f"{name}-content-vl"}
    (ns,) = named(osm, name)
    record = osm["nbi"].ns_record(ns["_id"])
    assert record["instantiate_params"]["vld"] == entries  # what OSM holds for the VIM side
    cache = next(v for v in osm["nbi"].vnf_records(ns["_id"]) if v["member-vnf-index-ref"] == "cache")
    values = decode_params(json.loads(cache["kdur"][0]["additionalParams"]))
    assert [n["name"] for n in values["l2sm"]["networks"]] == [net]  # and what the pods join
    assert [n["name"] for n in json.loads(values["podAnnotations"]["l2sm/networks"])] == [net]
    capsys.readouterr()
    assert main(["ns-delete", name, "--force", "--osm-host", osm["url"], *target(controller)]) == 0
    assert networks(controller) == {net}
    assert f"network {net}: kept" in capsys.readouterr().out
    controller.client().delete_network(net)


def test_a_vim_network_name_per_vim_that_differ_is_refused_with_the_reason(osm, controller, capsys):
    name = unique("vod")
    config = {"vld": [{"name": "cache-vl", "vim-network-name": {"k8s-vim": "net-a", "edge-vim": "net-b"}}]}
    assert ns_create(osm, controller, name, "--config", yaml.safe_dump(config)) == 1
    err = capsys.readouterr().err
    assert "vld[0] (virtual link 'cache-vl') vim-network-name names 2 networks (net-a, net-b): osm-l2sm makes " \
           "one network per virtual link" in err
    assert named(osm, name) == [] and networks(controller) == set()


@pytest.mark.parametrize("insecure", [[], ["--insecure"]])
def test_a_plain_http_nbi_reached_over_tls_is_named_as_the_cause(osm, controller, insecure, capsys):
    hostport = osm["url"].split("//")[1].split("/")[0]
    assert ns_create(osm, controller, unique("vod"), *insecure, host=["--osm-host", hostport]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err == (f"osm-l2sm: error: OSM NBI at {hostport} does not speak TLS (it answered the TLS handshake with "
                   f"something else, likely plain HTTP): use --osm-host http://{hostport}/osm if it serves HTTP")
    assert networks(controller) == set()


@pytest.fixture(scope="module")
def edge_vim(osm) -> str:
    """A second VIM account with a K8s cluster (NBI places a KNF only on a VIM that has one)."""
    client = osm["nbi"]
    client._json("POST", "/admin/v1/vim_accounts", json={
        "name": "edge-vim", "vim_type": "dummy", "vim_url": "http://127.0.0.1:3", "vim_user": "u",
        "vim_password": "p", "vim_tenant_name": "t"})
    assert main(["k8scluster-add", "edge-2", "--creds", str(osm["kubeconfig"]), "--version", "1.29", "--vim",
                 "edge-vim", "--package", *LOCAL, "--osm-host", osm["url"]]) == 0
    return "edge-vim"


def test_a_knf_on_another_vim_over_a_one_domain_target_says_an_ordinary_network_was_made(osm, controller,
                                                                                          edge_vim, capsys):
    name = unique("vod")
    config = {"vnf": [{"member-vnf-index": "cache", "vim_account": edge_vim}]}
    assert ns_create(osm, controller, name, "--config", yaml.safe_dump(config)) == 0
    out = capsys.readouterr().out
    assert "inter-domain" not in out
    assert (f"network {name}-cache-vl (10.0.1.0/24, virtual link cache-vl, KNFs placed on edge-vim, k8s-vim; "
            "this target is one domain: an ordinary network): created") in out  # the cache on edge, the router not
    assert main(["ns-delete", name, "--force", "--osm-host", osm["url"], *target(controller)]) == 0


def test_osmclient_global_options_before_the_command_and_its_ns_create_options(osm, controller, tmp_path, capsys):
    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7 user@host\n")
    name = unique("vod")
    argv = ["--hostname", osm["url"], "--user", "admin", "ns-create", "--ns_name", name, "--nsd_name", "cdn_ns",
            "--vim_account", "k8s-vim", "--admin_status", "DISABLED", "--ssh_keys", str(key), *target(controller)]
    assert main(argv) == 0
    (ns,) = named(osm, name)
    params = osm["nbi"].ns_record(ns["_id"])["instantiate_params"]
    assert params["ssh_keys"] == [key.read_text()]
    assert params["nsDescription"] == "default description"
    assert "admin_status" not in json.dumps(params) and "adminStatus" not in json.dumps(params)
    capsys.readouterr()
    # ns-delete --config: the termination parameters osmclient sends in the query string
    assert main(["--hostname", osm["url"], "ns-delete", name, "--config", "{autoremove: True}", "--force",
                 *target(controller)]) == 0
    assert named(osm, name) == [] and networks(controller) == set()


def test_k8scluster_add_skip_options_and_wait(osm, capsys):
    name = unique("edge")
    argv = ["k8scluster-add", name, "--creds", str(osm["kubeconfig"]), "--version", "1.29", "--vim", "k8s-vim",
            "--k8s-nets", "{net1: null}", "--skip-helm2", "--skip-jujubundle", "--osm-host", osm["url"]]
    assert main(argv + ["--wait", "--timeout", "1"]) == 1  # no LCM here: the cluster never becomes ENABLED
    err = capsys.readouterr().err
    assert "still PROCESSING after 1s (OSM's LCM sets it up; it stays registered)" in err
    stored = osm["nbi"].get_k8scluster(name)
    assert stored["deployment_methods"] == {"juju-bundle": False, "helm-chart-v3": True}
