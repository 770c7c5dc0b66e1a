"""Pictures of a network service, as a network engineer draws them: Graphviz DOT text, SVG through Graphviz's `dot`.

Two drawings, from the shared model and plain data (no other box is imported here):
- :func:`plan_dot`: what a :class:`~osm_l2sm.model.Plan` will make: KNFs with their interfaces and addresses,
  networks with their CIDRs and gateways, and the routes each KNF gets through a router;
- :func:`running_dot`: what runs (``osm_l2sm.sandbox.running_view``): clusters, nodes with their switch, pods with
  their interfaces, networks, and the tunnels between the nodes' switches.
"""
from __future__ import annotations

import html
import ipaddress
import shutil
import subprocess

from osm_l2sm.errors import L2smError
from osm_l2sm.model import Plan

FORMATS = ("svg", "dot")
FONT = "Helvetica"
KNF_FILL = "#dbe9f6"
NETWORK_FILL = "#fdf2d0"
NODE_FILL = "#f2f2f2"


def _q(text: str) -> str:
    """A DOT quoted string; a line break in ``text`` becomes DOT's centred line break."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _e(text) -> str:
    """Text inside an HTML-like label."""
    return html.escape(str(text), quote=True)


def _header(name: str, title: str) -> list[str]:
    return [f"graph {_q(name)} {{",
            f"  graph [rankdir=LR, fontname={_q(FONT)}, fontsize=13, label={_q(title)}, labelloc=t, nodesep=0.4];",
            f"  node [fontname={_q(FONT)}, fontsize=11];",
            f"  edge [fontname={_q(FONT)}, fontsize=10];"]


def _box(title: str, subtitle: str, rows: list[tuple[str, str]], fill: str) -> str:
    """An HTML-like table label: a header, then one row per interface (its port is the interface name)."""
    cells = "".join(f'<TR><TD PORT={_q(port)} ALIGN="LEFT">{_e(text)}</TD></TR>' for port, text in rows)
    sub = f"<BR/>{_e(subtitle)}" if subtitle else ""
    return (f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="4">'
            f'<TR><TD BGCOLOR="{fill}"><B>{_e(title)}</B>{sub}</TD></TR>{cells}</TABLE>>')


def _network(net: dict) -> str:
    lines = [net["name"]] + [x for x in (net.get("cidr"), net.get("gateway") and f"gw {net['gateway']}") if x]
    return (f"  {_q('net:' + net['name'])} [shape=ellipse, style=filled, fillcolor={_q(NETWORK_FILL)}, "
            f"label={_q(chr(10).join(lines))}];")


def plan_dot(typed: Plan) -> str:
    """The NS a plan makes: KNFs (one per KDU) with their interfaces, the networks, and the planned routes (dashed,
    from a KNF to the network it reaches through the router holding the gateway)."""
    plan = typed.to_dict()
    out = _header(f"ns {plan['ns_name']}", f"NS {plan['ns_name']} (NSD {plan['nsd_id']})")
    attachments = plan["attachments"]
    holder = {a.ip: a.kdu for a in typed.attachments if a.address}
    by_cluster: dict[str | None, list[dict]] = {}
    for kdu in plan["kdus"]:
        by_cluster.setdefault(kdu.get("cluster"), []).append(kdu)
    for cluster, kdus in by_cluster.items():
        indent = "    " if cluster else "  "
        if cluster:
            out.append(f"  subgraph {_q('cluster_' + cluster)} {{ label={_q('cluster ' + cluster)}; style=dashed;")
        for kdu in kdus:
            rows = [(a["interface"], f"{a['interface']} {a.get('address') or 'L2 only'}") for a in attachments
                    if a["kdu"] == kdu["kdu"] and a["member_vnf_index"] == kdu["member_vnf_index"]]
            label = _box(kdu["kdu"], f"member {kdu['member_vnf_index']}", rows, KNF_FILL)
            out.append(f"{indent}{_q(_knf_id(kdu))} [shape=plain, label={label}];")
        if cluster:
            out.append("  }")
    out += [_network(net) for net in plan["networks"]]
    order = _discovery_order([_knf_id(k) for k in plan["kdus"]],
                             [(_knf_id(a), "net:" + a["network"]) for a in attachments])
    for a in attachments:
        knf, net = f"{_q(_knf_id(a))}:{_q(a['interface'])}", _q("net:" + a["network"])
        # the one found first from the first KNF comes first: the NS reads left to right along its links
        first_knf = order[_knf_id(a)] < order["net:" + a["network"]]
        out.append(f"  {knf} -- {net};" if first_knf else f"  {net} -- {knf};")
    for kdu, typed_kdu in zip(plan["kdus"], typed.kdus):
        for route in (r.to_dict() for r in typed_kdu.routes):
            target = _network_of(route["to"], plan["networks"])
            if target is None:
                continue
            via = route["via"] + (f" ({holder[route['via']]})" if route["via"] in holder else "")
            out.append(f"  {_q(_knf_id(kdu))}:{_q(route['interface'])} -- {_q('net:' + target)} [style=dashed, "
                       f"color=gray40, fontcolor=gray25, constraint=false, label={_q('route via ' + via)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _discovery_order(starts: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """The order in which a breadth-first walk of ``edges`` (undirected) finds each node, from each of ``starts``
    not found yet in turn."""
    near: dict[str, list[str]] = {}
    for a, b in edges:
        near.setdefault(a, []).append(b)
        near.setdefault(b, []).append(a)
    order: dict[str, int] = {}
    for start in starts + sorted(near):
        if start in order:
            continue
        order[start], queue = len(order), [start]
        while queue:
            for other in near.get(queue.pop(0), []):
                if other not in order:
                    order[other] = len(order)
                    queue.append(other)
    return order


def _knf_id(item: dict) -> str:
    return f"knf:{item['member_vnf_index']}:{item['kdu']}"


def _network_of(cidr: str, networks: list[dict]) -> str | None:
    wanted = ipaddress.ip_network(cidr, strict=False)
    return next((n["name"] for n in networks if n.get("cidr") and ipaddress.ip_network(n["cidr"]) == wanted), None)


def running_dot(view: dict) -> str:
    """What runs: each node (inside its cluster) holds its switch and its pods; pods' interfaces link to their
    networks; dotted lines are the tunnels between switches."""
    out = _header(f"sandbox {view['name']}", view.get("title") or f"sandbox {view['name']}")
    out.append("  compound=true;")
    for cluster in view["clusters"]:
        if cluster.get("name"):
            out.append(f"  subgraph {_q('cluster_c:' + cluster['name'])} {{ label={_q('cluster ' + cluster['name'])};"
                       " style=dashed;")
        for node in cluster["nodes"]:
            broken = " color=red; fontcolor=red;" if node.get("problems") else ""  # what does not work shows
            out.append(f"  subgraph {_q('cluster_n:' + node['name'])} {{ label={_q(_node_title(node))}; "
                       f"style=filled; fillcolor={_q(NODE_FILL)};{broken}")
            switch = _q(node.get("bridge", "switch"))
            out.append(f"    {_q('sw:' + node['name'])} [shape=box, style=rounded, label={switch}];")
            for pod in node["pods"]:
                rows = [(i["interface"], f"{i['interface']} {i.get('address') or 'L2 only'}")
                        for i in pod["interfaces"]]
                label = _box(pod["name"], "", rows, KNF_FILL)
                out.append(f"    {_q('pod:' + pod['name'])} [shape=plain, label={label}];")
            out.append("  }")
        if cluster.get("name"):
            out.append("  }")
    out += [_network(net) for net in view["networks"]]
    for cluster in view["clusters"]:
        for node in cluster["nodes"]:
            for pod in node["pods"]:
                for i in pod["interfaces"]:
                    out.append(f"  {_q('pod:' + pod['name'])}:{_q(i['interface'])} -- {_q('net:' + i['network'])};")
    for a, b in view["tunnels"]:
        out.append(f"  {_q('sw:' + a)} -- {_q('sw:' + b)} [style=dotted, penwidth=2, label=\"tunnel\"];")
    out.append("}")
    return "\n".join(out) + "\n"


def _node_title(node: dict) -> str:
    return node["name"] + (f" ({node['address']})" if node.get("address") else "") + \
        ("" if not node.get("problems") else " - " + "; ".join(node["problems"]))


def render(dot_text: str, fmt: str) -> str:
    """``dot_text`` as DOT (unchanged) or SVG (Graphviz's ``dot -Tsvg``)."""
    if fmt == "dot":
        return dot_text
    if fmt != "svg":
        raise L2smError(f"unknown picture format {fmt!r} (choose from {', '.join(FORMATS)})")
    dot = shutil.which("dot")
    if dot is None:
        raise L2smError("drawing SVG needs Graphviz's dot command: apt install graphviz (or use --format dot)")
    done = subprocess.run([dot, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit status {done.returncode}"
        raise L2smError(f"dot failed: {last}")
    return done.stdout
