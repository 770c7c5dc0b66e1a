"""`osm-l2sm` sub-commands of the descriptors area: validate, plan, package build."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from osm_l2sm.errors import L2smError


def register(sub) -> None:
    """Add this area's sub-commands to the top-level parser."""
    p = sub.add_parser("validate", help="check OSM packages (NSD and VNFDs) and their cross-references")
    p.add_argument("packages", nargs="+", metavar="PKG", help="package folder, .tar.gz or descriptor YAML")
    p.add_argument("--all", action="store_true", help="list every problem, not only the first")
    p.set_defaults(func=run_validate)

    p = sub.add_parser("plan", help="show the networks, attachments and Helm values of one NS instance")
    p.add_argument("packages", nargs="+", metavar="PKG", help="the NSD package and its VNFD packages")
    p.add_argument("--ns-name", required=True, help="the NS instance name (networks are named after it)")
    p.add_argument("--config", metavar="FILE", help="ns-create config YAML (vld, additionalParamsForVnf)")
    p.add_argument("--vim-account", "--vim_account", dest="vim_account",
                   help="the NS's VIM account (members without a config vnf[].vimAccountId run there)")
    p.add_argument("--cluster-map", metavar="VIM=CLUSTER,...",
                   help="the cluster of each VIM account, e.g. vim1=c1,vim2=c2 (default: a VIM is its cluster)")
    p.add_argument("--wire-mgmt", action="store_true", default=None,
                   help="wire management VLs (mgmt-network: true) as L2S-M networks too; by default the KDUs reach "
                        "them on the cluster's pod network (ns-create: additionalParamsForNs.l2sm_wire_mgmt)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--format", choices=("table", "json", "svg", "dot"), default=None,
                   help="table (the default), json (as --json), or a drawing of the NS: svg (Graphviz's dot) or its "
                   "dot source; KNFs with their interfaces and addresses, networks with their CIDRs, routes")
    p.add_argument("-o", "--output", metavar="FILE", help="write there instead of standard output")
    p.set_defaults(func=run_plan)

    p = sub.add_parser("package", help="OSM package tools")
    psub = p.add_subparsers(dest="package_command", metavar="SUBCOMMAND")
    psub.required = True
    b = psub.add_parser("build", help="write an onboardable <id>.tar.gz with checksums.txt")
    b.add_argument("folder", metavar="DIR")
    b.add_argument("-o", "--output", metavar="OUTDIR", default=".", help="where to write it (default: .)")
    b.set_defaults(func=run_package_build)


def _load(paths: list[str]):
    from osm_l2sm.descriptors import load_package
    return [load_package(p) for p in paths]


def run_validate(args) -> int:
    from osm_l2sm.descriptors import validate, validate_all
    packages = _load(args.packages)
    if not args.all:
        validate(packages)
    else:
        errors = validate_all(packages)
        for err in errors:
            print(f"osm-l2sm: error: {err}", file=sys.stderr)
        if errors:
            return 1
    for pkg in packages:
        print(f"ok  {pkg.kind}  {pkg.id}  ({pkg.source})")
    return 0


def read_config(path: str | None) -> dict:
    """The ns-create config (vld, additionalParamsForVnf, ...) from a YAML file; {} without one."""
    if path is None:
        return {}
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise L2smError(f"{path}: cannot read: {err.strerror}") from None
    return parse_config(text, path)


def parse_config(text: str | None, source: str) -> dict:
    """The ns-create config from YAML text; ``source`` names it in errors (a file or an option)."""
    try:
        data = yaml.safe_load(text) if text else None
    except yaml.YAMLError as err:
        raise L2smError(f"{source}: not valid YAML: {str(err).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise L2smError(f"{source}: expected a mapping of ns-create config keys")
    return data


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def run_plan(args) -> int:
    from osm_l2sm.descriptors import parse_cluster_map, plan_ns
    plan = plan_ns(_load(args.packages), args.ns_name, read_config(args.config), args.vim_account,
                   parse_cluster_map(args.cluster_map), wire_mgmt=args.wire_mgmt)
    fmt = args.format or ("json" if args.json else "table")
    if fmt == "table" and args.output:
        raise L2smError("--output writes json, svg or dot: add --format")
    if fmt != "table":
        from .picture import plan_dot, render
        text = json.dumps(plan.to_dict(), indent=2) + "\n" if fmt == "json" else render(plan_dot(plan), fmt)
        _write(text, args.output)
        return 0
    print(f"NS {plan.ns_name} (NSD {plan.nsd_id})\n")
    placed = any(a.cluster for a in plan.attachments)
    print(_table([["NETWORK", "VLD", "CIDR", "GATEWAY"] + (["CLUSTERS", "SCOPE"] if placed else [])]
                 + [[n.name, n.vld or "-", n.cidr or "-", n.gateway or "-"]
                    + ([",".join(n.clusters) or "-", "inter-domain" if len(n.clusters) > 1 else "cluster"]
                       if placed else [])
                    for n in plan.networks]) if plan.networks else
          "no L2S-M network: osm-l2sm leaves every virtual link as OSM deploys it")
    if plan.not_wired:
        print()
        print(_table([["NOT WIRED", "WHY"]] + [[u.vld, u.reason] for u in plan.not_wired]))
    print()
    print(_table([["MEMBER", "KDU", "CPD", "INTERFACE", "NETWORK", "ADDRESS"] + (["CLUSTER"] if placed else [])]
                 + [[a.member_vnf_index, a.kdu, a.cpd, a.interface, a.network, a.address or "-"]
                    + ([a.cluster or "-"] if placed else [])
                    for a in plan.attachments]))
    print()
    rows = [["MEMBER", "KDU", "CHART", "ROUTES"]]
    for k in plan.kdus:
        routes = ", ".join(f"{r.to} via {r.via}" for r in k.routes)
        rows.append([k.member_vnf_index, k.kdu, k.chart or "-", routes or "-"])
    print(_table(rows))
    return 0


def _write(text: str, path: str | None) -> None:
    if path is None:
        sys.stdout.write(text)
        return
    try:
        Path(path).write_text(text)
    except OSError as err:
        raise L2smError(f"{path}: cannot write: {err.strerror}") from None


def run_package_build(args) -> int:
    from osm_l2sm.descriptors import build_package
    print(build_package(args.folder, args.output))
    return 0
