"""The repo's CDN packages and editable copies of them, for the descriptor tests."""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from osm_l2sm.descriptors import load_package

REPO = Path(__file__).resolve().parents[2]
DESCRIPTORS = REPO / "descriptors"
PACKAGES = ("cdn_ns", "content_server_knf", "router_firewall_knf", "cdn_cache_knf")
DESCRIPTOR_FILES = {"cdn_ns": "cdn_nsd.yaml", "content_server_knf": "content_server_vnfd.yaml",
                    "router_firewall_knf": "router_firewall_vnfd.yaml", "cdn_cache_knf": "cdn_cache_vnfd.yaml"}


class PackageCopy:
    """A copy of the CDN packages (charts dereferenced) whose descriptors a test edits."""

    def __init__(self, root: Path):
        self.root = root
        for name in PACKAGES:
            shutil.copytree(DESCRIPTORS / name, root / name, symlinks=False)

    def path(self, package: str) -> Path:
        return self.root / package / DESCRIPTOR_FILES[package]

    def edit(self, package: str, change) -> None:
        """Load the package's descriptor, let ``change(doc)`` modify it in place, write it back."""
        doc = yaml.safe_load(self.path(package).read_text())
        change(doc)
        self.path(package).write_text(yaml.safe_dump(doc, sort_keys=False))

    def load(self):
        return [load_package(self.root / name) for name in PACKAGES]


# A VM VNF (VDUs, no KDUs): OSM's RO deploys it on a VIM
VM_VNFD = {"vnfd": {
    "id": "vm_vnf", "product-name": "vm_vnf", "df": [{"id": "default-df"}], "mgmt-cp": "eth0-ext",
    "ext-cpd": [{"id": "eth0-ext", "int-cpd": {"vdu-id": "vm", "cpd": "eth0"}},
                {"id": "eth1-ext", "int-cpd": {"vdu-id": "vm", "cpd": "eth1"}}],
    "vdu": [{"id": "vm", "name": "vm", "int-cpd": [{"id": "eth0"}, {"id": "eth1"}], "sw-image-desc": "ubuntu",
             "virtual-compute-desc": "vm-compute", "virtual-storage-desc": ["vm-storage"]}],
    "sw-image-desc": [{"id": "ubuntu", "name": "ubuntu", "image": "ubuntu"}],
    "virtual-compute-desc": [{"id": "vm-compute", "virtual-memory": {"size": 1.0},
                              "virtual-cpu": {"num-virtual-cpu": 1}}],
    "virtual-storage-desc": [{"id": "vm-storage", "size-of-storage": 10}],
}}


def mixed_ns(pkg_copy):
    """The CDN plus a VM VNF on the content VL and on a VL of its own."""
    (pkg_copy.root / "vm_vnf").mkdir()
    (pkg_copy.root / "vm_vnf" / "vm_vnfd.yaml").write_text(yaml.safe_dump(VM_VNFD))

    def ns(d):
        nsd = d["nsd"]["nsd"][0]
        nsd["vnfd-id"].append("vm_vnf")
        nsd["virtual-link-desc"].append({"id": "vm-vl"})
        nsd["df"][0]["vnf-profile"].append({"id": "vm", "vnfd-id": "vm_vnf", "virtual-link-connectivity": [
            {"virtual-link-profile-id": "content-vl",
             "constituent-cpd-id": [{"constituent-base-element-id": "vm", "constituent-cpd-id": "eth0-ext"}]},
            {"virtual-link-profile-id": "vm-vl",
             "constituent-cpd-id": [{"constituent-base-element-id": "vm", "constituent-cpd-id": "eth1-ext"}]}]})
    pkg_copy.edit("cdn_ns", ns)
    return pkg_copy.load() + [load_package(pkg_copy.root / "vm_vnf")]
