"""Keeping the data plane up while the control plane changes: a standby controller takes over from a leader killed
with SIGKILL, ``helm upgrade`` rolls the controller and the operator to a new image tag, and a switch pod is
restarted on purpose. Existing pairs ping every 10 ms throughout; the losses, the takeover time and how long a new
attachment waited are printed (figures, not assertions on time)."""
from __future__ import annotations

import json
import threading
import time

import pytest

from osm_l2sm.controller.leader import LEADER_LABEL
from tests.polling import wait_for
from tests.realpods.conftest import (NODE_NAMES, ROOT, RELEASE, RELEASE_NS, Cluster, l2network, node, pod_manifest,
                                     workload)
from tests.realpods.timings import report_timing

CHART = ROOT / "helm-charts" / "l2sm"
CONTROLLER = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=controller"
BLOB_CHUNKS = 160  # 64 KiB each, one every 0.25 s: a transfer of 10 MiB over 40 s


def pods(cluster: Cluster, selector: str) -> list[dict]:
    out = cluster.kubectl("-n", RELEASE_NS, "get", "pods", "-l", selector, "-o", "json").stdout
    return [p for p in json.loads(out)["items"] if not p["metadata"].get("deletionTimestamp")]


def leader(cluster: Cluster) -> str | None:
    found = pods(cluster, f"{CONTROLLER},{LEADER_LABEL}=true")
    return found[0]["metadata"]["name"] if len(found) == 1 else None


def start_pinging(cluster: Cluster, pod: str, address: str, seconds: int) -> None:
    """``ping -i 0.01`` for ``seconds`` in ``pod``, detached; :func:`ping_result` reads its summary."""
    cluster.exec(pod, "sh", "-c", f"rm -f /tmp/ping.out; setsid sh -c 'ping -i 0.01 -w {seconds} -q {address} "
                                  "> /tmp/ping.out 2>&1' < /dev/null > /dev/null 2>&1 &")


def ping_result(cluster: Cluster, pod: str, seconds: int) -> tuple[int, int]:
    """(sent, lost) once the pinger of :func:`start_pinging` is done."""
    out = wait_for(lambda: (o := cluster.exec(pod, "cat", "/tmp/ping.out", check=False).stdout)
                   and "transmitted" in o and o, "the pinger's summary", timeout=seconds + 60)
    fields = out.split("packets transmitted, ")
    sent, received = int(fields[0].split()[-1]), int(fields[1].split()[0])
    return sent, sent - received


def start_transfer(cluster: Cluster, sender: str, receiver: str, address: str) -> str:
    """A slow TCP transfer from ``sender`` to ``receiver``; returns the sha256 of what is sent."""
    cluster.exec(sender, "sh", "-c", f"head -c {BLOB_CHUNKS * 65536} /dev/urandom > /tmp/blob")
    digest = cluster.exec(sender, "sha256sum", "/tmp/blob").stdout.split()[0]
    cluster.exec(receiver, "sh", "-c", "rm -f /tmp/got; setsid sh -c 'nc -l 5001 > /tmp/got' < /dev/null "
                                       "> /dev/null 2>&1 & sleep 0.5")
    slow = (f"i=0; while [ $i -lt {BLOB_CHUNKS} ]; do dd if=/tmp/blob bs=65536 skip=$i count=1 2>/dev/null; "
            "i=$((i+1)); sleep 0.25; done")
    cluster.exec(sender, "sh", "-c", f"rm -f /tmp/sent; setsid sh -c '({slow}) | nc -N -w 30 {address} 5001; "
                                     "echo $? > /tmp/sent' < /dev/null > /dev/null 2>&1 &")
    return digest


def transfer_result(cluster: Cluster, sender: str, receiver: str) -> tuple[str, str]:
    """(the sender's exit status, the sha256 of what the receiver got) once the sender is done."""
    status = wait_for(lambda: cluster.exec(sender, "cat", "/tmp/sent", check=False).stdout.strip(),
                      "the transfer's end", timeout=180)
    got = cluster.exec(receiver, "sha256sum", "/tmp/got").stdout.split()[0]
    return status, got


def upgrade(cluster: Cluster, *values: str) -> None:
    cluster.helm("upgrade", RELEASE, CHART, "-n", RELEASE_NS, "--reuse-values", *values, "--wait",
                 "--timeout", "300s", timeout=420)


def attach_time(cluster: Cluster, name: str, created: float) -> float:
    """Seconds from ``created`` until pod ``name`` (created then) is Ready with its L2S-M interface."""
    cluster.wait_ready(name, timeout=240)
    wait_for(lambda: cluster.exec(name, "ip", "link", "show", "net1", check=False).returncode == 0,
             f"net1 on {name}", timeout=60)
    return time.monotonic() - created


@pytest.fixture(scope="module")
def pair(l2sm: Cluster):
    """keep-a (node 1) and keep-b (node 2), the pair of every test here; keep-c (node 2) and keep-d (node 3), a pair
    away from node 1."""
    with workload(l2sm, l2network("keep-net", "10.50.0.0/24"),
                  pod_manifest("keep-a", '[{"name": "keep-net", "ips": ["10.50.0.1/24"]}]', node=node(1)),
                  pod_manifest("keep-b", '[{"name": "keep-net", "ips": ["10.50.0.2/24"]}]', node=node(2)),
                  pod_manifest("keep-c", '[{"name": "keep-net", "ips": ["10.50.0.3/24"]}]', node=node(2)),
                  pod_manifest("keep-d", '[{"name": "keep-net", "ips": ["10.50.0.4/24"]}]', node=node(3))) as cluster:
        for pod, peer in (("keep-a", "10.50.0.2"), ("keep-c", "10.50.0.4")):
            wait_for(lambda p=pod, a=peer: cluster.exec(p, "ping", "-c", "1", "-W", "1", a, check=False)
                     .returncode == 0, f"{pod} reaches {peer}", timeout=60)
        yield cluster


def switch_ready_on(cluster: Cluster, name: str) -> bool:
    found = [p for p in pods(cluster, "app.kubernetes.io/component=switch") if p["spec"].get("nodeName") == name]
    return len(found) == 1 and all(c.get("ready") for c in found[0]["status"].get("containerStatuses", [])) \
        and bool(found[0]["status"].get("containerStatuses"))


def test_a_switch_pod_restarted_on_purpose_keeps_its_node_talking(pair: Cluster):
    """First, while the controller holds every fact: the new pod's switch registers again and is resynced. Node 1's
    switch pod goes: keep-a (node 1) recovers when it is back; the pair of nodes 2 and 3 loses nothing."""
    switch = pair.switch_pod(1)
    start_pinging(pair, "keep-a", "10.50.0.2", 60)
    start_pinging(pair, "keep-c", "10.50.0.4", 60)
    time.sleep(2)
    deleted = time.monotonic()
    pair.kubectl("-n", RELEASE_NS, "delete", "pod", switch, "--wait=true", "--timeout=120s", timeout=180)
    wait_for(lambda: switch_ready_on(pair, NODE_NAMES[0]), "the new switch pod Ready", timeout=240, interval=1)
    ready = time.monotonic() - deleted
    sent, lost = ping_result(pair, "keep-a", 60)
    far_sent, far_lost = ping_result(pair, "keep-c", 60)
    report_timing(f"switch pod restart: new pod Ready {ready:.0f} s after the delete; {lost} of {sent} pings at "
                  f"10 ms lost by its node's pod; {far_lost} of {far_sent} by a pair of two other nodes")
    if len(NODE_NAMES) >= 3:
        assert far_lost == 0, f"a pair away from the restarted switch lost {far_lost} of {far_sent} pings"
    assert pair.exec("keep-a", "ping", "-c", "3", "-W", "2", "10.50.0.2", check=False).returncode == 0, \
        "the pair talks again after the switch pod's restart, without its pods restarted"
    assert pair.get("pod", "keep-a")["status"]["containerStatuses"][0]["restartCount"] == 0


def test_a_standby_controller_takes_over_from_a_killed_leader(pair: Cluster):
    upgrade(pair, "--set", "controller.replicas=2")
    try:
        first = wait_for(lambda: leader(pair), "one controller labelled leader", timeout=120)
        wait_for(lambda: len(pods(pair, CONTROLLER)) == 2, "two controller pods", timeout=120)
        start_pinging(pair, "keep-a", "10.50.0.2", 45)
        time.sleep(2)
        container = pair.get("pod", first, RELEASE_NS)["status"]["containerStatuses"][0]["containerID"]
        killed = time.monotonic()
        pair.ctr("tasks", "kill", "-s", "SIGKILL", container.split("://", 1)[1],
                 node=pair.node_of(first, RELEASE_NS))
        pair.kubectl("-n", RELEASE_NS, "delete", "pod", first, "--grace-period=0", "--force", "--wait=false")
        pair.apply(pod_manifest("keep-late", "keep-net", node=node(3)))  # created while no replica leads
        try:
            second = wait_for(lambda: (name := leader(pair)) not in (None, first) and name, "a new leader",
                              timeout=60, interval=0.2)
            took = time.monotonic() - killed
            sent, lost = ping_result(pair, "keep-a", 45)
            report_timing(f"standby takeover: {second} leads {took:.1f} s after SIGKILL of {first}; {lost} of {sent} "
                          "pings at 10 ms lost")
            assert lost == 0, f"{lost} of {sent} pings lost while the controller changed"
            waited = attach_time(pair, "keep-late", killed)
            report_timing(f"standby takeover: a pod created at the SIGKILL attached after {waited:.1f} s")
            assert pair.exec("keep-late", "ping", "-c", "1", "-W", "2", "10.50.0.1", check=False).returncode == 0
        finally:
            pair.kubectl("delete", "pod", "keep-late", "--wait=true", "--timeout=120s", check=False, timeout=180)
    finally:
        upgrade(pair, "--set", "controller.replicas=1")


def test_helm_upgrade_to_a_new_tag_rolls_controller_and_operator_while_pairs_talk(pair: Cluster):
    [controller] = pods(pair, CONTROLLER)
    image = controller["status"]["containerStatuses"][0]["image"]  # as containerd names it
    repository = image.rsplit(":", 1)[0]
    for node in pair.nodes:  # the new pods may go to any node
        pair.ctr("images", "tag", "--force", image, f"{repository}:0.1.0-next", node=node)
    start_pinging(pair, "keep-a", "10.50.0.2", 60)
    digest = start_transfer(pair, "keep-a", "keep-b", "10.50.0.2")
    started = time.monotonic()
    failed = []

    def roll():
        try:
            upgrade(pair, "--set", "image.tag=0.1.0-next", "--set", "operator.logLevel=debug")
        except AssertionError as err:
            failed.append(err)

    rolled = threading.Thread(target=roll)
    rolled.start()
    try:
        time.sleep(1)
        pair.apply(pod_manifest("keep-new", "keep-net"))
        waited = attach_time(pair, "keep-new", time.monotonic())
        rolled.join(timeout=480)
        assert not failed and not rolled.is_alive(), failed
        status, got = transfer_result(pair, "keep-a", "keep-b")
        sent, lost = ping_result(pair, "keep-a", 60)
    finally:
        rolled.join(timeout=480)
        pair.kubectl("delete", "pod", "keep-new", "--wait=true", "--timeout=120s", check=False, timeout=180)
    report_timing(f"helm upgrade to a new tag: rolled in {time.monotonic() - started:.0f} s; {lost} of {sent} pings "
                  f"at 10 ms lost; transfer exit {status}, sha256 {'equal' if got == digest else 'DIFFERENT'}; a pod "
                  f"created during the roll attached after {waited:.1f} s")
    for component in ("controller", "operator"):
        spec = pair.get("deployment", f"{RELEASE}-{component}", RELEASE_NS)["spec"]["template"]["spec"]
        assert spec["containers"][0]["image"].endswith(":0.1.0-next"), component
    assert status == "0" and got == digest, "the transfer broke during the upgrade"
    assert lost == 0, f"{lost} of {sent} pings lost during the upgrade"
