"""Broken copies of the CDN packages, one edit each, with the message osm-l2sm gives (without the reason it adds
where it is stricter than OSM); and edits both osm-l2sm and OSM's NBI accept. Shared by the descriptor tests and the
real-OSM tier, which runs every case through NBI too."""
from __future__ import annotations


def nsd(doc):
    return doc["nsd"]["nsd"][0]


def df(doc):
    return nsd(doc)["df"][0]


def cpd(doc, profile, link=0, entry=0):
    return df(doc)["vnf-profile"][profile]["virtual-link-connectivity"][link]["constituent-cpd-id"][entry]


def l3(doc, profile):
    return df(doc)["virtual-link-profile"][profile]["virtual-link-protocol-data"]["l3-protocol-data"]


VP = "nsd.nsd[0].df[0].vnf-profile"
CPD = "virtual-link-connectivity[0].constituent-cpd-id[0]"
L3 = "nsd.nsd[0].df[0].virtual-link-profile[{}].virtual-link-protocol-data.l3-protocol-data"

BROKEN = {
    "unknown vnfd in a vnf-profile": (
        "cdn_ns", lambda d: df(d)["vnf-profile"][1].update({"vnfd-id": "x"}),
        f"cdn_ns/cdn_nsd.yaml: {VP}[1].vnfd-id: unknown VNFD 'x'"),
    "unknown vnfd in the nsd's list": (
        "cdn_ns", lambda d: nsd(d)["vnfd-id"].append("ghost_knf"),
        "cdn_ns/cdn_nsd.yaml: nsd.nsd[0].vnfd-id[3]: unknown VNFD 'ghost_knf'"),
    "vnf-profile vnfd not listed": (
        "cdn_ns", lambda d: nsd(d)["vnfd-id"].remove("content_server_knf"),
        f"cdn_ns/cdn_nsd.yaml: {VP}[2].vnfd-id: VNFD 'content_server_knf' is not listed in the NSD's vnfd-id"),
    "constituent cpd is not an ext-cpd": (
        "cdn_ns", lambda d: cpd(d, 0).update({"constituent-cpd-id": "eth0"}),
        f"cdn_ns/cdn_nsd.yaml: {VP}[0].{CPD}.constituent-cpd-id: VNFD 'cdn_cache_knf' has no ext-cpd 'eth0'"),
    "base element is another profile": (
        "cdn_ns", lambda d: cpd(d, 2).update({"constituent-base-element-id": "router"}),
        f"cdn_ns/cdn_nsd.yaml: {VP}[2].{CPD}.constituent-base-element-id: must name its vnf-profile 'content', "
        f"not 'router'"),
    "unknown virtual link": (
        "cdn_ns", lambda d: df(d)["vnf-profile"][0]["virtual-link-connectivity"][0].update(
            {"virtual-link-profile-id": "mgmt"}),
        f"cdn_ns/cdn_nsd.yaml: {VP}[0].virtual-link-connectivity[0].virtual-link-profile-id: unknown virtual link "
        f"'mgmt'"),
    "virtual-link-profile of an unknown desc": (
        "cdn_ns", lambda d: df(d)["virtual-link-profile"][1].update({"virtual-link-desc-id": "other-vl"}),
        "cdn_ns/cdn_nsd.yaml: nsd.nsd[0].df[0].virtual-link-profile[1].virtual-link-desc-id: unknown "
        "virtual-link-desc 'other-vl'"),
    "address outside the subnet": (
        "cdn_ns", lambda d: cpd(d, 2).update({"ip-address": "10.0.1.10"}),
        f"cdn_ns/cdn_nsd.yaml: {VP}[2].{CPD}.ip-address: address 10.0.1.10 is outside the link's subnet "
        f"10.0.2.0/24"),
    "address used twice": (
        "cdn_ns", lambda d: cpd(d, 0).update({"ip-address": "10.0.1.1"}),
        f"cdn_ns/cdn_nsd.yaml: {VP}[1].{CPD}.ip-address: address 10.0.1.1 is already used by cache/cache-ext on "
        f"'cache-vl'"),
    "address is not an address": (
        "cdn_ns", lambda d: cpd(d, 0).update({"ip-address": "10.0.1.300"}),
        f"cdn_ns/cdn_nsd.yaml: {VP}[0].{CPD}.ip-address: '10.0.1.300' is not an IPv4 address"),
    "address is the broadcast address": (
        "cdn_ns", lambda d: cpd(d, 0).update({"ip-address": "10.0.1.255"}),
        f"cdn_ns/cdn_nsd.yaml: {VP}[0].{CPD}.ip-address: address 10.0.1.255 is the network or broadcast address "
        f"of 10.0.1.0/24"),
    "subnet with host bits": (
        "cdn_ns", lambda d: l3(d, 0).update({"cidr": "10.0.1.5/24"}),
        f"cdn_ns/cdn_nsd.yaml: {L3.format(0)}.cidr: '10.0.1.5/24' is not a subnet address like 10.0.1.0/24"),
    "gateway outside the subnet": (
        "cdn_ns", lambda d: l3(d, 1).update({"gateway-ip": "10.0.1.1"}),
        f"cdn_ns/cdn_nsd.yaml: {L3.format(1)}.gateway-ip: gateway 10.0.1.1 is outside the link's subnet 10.0.2.0/24"),
    "address on a link without a subnet": (
        "cdn_ns", lambda d: df(d)["virtual-link-profile"].pop(1),
        f"cdn_ns/cdn_nsd.yaml: {VP}[1].virtual-link-connectivity[1].constituent-cpd-id[0].ip-address: address "
        f"10.0.2.1 on a virtual link without a subnet (no ip-profile)"),
    "duplicate member-vnf-index": (
        "cdn_ns", lambda d: df(d)["vnf-profile"][2].update({"id": "cache"}),
        f"cdn_ns/cdn_nsd.yaml: {VP}[2].id: duplicate member-vnf-index 'cache'"),
    "duplicate virtual link": (
        "cdn_ns", lambda d: nsd(d)["virtual-link-desc"][1].update({"id": "cache-vl"}),
        "cdn_ns/cdn_nsd.yaml: nsd.nsd[0].virtual-link-desc[1].id: duplicate virtual-link-desc 'cache-vl'"),
    "cpd on two links": (
        "cdn_ns", lambda d: cpd(d, 1, link=1).update({"constituent-cpd-id": "cache-ext", "ip-address": "10.0.2.2"}),
        f"cdn_ns/cdn_nsd.yaml: {VP}[1].virtual-link-connectivity[1].constituent-cpd-id[0].constituent-cpd-id: "
        f"cpd 'cache-ext' of 'router' is already on virtual link 'cache-vl'"),
    "df is not a list": (
        "cdn_ns", lambda d: nsd(d).update({"df": {"id": "default-df"}}),
        "cdn_ns/cdn_nsd.yaml: nsd.nsd[0].df: expected a list, got {'id': 'default-df'}"),
    "illegal nsd id": (
        "cdn_ns", lambda d: nsd(d).update({"id": "cdn ns!"}),
        "cdn_ns/cdn_nsd.yaml: nsd.nsd[0].id: 'cdn ns!' is not a legal identifier (letters, digits, '-', '_', '.')"),
    "ext-cpd on an unknown k8s net": (
        "router_firewall_knf", lambda d: d["vnfd"]["ext-cpd"][1].update({"k8s-cluster-net": "mgmt-net"}),
        "router_firewall_knf/router_firewall_vnfd.yaml: vnfd.ext-cpd[1].k8s-cluster-net: unknown k8s-cluster net "
        "'mgmt-net'"),
    "ext-cpd without k8s-cluster-net": (
        "cdn_cache_knf", lambda d: d["vnfd"]["ext-cpd"][0].pop("k8s-cluster-net"),
        "cdn_cache_knf/cdn_cache_vnfd.yaml: vnfd.ext-cpd[0].k8s-cluster-net: required but missing"),
    "no k8s-cluster": (
        "cdn_cache_knf", lambda d: d["vnfd"].pop("k8s-cluster"),
        "cdn_cache_knf/cdn_cache_vnfd.yaml: vnfd.k8s-cluster: required but missing"),
    "kdu name not DNS-1123": (
        "content_server_knf", lambda d: d["vnfd"]["kdu"][0].update({"name": "Content_Server"}),
        "content_server_knf/content_server_vnfd.yaml: vnfd.kdu[0].name: 'Content_Server' is not a DNS-1123 label "
        "(lower case letters, digits and '-')"),
    "kdu without helm-chart": (
        "content_server_knf", lambda d: d["vnfd"]["kdu"][0].pop("helm-chart"),
        "content_server_knf/content_server_vnfd.yaml: vnfd.kdu[0].helm-chart: required but missing"),
    "chart missing from the package": (
        "content_server_knf", lambda d: d["vnfd"]["kdu"][0].update({"helm-chart": "web-server"}),
        "content_server_knf/content_server_vnfd.yaml: vnfd.kdu[0].helm-chart: chart 'web-server' not found in the "
        "package's helm-chart-v3s/"),
    "helm v2": (
        "router_firewall_knf", lambda d: d["vnfd"]["kdu"][0].update({"helm-version": "v2"}),
        "router_firewall_knf/router_firewall_vnfd.yaml: vnfd.kdu[0].helm-version: 'v2' is not one of 'v3'"),
    "duplicate ext-cpd": (
        "router_firewall_knf", lambda d: d["vnfd"]["ext-cpd"][1].update({"id": "cache-ext"}),
        "router_firewall_knf/router_firewall_vnfd.yaml: vnfd.ext-cpd[1].id: duplicate ext-cpd 'cache-ext'"),
    "unknown mgmt-cp": (
        "router_firewall_knf", lambda d: d["vnfd"].update({"mgmt-cp": "mgmt-ext"}),
        "router_firewall_knf/router_firewall_vnfd.yaml: vnfd.mgmt-cp: unknown ext-cpd 'mgmt-ext'"),
    "service on an unknown cpd": (
        "content_server_knf", lambda d: d["vnfd"]["kdu"][0].update(
            {"service": [{"name": "web", "external-connection-point-ref": "web-ext"}]}),
        "content_server_knf/content_server_vnfd.yaml: vnfd.kdu[0].service[0].external-connection-point-ref: "
        "unknown ext-cpd 'web-ext'"),
    "empty kdu list": (
        "cdn_cache_knf", lambda d: d["vnfd"].update({"kdu": []}),
        "cdn_cache_knf/cdn_cache_vnfd.yaml: vnfd.kdu: must not be empty"),
    # what OSM's NBI v19 refuses and osm-l2sm used to accept
    "unknown key in a KDU": (
        "cdn_cache_knf", lambda d: d["vnfd"]["kdu"][0].update({"colour": "red"}),
        "cdn_cache_knf/cdn_cache_vnfd.yaml: vnfd.kdu[0].colour: unknown key 'colour': not in OSM's information "
        "model (OSM NBI refuses it)"),
    "unknown key in a constituent cpd": (
        "cdn_ns", lambda d: cpd(d, 0).update({"mac-address": "02:00:00:00:00:01"}),
        f"cdn_ns/cdn_nsd.yaml: {VP}[0].{CPD}.mac-address: unknown key 'mac-address': not in OSM's information "
        "model (OSM NBI refuses it)"),
    "vnfd without df": (
        "cdn_cache_knf", lambda d: d["vnfd"].pop("df"),
        "cdn_cache_knf/cdn_cache_vnfd.yaml: vnfd.df: required but missing"),
    "helm-chart OSM refuses": (
        "cdn_cache_knf", lambda d: d["vnfd"]["kdu"][0].update({"helm-chart": "Cdn_Cache"}),
        "cdn_cache_knf/cdn_cache_vnfd.yaml: vnfd.kdu[0].helm-chart: 'Cdn_Cache' is not a Helm chart OSM accepts "
        "(lower-case [repo/]chart, letters, digits and '-', or a URL)"),
    # what osm-l2sm used to miss; OSM's NBI accepts them, so the message says osm-l2sm is stricter
    "kdu with helm-chart and juju-bundle": (
        "cdn_cache_knf", lambda d: d["vnfd"]["kdu"][0].update({"juju-bundle": "cdn-bundle"}),
        "cdn_cache_knf/cdn_cache_vnfd.yaml: vnfd.kdu[0].juju-bundle: a KDU is either a helm-chart or a "
        "juju-bundle, not both"),
    "vnfd without product-name": (
        "cdn_cache_knf", lambda d: d["vnfd"].pop("product-name"),
        "cdn_cache_knf/cdn_cache_vnfd.yaml: vnfd.product-name: required but missing"),
    "two addresses for one cpd": (
        "cdn_ns", lambda d: cpd(d, 0).update({"ip-address": ["10.0.1.10", "10.0.1.11"]}),
        f"cdn_ns/cdn_nsd.yaml: {VP}[0].{CPD}.ip-address: 2 addresses for one connection point"),
    # SOL006 types the df's cidr as a string: NBI takes any text, so refusing a malformed one is stricter
    "cidr not a subnet": (
        "cdn_ns", lambda d: l3(d, 0).update({"cidr": "10.0.1.0/33"}),
        f"cdn_ns/cdn_nsd.yaml: {L3.format(0)}.cidr: '10.0.1.0/33' is not a subnet address like 10.0.1.0/24"),
    "virtual-link-profile without virtual-link-desc-id": (
        "cdn_ns", lambda d: df(d)["virtual-link-profile"][0].pop("virtual-link-desc-id"),
        "cdn_ns/cdn_nsd.yaml: nsd.nsd[0].df[0].virtual-link-profile[0].virtual-link-desc-id: required but missing"),
    # what OSM refuses too, where a stricter rule of ours also applies: the message must not say NBI accepts it
    "helm-version OSM does not know": (
        "router_firewall_knf", lambda d: d["vnfd"]["kdu"][0].update({"helm-version": "v4"}),
        "router_firewall_knf/router_firewall_vnfd.yaml: vnfd.kdu[0].helm-version: 'v4' is not one of 'v3'"),
    "misspelt k8s-cluster-net": (
        "cdn_cache_knf", lambda d: d["vnfd"]["ext-cpd"][0].update(
            {"k8s-cluster-network": d["vnfd"]["ext-cpd"][0].pop("k8s-cluster-net")}),
        "cdn_cache_knf/cdn_cache_vnfd.yaml: vnfd.ext-cpd[0].k8s-cluster-network: unknown key 'k8s-cluster-network': "
        "not in OSM's information model (OSM NBI refuses it)"),
    "boolean OSM does not read": (
        "cdn_ns", lambda d: nsd(d)["virtual-link-desc"][0].update({"mgmt-network": "TRUE"}),
        "cdn_ns/cdn_nsd.yaml: nsd.nsd[0].virtual-link-desc[0].mgmt-network: expected true or false, got 'TRUE'"),
}

# Edits of the CDN packages that OSM's NBI accepts and that mean something: osm-l2sm accepts them too.
GOOD = {
    "ip-address as a leaf-list of one": ("cdn_ns", lambda d: cpd(d, 0).update({"ip-address": ["10.0.1.10"]})),
    "kdu with a helm-chart URL": (
        "cdn_cache_knf",
        lambda d: d["vnfd"]["kdu"][0].update({"helm-chart": "https://charts.example.com/cdn-cache-1.0.0.tgz"})),
    "vnfd with software-version": (
        "cdn_cache_knf", lambda d: d["vnfd"].update({"software-version": "1.0"})),
    "module-prefixed key": ("cdn_cache_knf", lambda d: d["vnfd"].update(
        {"etsi-nfv-vnfd:product-info-name": "cache"})),
    # written forms OSM IM (pyangbind) reads as the value: a quoted boolean, a number for a string, one value for a
    # leaf-list
    "quoted boolean": ("cdn_ns", lambda d: nsd(d)["virtual-link-desc"][0].update({"mgmt-network": "false"})),
    "quoted dhcp-enabled": ("cdn_ns", lambda d: l3(d, 0).update({"dhcp-enabled": "false"})),
    "boolean as 0": ("cdn_ns", lambda d: nsd(d)["virtual-link-desc"][1].update({"mgmt-network": 0})),
    "version as a number": ("cdn_cache_knf", lambda d: d["vnfd"].update({"version": 1.0})),
}
