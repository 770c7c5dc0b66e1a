"""Attach and detach on running pods: the node's side of a changed ``l2sm/networks`` annotation.

Multus runs CNI only when a pod's sandbox is made, so an interface added to or removed from a running pod's networks
needs someone on the node to run the plugin for it. This agent runs on every node (a container of the switch
DaemonSet, with the host's network and PID namespaces): it watches the labelled pods of its node and makes each
running pod's L2S-M interfaces match the Multus networks the operator wrote for it, by running the node's
``l2sm-cni`` exactly as Multus does. It uses the pod sandbox's container id, as Multus did, so that the plugin's DEL
(by Multus when the pod goes, or here on a detach) finds the same host end.
"""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from osm_l2sm.cni.runtime import run_plugin
from osm_l2sm.errors import L2smError

from .resources import (CNI_TYPE, MULTUS_ANNOTATION, NAD_GROUP, NAD_PLURAL, NAD_VERSION, POD_LABEL, POD_LABEL_VALUE,
                        api_client)
from .wiring import multus_entries

log = logging.getLogger(__name__)

DEFAULT_PLUGIN = "/opt/cni/bin/l2sm-cni"
HOST_END_PREFIX = "l2"  # the plugin's host ends of pod interfaces: l2<12 hex>
# kubelet's pod cgroups: cgroupfs ".../pod<uid>/<container id>", systemd "...-pod<uid, _ for ->.slice/cri-...-<id>.scope"
_POD_CGROUP = re.compile(r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})")
_CONTAINER_ID = re.compile(r"([0-9a-f]{64})(?:\.scope)?$")


@dataclass(frozen=True)
class Sandbox:
    """A pod's sandbox as seen from the host: its pause process and its container id."""

    pid: int
    container_id: str

    @property
    def netns(self) -> str:
        return f"/proc/{self.pid}/ns/net"


def find_sandbox(pod_uid: str, proc: Path = Path("/proc")) -> Sandbox | None:
    """The pause process of pod ``pod_uid`` (found by its cgroup, as the kubelet names it) or None."""
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")[0]
            if os.path.basename(cmdline) != b"pause":
                continue
            cgroups = (entry / "cgroup").read_text()
        except OSError:  # the process went meanwhile
            continue
        for line in cgroups.splitlines():
            path = line.split(":", 2)[-1]
            pod = _POD_CGROUP.search(path)
            container = _CONTAINER_ID.search(path)
            if pod and container and pod.group(1).replace("_", "-") == pod_uid:
                return Sandbox(int(entry.name), container.group(1))
    return None


def pod_links(netns: str) -> dict[str, int]:
    """Interfaces of a pod's network namespace: name -> index of the veth peer (0 when not a veth)."""
    out = subprocess.run(["nsenter", f"--net={netns}", "ip", "-o", "link", "show"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    links = {}
    for line in out.splitlines():
        name = line.split(":")[1].strip()
        name, _, peer = name.partition("@")
        links[name] = int(peer[2:]) if peer.startswith("if") and peer[2:].isdigit() else 0
    return links


def host_end_indexes() -> set[int]:
    """Indexes of the plugin's host ends in this (the node's) network namespace."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=30, check=True).stdout
    found = set()
    for line in out.splitlines():
        index, name = line.split(":")[:2]
        if name.strip().split("@")[0].startswith(HOST_END_PREFIX):
            found.add(int(index))
    return found


@dataclass(frozen=True)
class Change:
    command: str  # ADD or DEL
    ifname: str
    network: str
    config: dict


def del_config(ifname: str) -> dict:
    """The config of a DEL: the daemon finds the attachment by container id and interface, so no NAD is needed."""
    return {"cniVersion": "1.0.0", "name": ifname, "type": CNI_TYPE, "network": ifname}


def plan_changes(pod: dict, links: dict[str, int], ours: set[int], nad_config) -> list[Change]:
    """What to run for ``pod``: ADD for each wanted L2S-M interface it lacks, DEL for each L2S-M interface (a veth
    whose peer is one of our host ends) it should no longer have. An entry's ``cni-args`` go into its ADD's config
    as ``args.cni``, as Multus passes them. ``nad_config(namespace, name)`` gives a NAD's CNI config (None when it
    is not an L2S-M one)."""
    namespace = pod["metadata"]["namespace"]
    changes, wanted = [], set()
    for entry in multus_entries((pod["metadata"].get("annotations") or {}).get(MULTUS_ANNOTATION)):
        ifname, name = entry.get("interface"), entry.get("name")
        config = nad_config(entry.get("namespace") or namespace, name) if ifname and name else None
        if config is None:
            continue
        wanted.add(ifname)
        if ifname not in links:
            conf = dict(config, name=name, runtimeConfig={"ips": list(entry.get("ips") or [])})
            if entry.get("cni-args"):  # as Multus hands them on (OSM mode's routes): the plugin reads args.cni
                conf["args"] = {"cni": dict(entry["cni-args"])}
            changes.append(Change("ADD", ifname, config.get("network", name), conf))
    for ifname, peer in sorted(links.items()):
        if peer in ours and ifname not in wanted:
            changes.append(Change("DEL", ifname, "", del_config(ifname)))
    return changes


class NodeAttach:
    """The agent: one node's labelled pods, kept in line with their Multus networks.

    Multus DELs, when a pod goes, only what it ADDed at the pod's start; interfaces attached here later are
    remembered (pod uid -> interface -> sandbox) and DELed here when their pod is deleted. After a restart they are
    found again: an L2S-M interface of a running pod that Multus' network-status does not list."""

    def __init__(self, node: str, api, plugin: str = DEFAULT_PLUGIN, proc: Path = Path("/proc")):
        self.node = node
        self.api = api
        self.core = client.CoreV1Api(api)
        self.objects = client.CustomObjectsApi(api)
        self.plugin = plugin
        self.proc = proc
        self.attached: dict[str, dict[str, Sandbox]] = {}

    def nad_config(self, namespace: str, name: str) -> dict | None:
        try:
            nad = self.objects.get_namespaced_custom_object(NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, name)
            config = json.loads(nad.get("spec", {}).get("config") or "{}")
        except (ApiException, ValueError):
            return None
        return config if config.get("type") == CNI_TYPE else None

    def invoke(self, command: str, ifname: str, config: dict, sandbox: Sandbox, netns: str | None = None) -> None:
        run_plugin(command, sandbox.container_id, sandbox.netns if netns is None else netns, ifname, config,
                   plugin=self.plugin)

    def reconcile(self, pod: dict) -> list[Change]:
        """Bring one pod in line; the changes made (none for a pod that is not running here yet)."""
        meta, status = pod["metadata"], pod.get("status") or {}
        if meta.get("deletionTimestamp"):
            self.release(pod)
            return []
        if status.get("phase") != "Running":
            return []  # Multus' ADD runs before the containers start
        sandbox = find_sandbox(meta["uid"], self.proc)
        if sandbox is None:
            return []
        links, ours = pod_links(sandbox.netns), host_end_indexes()
        mine = self.attached.setdefault(meta["uid"], {})
        for ifname in set(links) - set(mine) - multus_attached(pod):
            if links[ifname] in ours:  # attached here before a restart
                mine[ifname] = sandbox
        changes = plan_changes(pod, links, ours, self.nad_config)
        for change in changes:
            try:
                self.invoke(change.command, change.ifname, change.config, sandbox)
            except L2smError as err:  # retried at the next event or resync
                log.warning("%s/%s: %s", meta["namespace"], meta["name"], err)
                continue
            log.info("%s/%s: %s %s", meta["namespace"], meta["name"], change.command, change.ifname)
            if change.command == "ADD":
                mine[change.ifname] = sandbox
            else:
                mine.pop(change.ifname, None)
        return changes

    def release(self, pod: dict) -> None:
        """A deleted pod: DEL what was attached here (its network namespace may be gone already)."""
        meta = pod["metadata"]
        for ifname, sandbox in sorted(self.attached.pop(meta["uid"], {}).items()):
            try:
                self.invoke("DEL", ifname, del_config(ifname), sandbox, netns="")
                log.info("%s/%s: DEL %s (pod deleted)", meta["namespace"], meta["name"], ifname)
            except L2smError as err:
                log.warning("%s/%s: %s", meta["namespace"], meta["name"], err)

    def _pods(self, **kwargs):
        return dict(field_selector=f"spec.nodeName={self.node}", label_selector=f"{POD_LABEL}={POD_LABEL_VALUE}",
                    **kwargs)

    def run(self, resync: float = 30.0) -> None:
        """Forever: a full pass every ``resync`` seconds, and each pod's events in between."""
        while True:
            listed = self.core.list_pod_for_all_namespaces(**self._pods())
            for pod in listed.items:
                self.reconcile(self.api.sanitize_for_serialization(pod))
            present = {pod.metadata.uid for pod in listed.items}
            for uid in set(self.attached) - present:  # deleted while no watch was open
                self.release({"metadata": {"uid": uid, "namespace": "?", "name": uid}})
            stream = watch.Watch().stream(self.core.list_pod_for_all_namespaces, timeout_seconds=int(resync),
                                          resource_version=listed.metadata.resource_version, **self._pods())
            try:
                for event in stream:
                    pod = self.api.sanitize_for_serialization(event["object"])
                    if event["type"] == "DELETED":
                        self.release(pod)
                    elif event["type"] in ("ADDED", "MODIFIED"):
                        self.reconcile(pod)
            except ApiException as err:  # an expired resourceVersion: list again
                log.info("pod watch ended (%s); listing again", err.reason)
                time.sleep(1)


def multus_attached(pod: dict) -> set[str]:
    """Interfaces Multus made at the pod's start (its network-status annotation)."""
    text = (pod["metadata"].get("annotations") or {}).get("k8s.v1.cni.cncf.io/network-status")
    try:
        return {e.get("interface") for e in json.loads(text or "[]") if isinstance(e, dict)}
    except ValueError:
        return set()


def run_node_attach(node: str, kubeconfig: str | None = None, plugin: str = DEFAULT_PLUGIN,
                    peers_run_dir: str | None = None, rest: str | None = None, token: str | None = None) -> None:
    """Attach and detach forever; with ``peers_run_dir``, also keep the switch of that OVS run directory's tunnels
    to every other node (:mod:`.node_peers`), registered at the controller ``rest``."""
    api = api_client(kubeconfig)
    if peers_run_dir:
        from .node_peers import start_node_peers

        start_node_peers(node, api, peers_run_dir, rest, token)
    NodeAttach(node, api, plugin).run()
