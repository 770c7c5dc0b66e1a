"""The node side of attach/detach on running pods, as pure functions: finding a pod's sandbox in /proc the way the
kubelet names its cgroups, and which CNI commands a pod needs."""
from __future__ import annotations

import json
from pathlib import Path

from osm_l2sm.k8s.node_attach import Sandbox, find_sandbox, plan_changes

UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
SANDBOX_ID = "a" * 64
APP_ID = "b" * 64


def _process(proc: Path, pid: int, cmdline: str, cgroup: str) -> None:
    d = proc / str(pid)
    d.mkdir()
    (d / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode() + b"\0")
    (d / "cgroup").write_text(cgroup)


def test_the_sandbox_is_the_pause_process_in_the_pods_cgroup_cgroupfs(tmp_path):
    _process(tmp_path, 10, "/pause", f"4:memory:/kubepods/besteffort/pod{UID}/{SANDBOX_ID}\n")
    _process(tmp_path, 11, "nginx -g daemon off;", f"4:memory:/kubepods/besteffort/pod{UID}/{APP_ID}\n")
    _process(tmp_path, 12, "/pause", f"4:memory:/kubepods/besteffort/pod{UID[:-1]}9/{'c' * 64}\n")
    (tmp_path / "self").mkdir()
    assert find_sandbox(UID, tmp_path) == Sandbox(10, SANDBOX_ID)
    assert find_sandbox(UID, tmp_path).netns == "/proc/10/ns/net"


def test_the_sandbox_with_the_systemd_cgroup_driver(tmp_path):
    systemd_uid = UID.replace("-", "_")
    _process(tmp_path, 20, "/pause", f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
                                     f"{systemd_uid}.slice/cri-containerd-{SANDBOX_ID}.scope\n")
    assert find_sandbox(UID, tmp_path) == Sandbox(20, SANDBOX_ID)
    assert find_sandbox("11111111-2222-3333-4444-555555555555", tmp_path) is None


def _pod(networks: str) -> dict:
    return {"metadata": {"namespace": "ns1", "annotations": {"k8s.v1.cni.cncf.io/networks": networks}}}


NADS = {("ns1", "blue"): {"cniVersion": "1.0.0", "type": "l2sm-cni", "network": "blue"},
        ("ns1", "red"): {"cniVersion": "1.0.0", "type": "l2sm-cni", "network": "red"},
        ("ns1", "macvlan"): None}  # someone else's attachment


def test_a_network_added_to_a_running_pod_is_an_add_with_its_addresses():
    pod = _pod('[{"name": "blue", "namespace": "ns1", "interface": "net1", "ips": ["10.0.0.1/24"]},'
               ' {"name": "red", "namespace": "ns1", "interface": "net2", "ips": ["10.0.9.1/24"]}]')
    changes = plan_changes(pod, {"lo": 0, "eth0": 7, "net1": 31}, {31}, lambda ns, n: NADS.get((ns, n)))
    assert [(c.command, c.ifname, c.network) for c in changes] == [("ADD", "net2", "red")]
    assert changes[0].config == {"cniVersion": "1.0.0", "type": "l2sm-cni", "network": "red", "name": "red",
                                 "runtimeConfig": {"ips": ["10.0.9.1/24"]}}


def test_an_interface_added_later_gets_its_entrys_cni_args_as_multus_hands_them_on():
    """A pod wired after its start (it waited for an address) is attached here, not by Multus: its planned routes
    (OSM mode's cni-args) must reach the plugin all the same, as ``args.cni``."""
    routes = [{"dst": "10.0.2.0/24", "gw": "10.0.9.254"}]
    pod = _pod('[{"name": "red", "namespace": "ns1", "interface": "net1", "ips": ["10.0.9.1/24"], '
               '"cni-args": {"routes": ' + json.dumps(routes) + '}}]')
    [change] = plan_changes(pod, {"eth0": 7}, set(), lambda ns, n: NADS.get((ns, n)))
    assert change.config["args"] == {"cni": {"routes": routes}}
    assert "args" not in NADS[("ns1", "red")]  # the NAD's own config is not changed


def test_a_network_removed_is_a_del_and_foreign_interfaces_are_left_alone():
    pod = _pod('[{"name": "blue", "namespace": "ns1", "interface": "net1"},'
               ' {"name": "macvlan", "namespace": "ns1", "interface": "net3"}]')
    links = {"eth0": 7, "net1": 31, "net2": 32, "net3": 40}
    changes = plan_changes(pod, links, {31, 32}, lambda ns, n: NADS.get((ns, n)))
    assert [(c.command, c.ifname) for c in changes] == [("DEL", "net2")]  # net3's peer is not one of ours
    assert plan_changes(_pod("not json"), links, {31, 32}, lambda ns, n: None)[0].command == "DEL"
