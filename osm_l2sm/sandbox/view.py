"""What runs in a sandbox as one plain mapping, for drawing it (``osm-l2sm network list --graph``, the CDN demo):
clusters, their nodes with the pods on each and their interfaces, the networks, the tunnels between switches."""
from __future__ import annotations

import contextlib

from osm_l2sm.errors import L2smError

from .cluster import Sandbox
from .layout import BRIDGE


def running_view(sandbox: Sandbox) -> dict:
    status = sandbox.status()
    if not status["up"]:
        raise L2smError(f"sandbox {sandbox.name} is not up (osm-l2sm sandbox up)")
    pods = sandbox.pods()
    nodes = {n["name"]: {"name": n["name"], "address": n["underlay_ip"], "bridge": BRIDGE, "problems": n["problems"],
                         "pods": [{"name": p["name"], "interfaces": [
                             {"interface": i["interface"], "network": i["network"], "address": i.get("address")}
                             for i in p["networks"]]} for p in pods if p["node"] == n["name"]]}
             for n in status["nodes"]}
    named = status.get("clusters") or {None: {"nodes": list(nodes), "controller": status["controller"]}}
    clusters = [{"name": name, "nodes": [nodes[n] for n in rec["nodes"] if n in nodes]} for name, rec in named.items()]
    tunnels = []
    for rec in named.values():
        if rec["controller"].get("alive", True):
            with contextlib.suppress(L2smError):  # a controller that stops answering meanwhile: no tunnels drawn
                links = sandbox.controller_client(rec["controller"]["url"]).topology()["links"]
                tunnels += [(link["a"], link["b"]) for link in links if link["a"] in nodes and link["b"] in nodes]
    return {"name": sandbox.name, "title": f"sandbox {sandbox.name}", "clusters": clusters,
            "networks": [{"name": n["name"], "cidr": n.get("cidr")} for n in sandbox.networks()],
            "tunnels": tunnels}
