"""`osm-l2sm` sub-commands of the sandbox area: `sandbox`, `network` and `pod`."""
from __future__ import annotations

import argparse
import json
import sys

from osm_l2sm.errors import L2smError


def _sandbox():
    from osm_l2sm.sandbox import Sandbox  # late: keeps `osm-l2sm --help` fast and free of data-plane imports

    return Sandbox()


def _print_json(data) -> None:
    print(json.dumps(data, indent=2))


def _print_list(items: list[dict], as_json: bool, header: str, row) -> int:
    """JSON, or a header and one ``row(item)`` line per item."""
    if as_json:
        _print_json(items)
        return 0
    print(header)
    for item in items:
        print(row(item))
    return 0


def _network_arg(text: str) -> tuple[str, str | None]:
    """NET or NET=IP/PREFIX."""
    name, sep, address = text.partition("=")
    if not name or (sep and "/" not in address):
        raise argparse.ArgumentTypeError(f"{text!r} is not NET or NET=IP/PREFIX")
    return name, address or None


def _command(args) -> list[str]:
    return list(args.cmd or [])


def _print_graph(fmt: str) -> int:
    """The drawing of what runs: clusters, nodes, pods and their interfaces, networks, tunnels."""
    from osm_l2sm.sandbox import running_view

    from .picture import render, running_dot
    sys.stdout.write(render(running_dot(running_view(_sandbox())), fmt))
    return 0


def _add_graph_option(p) -> None:
    p.add_argument("--graph", nargs="?", const="svg", choices=("svg", "dot"),
                   help="draw what runs instead (nodes, pods with their interfaces, networks, tunnels): SVG "
                   "(Graphviz's dot; the default) or its dot source")


# sandbox ---------------------------------------------------------------------------------------------------------
def sandbox_up(args) -> int:
    sb = _sandbox()
    if sb.up(args.nodes, args.clusters, args.interdomain_delay, args.interdomain_loss):
        status = sb.status()
        if status.get("clusters"):
            parts = []
            for cluster, rec in sorted(status["clusters"].items()):
                nodes = ", ".join(n for n in rec["nodes"] if n != rec["edge"])
                parts.append(f"{cluster} ({nodes}; edge {rec['edge']}; controller {rec['controller']['url']})")
            print(f"sandbox {sb.name} is up: {'; '.join(parts)}; provider {status['provider']['url']}")
        else:
            print(f"sandbox {sb.name} is up: {len(status['nodes'])} nodes, controller {status['controller']['url']}")
    else:
        print(f"sandbox {sb.name} is already up; stopped controllers and node daemons, if any, were restarted "
              f"with their state (osm-l2sm sandbox down first to rebuild it)")
    return 0


def sandbox_down(args) -> int:
    sb = _sandbox()
    sb.down()
    print(f"sandbox {sb.name} is down")
    return 0


def sandbox_status(args) -> int:
    if args.graph:
        return _print_graph(args.graph)
    status = _sandbox().status()
    if args.json:
        _print_json(status)
        return 0
    if not status.get("controller"):
        print(f"sandbox {status['name']}: down")
        return 0
    if not status["up"]:
        health = "broken (run: osm-l2sm sandbox down)"
    elif status["problems"]:
        health = f"degraded: {'; '.join(status['problems'])} (run: osm-l2sm sandbox up)"
    else:
        health = "up, every part works"
    print(f"sandbox {status['name']}: {health}")
    for cluster, rec in status.get("clusters", {}).items():
        print(f"  cluster {cluster}: controller {rec['controller']['url']} "
              f"{'alive' if rec['controller']['alive'] else 'dead'}, edge {rec['edge']}, nodes {', '.join(rec['nodes'])}")
    if status.get("provider"):
        print(f"  provider {status['provider']['url']} {'alive' if status['provider']['alive'] else 'dead'}, "
              f"inter-domain underlay {status['interdomain']}")
    ctl = status["controller"]
    print(f"  controller {ctl['url']} pid {ctl['pid']} {'alive' if ctl['alive'] else 'dead'}")
    for node in status["nodes"]:
        print(f"  {node['name']}: netns {node['netns']} {'present' if node['netns_present'] else 'missing'}, "
              f"ovs {'running' if node['ovs_running'] else 'stopped'}, underlay {node['underlay_ip']}"
              + (f"; degraded: {', '.join(node['problems'])}" if node["problems"] else ""))
    print(f"  networks: {', '.join(status['networks'] or []) or '-'}")
    print(f"  pods: {', '.join(status['pods']) or '-'}")
    return 0


# network ---------------------------------------------------------------------------------------------------------
def network_create(args) -> int:
    clusters = [c for c in (args.clusters or "").split(",") if c] or None
    net = _sandbox().create_network(args.name, cidr=args.cidr, clusters=clusters)
    where = f"clusters {','.join(net['clusters'])}" if net.get("clusters") else f"id {net['id']}"
    tag = f", global tag {net['interdomain']['tag']}" if net.get("interdomain") else ""
    print(f"network {net['name']} ({where}{tag}{', ' + net['cidr'] if net.get('cidr') else ''})")
    return 0


def network_delete(args) -> int:
    _sandbox().delete_network(args.name)
    print(f"network {args.name} deleted")
    return 0


def network_list(args) -> int:
    if args.graph:
        return _print_graph(args.graph)
    return _print_list(_sandbox().networks(), args.json, f"{'NAME':20} {'ID':>5} {'CIDR':18} {'PORTS':>5} CLUSTERS",
                       lambda n: f"{n['name']:20} {n['id']:>5} {n.get('cidr') or '-':18} {len(n.get('ports', [])):>5} "
                                 f"{','.join(n.get('clusters', [])) or '-'}")


# pod -------------------------------------------------------------------------------------------------------------
def pod_run(args) -> int:
    info = _sandbox().run_pod(args.name, args.node, args.network, _command(args) or None)
    nets = ", ".join(f"{n['interface']}={n['network']}" + (f" {n['address']}" if n["address"] else "")
                     for n in info["networks"])
    print(f"pod {info['name']} on {info['node']}: {nets or 'no networks'}"
          + (f", pid {info['pid']}, log {info['log']}" if info["pid"] else ""))
    return 0


def pod_exec(args) -> int:
    cmd = _command(args)
    if not cmd:
        raise L2smError("pod exec needs a command after --")
    sys.stdout.flush()
    return _sandbox().exec_pod(args.name, cmd, capture=False).returncode


def pod_delete(args) -> int:
    _sandbox().delete_pod(args.name)
    print(f"pod {args.name} deleted")
    return 0


def _pod_row(pod: dict) -> str:
    nets = " ".join(f"{n['interface']}={n['network']}" + (f"({n['address']})" if n["address"] else "")
                    for n in pod["networks"])
    state = "running" if pod["running"] else ("exited" if pod["pid"] else "idle")
    return f"{pod['name']:16} {pod['node']:8} {state:8} {nets}"


def pod_list(args) -> int:
    return _print_list(_sandbox().pods(), args.json, f"{'NAME':16} {'NODE':8} {'STATE':8} NETWORKS", _pod_row)


def pod_attach(args) -> int:
    network, address = args.network
    ifname = _sandbox().attach(args.name, network, address)
    print(f"pod {args.name}: {ifname} on {network}")
    return 0


def pod_detach(args) -> int:
    _sandbox().detach(args.name, args.network)
    print(f"pod {args.name}: detached from {args.network}")
    return 0


def pod_logs(args) -> int:
    sys.stdout.write(_sandbox().pod_log(args.name))
    return 0


def register(sub) -> None:
    """Add this area's sub-commands to the top-level parser."""
    sb = sub.add_parser("sandbox", help="the local sandbox cluster (name from OSM_L2SM_SANDBOX)")
    sbs = sb.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sbs.add_parser("up", help="start nodes, underlay, tunnels and the controller; on a running sandbox, "
                                  "restart its dead controllers and node daemons")
    p.add_argument("--nodes", type=int, default=2, help="how many nodes (node1..nodeN), default 2")
    p.add_argument("--clusters", type=int, default=1,
                   help="how many clusters (c1..cK, nodes cK-node1..N, joined by edge devices), default 1")
    p.add_argument("--interdomain-delay", type=float, metavar="MS", help="tc netem delay on inter-domain links")
    p.add_argument("--interdomain-loss", type=float, metavar="PCT", help="tc netem loss on inter-domain links")
    p.set_defaults(func=sandbox_up)
    sbs.add_parser("down", help="remove everything the sandbox made").set_defaults(func=sandbox_down)
    p = sbs.add_parser("status", help="show nodes (degraded when a daemon of theirs is dead), controller, "
                                      "networks and pods")
    p.add_argument("--json", action="store_true", help="as JSON: up (brought up and not taken down), ok (up and "
                                                       "every part works), problems (what does not), and the parts")
    _add_graph_option(p)
    p.set_defaults(func=sandbox_status)

    net = sub.add_parser("network", help="L2 networks of the sandbox")
    nets = net.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = nets.add_parser("create", help="create a network")
    p.add_argument("name")
    p.add_argument("--cidr", help="its IP range (informative; two networks may share one)")
    p.add_argument("--clusters", metavar="C1,C2",
                   help="multi-cluster sandbox: where it lives (required there; two or more: inter-domain)")
    p.set_defaults(func=network_create)
    p = nets.add_parser("delete", help="delete a network (pods on it are detached)")
    p.add_argument("name")
    p.set_defaults(func=network_delete)
    p = nets.add_parser("list", help="list networks")
    p.add_argument("--json", action="store_true")
    _add_graph_option(p)
    p.set_defaults(func=network_list)

    pod = sub.add_parser("pod", help="pods of the sandbox")
    pods = pod.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = pods.add_parser("run", help="start a pod: NAME --node NODE --network NET[=IP/PREFIX] ... [-- CMD ...]")
    p.add_argument("name")
    p.add_argument("--node", required=True)
    p.add_argument("--network", action="append", default=[], type=_network_arg, metavar="NET[=IP/PREFIX]")
    # "+" with required switched off: the only form argparse accepts both "NAME --node N -- CMD" and no CMD.
    p.add_argument("cmd", nargs="+", default=[], metavar="-- CMD", help="program to run inside").required = False
    p.set_defaults(func=pod_run)
    p = pods.add_parser("exec", help="run a command inside a pod and return its exit status")
    p.add_argument("name")
    p.add_argument("cmd", nargs="+", metavar="-- CMD", help="the command")
    p.set_defaults(func=pod_exec)
    p = pods.add_parser("delete", help="stop a pod's program, detach it and remove it")
    p.add_argument("name")
    p.set_defaults(func=pod_delete)
    p = pods.add_parser("list", help="list pods")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=pod_list)
    p = pods.add_parser("attach", help="attach a running pod to one more network")
    p.add_argument("name")
    p.add_argument("--network", required=True, type=_network_arg, metavar="NET[=IP/PREFIX]")
    p.set_defaults(func=pod_attach)
    p = pods.add_parser("detach", help="detach a pod from a network")
    p.add_argument("name")
    p.add_argument("--network", required=True)
    p.set_defaults(func=pod_detach)
    p = pods.add_parser("logs", help="print a pod's program output")
    p.add_argument("name")
    p.set_defaults(func=pod_logs)
