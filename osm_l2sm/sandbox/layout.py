"""Names and places of one sandbox, all derived from its name so that several sandboxes can run side by side."""
from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass

from osm_l2sm.constants import BRIDGE, POD_MTU, UNDERLAY_MTU  # noqa: F401 (re-exported to the sandbox's modules)
from osm_l2sm.protocol import OPENFLOW_PORT as OF_PORT, REST_PORT  # noqa: F401 (a single cluster's controller)

DEFAULT_NAME = "l2sm"
UNDERLAY_IF = "ul0"
UNDERLAY_POOL = ipaddress.ip_network("10.231.0.0/16")  # one /24 of it per sandbox

_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,5}$")
_ITEM_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")


def check_item_name(kind: str, name: str) -> str:
    """Node and pod names become parts of namespace names: keep them short and plain."""
    from osm_l2sm.errors import L2smError

    if not _ITEM_RE.match(name or ""):
        raise L2smError(f"{kind} name {name!r} must be lowercase letters, digits and '-', at most 32 characters")
    return name


@dataclass(frozen=True)
class Layout:
    name: str
    state_dir: str

    @classmethod
    def for_name(cls, name: str | None = None, state_dir: str | None = None) -> "Layout":
        from osm_l2sm.errors import L2smError

        name = name or os.environ.get("OSM_L2SM_SANDBOX") or DEFAULT_NAME
        if not _NAME_RE.match(name):
            raise L2smError(f"sandbox name {name!r} must be 1-6 lowercase letters or digits, starting with a letter")
        state_dir = state_dir or os.environ.get("OSM_L2SM_STATE_DIR") or f"/var/lib/osm-l2sm/{name}"
        return cls(name=name, state_dir=os.path.abspath(state_dir))

    # files
    @property
    def state_file(self) -> str:
        return os.path.join(self.state_dir, "sandbox.json")

    @property
    def controller_state(self) -> str:
        return os.path.join(self.state_dir, "controller.json")

    @property
    def token_file(self) -> str:
        """The bearer token of the sandbox's controllers (0600): every sandbox command reads it."""
        return os.path.join(self.state_dir, "controller.token")

    @property
    def controller_log(self) -> str:
        return os.path.join(self.state_dir, "controller.log")

    @property
    def pki_dir(self) -> str:
        """The sandbox's CA and the OpenFlow certificates of its controllers and nodes (0700, keys 0600)."""
        return os.path.join(self.state_dir, "pki")

    def tls_files(self, owner: str) -> tuple[str, str, str]:
        """(key, certificate, CA certificate) of ``owner``: ``controller`` or a node name."""
        return (os.path.join(self.pki_dir, f"{owner}.key"), os.path.join(self.pki_dir, f"{owner}.pem"),
                os.path.join(self.pki_dir, "ca.pem"))

    def node_dir(self, node: str) -> str:
        return os.path.join(self.state_dir, "nodes", node)

    def cni_socket(self, node: str) -> str:
        """Where the node's CNI daemon listens (/run/l2sm/cni.sock on a Kubernetes node)."""
        return os.path.join(self.node_dir(node), "cni.sock")

    def pod_log(self, pod: str) -> str:
        return os.path.join(self.state_dir, "pods", f"{pod}.log")

    def pod_files(self, pod: str) -> str:
        """A KNF pod's private folder (its ``POD_DIR``); under ``pods/``, so ``down`` removes it with the logs."""
        return os.path.join(self.state_dir, "pods", pod)

    def picture(self, name: str) -> str:
        """Where a drawing of this sandbox goes (``pictures/<name>``): ``down`` removes it with the rest."""
        return os.path.join(self.state_dir, "pictures", name)

    # names in the kernel
    @property
    def prefix(self) -> str:
        return f"{self.name}-"

    def node_netns(self, node: str) -> str:
        return f"{self.name}-{node}"

    def pod_netns(self, pod: str) -> str:
        return f"{self.name}-pod-{pod}"

    @property
    def underlay_bridge(self) -> str:
        return f"{self.name}-ul"

    def underlay_host_if(self, index: int) -> str:
        return f"{self.name}-u{index}"  # root-netns end of node N's underlay link

    def container_id(self, pod: str) -> str:
        return f"{self.name}-{pod}"


def node_name(index: int) -> str:
    return f"node{index}"


def underlay_addresses(subnet: str, index: int) -> tuple[str, str]:
    """(gateway, node address) in the sandbox's underlay /24; node N is .(10+N)."""
    net = ipaddress.ip_network(subnet)
    return str(net.network_address + 1), str(net.network_address + 10 + index)

