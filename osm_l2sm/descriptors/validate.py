"""Validate packages: our schema first, then the cross-references the planner relies on.

Every problem is a :class:`DescriptorError` naming the file and the YAML path.
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Iterable

from .errors import DescriptorError, descriptor_strictness, is_stricter, stricter
from .package import CHARTS_FOLDER, Package
from .schema import schema_errors
from .topology import (ADDRESSES, NSD_PATH, Topology, as_list, check_host, parse_ip, parse_link_subnets,
                       walk_links)


log = logging.getLogger(__name__)

KNF = "osm-l2sm wires KNFs: Helm v3 KDUs whose ext-cpds name a k8s-cluster net"
DANGLING = "the reference points to nothing in the descriptor"


def is_knf(vnfd: Package) -> bool:
    """A VNFD with KDUs; one without (VDUs: a VM VNF) is deployed by OSM's RO, and osm-l2sm leaves it alone."""
    return "kdu" in vnfd.body


def _duplicates(items: list, source: str, path: list, key: str, what: str) -> list[DescriptorError]:
    """Entries of a list whose ``key`` repeats an earlier one."""
    seen, errors = set(), []
    for i, item in enumerate(items):
        value = item.get(key) if isinstance(item, dict) else None
        if value is None:
            continue
        if value in seen:
            errors.append(DescriptorError(source, path + [i, key], f"duplicate {what} {value!r}"))
        seen.add(value)
    return errors


def _vnfd_errors(pkg: Package) -> list[DescriptorError]:
    vnfd, src, errors = pkg.body, pkg.source, []
    nets = as_list((vnfd.get("k8s-cluster") or {}).get("nets"))
    cpds = as_list(vnfd.get("ext-cpd"))
    kdus = as_list(vnfd.get("kdu"))
    errors += _duplicates(nets, src, ["vnfd", "k8s-cluster", "nets"], "id", "k8s-cluster net")
    errors += _duplicates(cpds, src, ["vnfd", "ext-cpd"], "id", "ext-cpd")
    errors += _duplicates(kdus, src, ["vnfd", "kdu"], "name", "KDU")
    net_ids = {n.get("id") for n in nets}
    cpd_ids = {c.get("id") for c in cpds}
    for i, cpd in enumerate(cpds if is_knf(pkg) else []):
        if cpd.get("k8s-cluster-net") not in net_ids:
            errors.append(DescriptorError(src, ["vnfd", "ext-cpd", i, "k8s-cluster-net"],
                                          stricter(f"unknown k8s-cluster net {cpd.get('k8s-cluster-net')!r}",
                                                   KNF), plannable=True))
    # NBI requires a VNF with VDUs to name its management ext-cpd (validate_mgmt_interface_connection_point)
    if vnfd.get("vdu") and not vnfd.get("mgmt-cp"):
        errors.append(DescriptorError(src, ["vnfd", "mgmt-cp"], "required for a VNFD with VDUs but missing"))
    if "mgmt-cp" in vnfd and vnfd["mgmt-cp"] not in cpd_ids:
        problem = f"unknown ext-cpd {vnfd['mgmt-cp']!r}"
        errors.append(DescriptorError(src, ["vnfd", "mgmt-cp"], problem) if vnfd.get("vdu") else
                      DescriptorError(src, ["vnfd", "mgmt-cp"], stricter(problem, DANGLING), plannable=True))
    for k, kdu in enumerate(kdus):
        for s, service in enumerate(as_list(kdu.get("service"))):
            ref = service.get("external-connection-point-ref") if isinstance(service, dict) else None
            if ref is not None and ref not in cpd_ids:
                errors.append(DescriptorError(src, ["vnfd", "kdu", k, "service", s, "external-connection-point-ref"],
                                              stricter(f"unknown ext-cpd {ref!r}", DANGLING), plannable=True))
        chart = kdu.get("helm-chart")
        if "juju-bundle" in kdu:
            errors.append(DescriptorError(src, ["vnfd", "kdu", k, "juju-bundle"], stricter(
                "a KDU is either a helm-chart or a juju-bundle, not both",
                "SOL006/OSM IM make them the two cases of one choice; osm-l2sm wires Helm KDUs only")))
        # "repo/chart" is fetched from a Helm repository; a bare name is a chart inside the package.
        if pkg.root is not None and "/" not in chart and pkg.chart_path(kdu.get("name")) is None:
            errors.append(DescriptorError(src, ["vnfd", "kdu", k, "helm-chart"],
                                          stricter(f"chart {chart!r} not found in the package's {CHARTS_FOLDER}/",
                                                   "OSM's LCM would hand the bare name to Helm as a repository "
                                                   "chart; write repo/chart for one")))
    return errors


def _nsd_errors(pkg: Package, vnfds: dict[str, Package]) -> tuple[list[DescriptorError], Topology]:
    """The NSD's problems, and the topology of its first deployment flavour (the one osm-l2sm plans)."""
    nsd, src, errors = pkg.body, pkg.source, []
    listed = as_list(nsd.get("vnfd-id"))
    for i, ref in enumerate(listed):
        if ref not in vnfds:
            errors.append(DescriptorError(src, NSD_PATH + ["vnfd-id", i], f"unknown VNFD {ref!r}"))
    errors += _duplicates(as_list(nsd.get("virtual-link-desc")), src, NSD_PATH + ["virtual-link-desc"], "id",
                          "virtual-link-desc")
    first = None
    for d, df in enumerate(as_list(nsd.get("df"))):
        df_path = NSD_PATH + ["df", d]
        topo = walk_links(nsd, d)
        first = first or topo
        profiles = as_list(df.get("vnf-profile"))
        errors += _duplicates(profiles, src, df_path + ["vnf-profile"], "id", "member-vnf-index")
        errors += _duplicates(as_list(df.get("virtual-link-profile")), src, df_path + ["virtual-link-profile"],
                              "id", "virtual-link-profile")
        for j, vlp in enumerate(as_list(df.get("virtual-link-profile"))):
            if vlp.get("virtual-link-desc-id") not in topo.links:
                errors.append(DescriptorError(src, df_path + ["virtual-link-profile", j, "virtual-link-desc-id"],
                                              stricter(f"unknown virtual-link-desc "
                                                       f"{vlp.get('virtual-link-desc-id')!r}", DANGLING)))
        for p, profile in enumerate(profiles):
            ref = profile.get("vnfd-id")
            if ref not in vnfds:
                errors.append(DescriptorError(src, df_path + ["vnf-profile", p, "vnfd-id"], f"unknown VNFD {ref!r}"))
            elif ref not in listed:
                errors.append(DescriptorError(src, df_path + ["vnf-profile", p, "vnfd-id"],
                                              f"VNFD {ref!r} is not listed in the NSD's vnfd-id"))
            errors += [DescriptorError(src, path, stricter(f"unknown virtual link {vl!r}", DANGLING))
                       for path, vl in topo.dangling if path[:len(df_path) + 2] == df_path + ["vnf-profile", p]]
        errors += parse_link_subnets(topo, src)
        errors += _connection_errors(topo, src, vnfds)
    first = first or walk_links(nsd)
    first.nsd, first.vnfds = pkg, vnfds
    return errors, first


def _connection_errors(topo: Topology, src: str, vnfds: dict[str, Package]) -> list[DescriptorError]:
    """Check every connection and parse its address (into ``ip``) against its link's subnet."""
    errors = []
    taken: dict[tuple, str] = {}
    used: dict[tuple, str] = {}
    for conn in topo.connections:
        cpd_path = conn.path + ["constituent-cpd-id"]
        base = conn.path + ["constituent-base-element-id"]
        if conn.base_element != conn.member_vnf_index:
            errors.append(DescriptorError(src, base, stricter(
                f"must name its vnf-profile {conn.member_vnf_index!r}, not {conn.base_element!r}",
                "a vnf-profile connects its own VNF's connection points"), plannable=True))
        vnfd = vnfds.get(conn.vnfd_id)
        if vnfd is not None:
            cpd_ids = [c.get("id") for c in as_list(vnfd.body.get("ext-cpd"))]
            if conn.cpd not in cpd_ids:
                errors.append(DescriptorError(src, cpd_path, f"VNFD {conn.vnfd_id!r} has no ext-cpd {conn.cpd!r}"))
            if not is_knf(vnfd):  # a VM's addresses are RO's business
                continue
        key = (conn.member_vnf_index, conn.cpd)
        if key in used and conn.vl is not None:
            errors.append(DescriptorError(src, cpd_path, stricter(
                f"cpd {conn.cpd!r} of {conn.member_vnf_index!r} is already on virtual link {used[key]!r}",
                "an ext-cpd is one interface of the KDU's pods, on one network")))
        used.setdefault(key, conn.vl)
        if isinstance(conn.ip_address, list):
            errors.append(DescriptorError(src, conn.path + ["ip-address"], stricter(
                f"{len(conn.ip_address)} addresses for one connection point",
                "osm-l2sm gives each connection point one address; write it as a string or a list of one")))
            continue
        if conn.ip_address is None or conn.vl is None:
            continue
        path = conn.path + ["ip-address"]
        try:
            conn.ip = check_host(parse_ip(conn.ip_address, src, path), topo.links[conn.vl].subnet, src, path)
        except DescriptorError as err:
            errors.append(descriptor_strictness(err))
            continue
        if (conn.vl, conn.ip) in taken:
            errors.append(DescriptorError(src, path, stricter(
                f"address {conn.ip} is already used by {taken[(conn.vl, conn.ip)]} on {conn.vl!r}", ADDRESSES)))
        taken.setdefault((conn.vl, conn.ip), f"{conn.member_vnf_index}/{conn.cpd}")
    return errors


def _package_errors(packages: list[Package]) -> list[DescriptorError]:
    errors = []
    counts = Counter((p.kind, p.id) for p in packages)
    seen = set()
    for pkg in packages:
        if counts[(pkg.kind, pkg.id)] > 1 and (pkg.kind, pkg.id) in seen:
            path = ["vnfd", "id"] if pkg.kind == "vnfd" else NSD_PATH + ["id"]
            errors.append(DescriptorError(pkg.source, path, f"{pkg.kind.upper()} id {pkg.id!r} given twice"))
        seen.add((pkg.kind, pkg.id))
    return errors


def _check(packages: list[Package]) -> tuple[list[DescriptorError], list[Topology]]:
    errors = _package_errors(packages)
    sound = []
    for pkg in packages:
        problems = schema_errors(pkg.kind, pkg.descriptor, pkg.source)
        errors += problems
        if all(p.plannable for p in problems):
            sound.append(pkg)
    vnfds = {p.id: p for p in packages if p.kind == "vnfd"}
    topologies = []
    # VNFDs first: an NSD problem is often the echo of a broken VNFD.
    for pkg in sorted(sound, key=lambda p: p.kind != "vnfd"):
        if pkg.kind == "vnfd":
            errors += _vnfd_errors(pkg)
        else:
            problems, topo = _nsd_errors(pkg, vnfds)
            errors += problems
            topologies.append(topo)
    return errors, topologies


def validate_all(packages: Iterable[Package]) -> list[DescriptorError]:
    """Every problem found: what OSM refuses too first, then where osm-l2sm is stricter; within each, schema
    problems of a package first (its cross-checks need a sound structure)."""
    return sorted(_check(list(packages))[0], key=is_stricter)


def validate(packages: Iterable[Package]) -> None:
    """Raise the first problem found."""
    errors = validate_all(packages)
    if errors:
        raise errors[0]


def resolve(packages: Iterable[Package]) -> Topology:
    """Validate the packages and return the resolved topology of their one NSD. Raises the first problem found,
    except those the planner can live with (``plannable``: logged), so that what OSM deploys is planned."""
    if isinstance(packages, Topology):  # resolved already
        return packages
    errors, topologies = _check(list(packages))
    blocking = [e for e in errors if not e.plannable]
    if blocking:
        raise sorted(blocking, key=is_stricter)[0]
    for err in errors:
        log.warning("planned all the same: %s", err)
    if len(topologies) != 1:
        raise DescriptorError("(packages)", "(top)", f"expected exactly one NSD package, got {len(topologies)}")
    topo = topologies[0]
    topo.members = {str(p["id"]): topo.vnfds[p["vnfd-id"]] for p in as_list(topo.nsd.body["df"][0]["vnf-profile"])}
    return topo
