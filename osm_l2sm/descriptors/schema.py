"""Our schema of the SOL006/OSM fields this project reads (osm.md §2), as JSON Schema, plus OSM's own key list.

Fields we do not read are not described here, but a key OSM's information model does not know is refused, as OSM's
NBI does (:mod:`.imkeys`). Cross-references and address checks live in :mod:`.validate`.
"""
from __future__ import annotations

import jsonschema

from .errors import DescriptorError, stricter
from .imkeys import unknown_keys

# SOL006 identifiers: letters, digits, '-', '_', '.'; must start with a letter or digit.
ID = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "maxLength": 255}
# KDU names become Helm release and pod names: a DNS-1123 label.
DNS_LABEL = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
TEXT = {"type": "string"}
# NBI's valid_helm_chart_re (descriptor_topics.py): "[repo/]chart" in lower case; a URL is accepted too
HELM_CHART = {"type": "string", "minLength": 1,
              "anyOf": [{"pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9]/)?([a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"},
                        {"pattern": r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]+"}]}
# OSM's IM makes ip-address a leaf-list: one address or a list of them
IP_ADDRESS = {"anyOf": [TEXT, {"type": "array", "items": TEXT}]}


def _obj(required: list[str], **props) -> dict:
    return {"type": "object", "required": required, "properties": props}


def _list(item: dict, min_items: int = 0, leaf_list: bool = False) -> dict:
    """A YANG list (of mappings) or, with ``leaf_list``, a leaf-list: one value is read as a list of one (lexical)."""
    return {"type": "array", "items": item, "minItems": min_items, **({"leafList": True} if leaf_list else {})}


L3_PROTOCOL_DATA = _obj([], **{"ip-version": {"enum": ["ipv4"]}, "cidr": TEXT, "gateway-ip": TEXT,
                                "dhcp-enabled": {"type": "boolean"}})
IP_PROFILE = _obj([], **{"ip-version": {"enum": ["ipv4"]}, "subnet-address": TEXT, "gateway-address": TEXT})

# A VNFD with KDUs is a KNF, the only kind osm-l2sm wires; a VNFD of VDUs (a VM VNF, RO's) is read for its ids and
# connection points only.
KNF_SHAPE = {"if": {"required": ["kdu"]},
             "then": {"required": ["k8s-cluster", "ext-cpd"], "properties": {
                 "ext-cpd": {"minItems": 1, "items": {"required": ["k8s-cluster-net"]}}}}}

VNFD = _obj(["vnfd"], vnfd=dict(_obj(
    ["id", "product-name", "df"],
    id=ID, **{
        "product-name": TEXT, "provider": TEXT, "version": {"type": ["string", "number"]}, "description": TEXT,
        "mgmt-cp": ID,
        "df": _list(_obj(["id"], id=ID)),
        "k8s-cluster": _obj(["nets"], version=_list({"type": ["string", "number"]}, leaf_list=True),
                            cni=_list({"enum": ["calico", "flannel", "multus"]}, leaf_list=True),
                            nets=_list(_obj(["id"], id=ID), 1)),
        "ext-cpd": _list(_obj(["id"], id=ID, **{"k8s-cluster-net": ID})),
        "kdu": _list(_obj(["name", "helm-chart"], name=DNS_LABEL, **{
            "helm-chart": HELM_CHART,
            "helm-version": {"enum": ["v3"]},
            "service": _list(_obj(["name"], name=TEXT, **{"external-connection-point-ref": ID})),
        }), 1),
    }), **KNF_SHAPE))

CONSTITUENT_CPD = _obj(["constituent-base-element-id", "constituent-cpd-id"], **{
    "constituent-base-element-id": ID, "constituent-cpd-id": ID, "ip-address": IP_ADDRESS})

NSD = _obj(["nsd"], nsd=_obj(["nsd"], nsd=_list(_obj(
    ["id", "vnfd-id", "virtual-link-desc", "df"],
    id=ID, name=TEXT, designer=TEXT, version={"type": ["string", "number"]}, description=TEXT, **{
        "vnfd-id": _list(ID, 1, leaf_list=True),
        "virtual-link-desc": _list(_obj(["id"], id=ID, **{
            "mgmt-network": {"type": "boolean"}, "vim-network-name": TEXT, "description": TEXT,
            "ip-profile": IP_PROFILE}), 1),
        "df": _list(_obj(["id", "vnf-profile"], id=ID, **{
            "virtual-link-profile": _list(_obj(["id", "virtual-link-desc-id"], id=ID, **{
                "virtual-link-desc-id": ID,
                "virtual-link-protocol-data": _obj([], **{"l3-protocol-data": L3_PROTOCOL_DATA})})),
            "vnf-profile": _list(_obj(["id", "vnfd-id"], id=ID, **{
                "vnfd-id": ID,
                "virtual-link-connectivity": _list(_obj(["virtual-link-profile-id", "constituent-cpd-id"], **{
                    "virtual-link-profile-id": ID,
                    "constituent-cpd-id": _list(CONSTITUENT_CPD, 1)})),
            }), 1),
        }), 1),
    }), 1, )))

SCHEMAS = {"vnfd": VNFD, "nsd": NSD}
_VALIDATORS = {kind: jsonschema.Draft7Validator(schema) for kind, schema in SCHEMAS.items()}
_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "a string", "boolean": "true or false",
               "number": "a number"}


# Rules of this schema that OSM's NBI v19 does not apply, by (rule, field), and why (the message says so).
KNF = "osm-l2sm wires KNFs: Helm v3 KDUs whose ext-cpds name a k8s-cluster net"
STRICTER_RULES = {
    ("required", "product-name"): "SOL006 makes a VNFD's product-name mandatory",
    **{("required", name): KNF for name in ("k8s-cluster", "nets", "ext-cpd", "k8s-cluster-net", "kdu",
                                            "helm-chart")},
    **{("minItems", name): KNF for name in ("nets", "ext-cpd", "kdu")},
    ("required", "virtual-link-desc-id"): "osm-l2sm finds a profile's virtual link by its virtual-link-desc-id",
    ("enum", "helm-version"): KNF,
    ("enum", "ip-version"): "osm-l2sm plans IPv4 links",
    ("pattern", "id"): "osm-l2sm names networks and Kubernetes objects after ids",
    ("pattern", "name"): "a KDU's name becomes its Helm release and pod names",
}
# What OSM's IM allows where our enum allows less: a value outside these OSM refuses too (no "stricter" note)
# (by parent and field: SOL006's l3-protocol-data and OSM's ip-profile type ip-version differently)
OSM_ENUMS = {("kdu", "helm-version"): ("v2", "v3"), ("l3-protocol-data", "ip-version"): ("ipv4", "ipv6"),
             ("ip-profile", "ip-version"): ("unknown", "ipv4", "ipv6")}
# Stricter rules about what the planner does not read: the NS is planned all the same (see DescriptorError)
PLANNABLE_RULES = {("required", "product-name"), ("required", "k8s-cluster"), ("required", "nets"),
                   ("minItems", "nets"), ("required", "k8s-cluster-net")}


def _problem(err: jsonschema.ValidationError) -> tuple[list, str, bool]:
    """Turn a jsonschema error into (path, readable problem, plannable), saying so where we are stricter than
    OSM."""
    path, problem = _plain_problem(err)
    parent, field = ([""] + [p for p in path if isinstance(p, str)])[-2:]
    why = STRICTER_RULES.get((err.validator, field))
    if err.validator == "enum" and err.instance not in OSM_ENUMS.get((parent, field), (err.instance,)):
        why = None
    return path, stricter(problem, why) if why else problem, (err.validator, field) in PLANNABLE_RULES


def _plain_problem(err: jsonschema.ValidationError) -> tuple[list, str]:
    path = list(err.absolute_path)
    if err.validator == "required":
        missing = next((name for name in err.validator_value if name not in err.instance), "?")
        return path + [missing], "required but missing"
    if err.validator == "anyOf" and err.schema is HELM_CHART:
        return path, (f"{err.instance!r} is not a Helm chart OSM accepts (lower-case [repo/]chart, letters, digits "
                      "and '-', or a URL)")
    if err.validator == "anyOf" and err.schema is IP_ADDRESS:
        return path, f"expected an address or a list of addresses, got {err.instance!r}"
    if err.validator == "type":
        wanted = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        names = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
        return path, f"expected {names}, got {err.instance!r}"
    if err.validator == "pattern":
        if err.schema is DNS_LABEL:
            return path, f"{err.instance!r} is not a DNS-1123 label (lower case letters, digits and '-')"
        return path, f"{err.instance!r} is not a legal identifier (letters, digits, '-', '_', '.')"
    if err.validator == "maxLength":
        return path, f"{err.instance!r} is longer than {err.validator_value} characters"
    if err.validator == "minItems":
        return path, "must not be empty"
    if err.validator == "enum":
        allowed = ", ".join(repr(v) for v in err.validator_value)
        return path, f"{err.instance!r} is not one of {allowed}"
    return path, err.message


def schema_errors(kind: str, descriptor: dict, source: str) -> list[DescriptorError]:
    """All schema problems, in document order."""
    errors = sorted(_VALIDATORS[kind].iter_errors(descriptor), key=lambda e: [str(p) for p in e.absolute_path])
    return unknown_keys(kind, descriptor, source) + [DescriptorError(source, path, problem, plannable=plannable)
                                                     for path, problem, plannable in map(_problem, errors)]
