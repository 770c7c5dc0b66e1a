"""The shared vocabulary of every box: networks, attachments, routes, plans and where networks are made.

Plain data, plus the one rendering of a KDU's part of a plan as Helm values (:mod:`.helm`), which every box that
installs a chart or tells OSM about one takes from :attr:`KduDeployment.values`; no box reads a plan back from them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable

from .addresses import bare
from .helm import kdu_values


@dataclass(frozen=True)
class Network:
    """One isolated L2 segment.

    ``name`` is a network name (:mod:`osm_l2sm.model.names`). ``cidr`` is informative for the data plane (addresses are the
    pods' business) but drives automatic addressing on Kubernetes. ``clusters`` is empty for a network inside
    one cluster and lists cluster names for an inter-domain network.
    """

    name: str
    cidr: str | None = None
    gateway: str | None = None
    vld: str | None = None  # the NSD virtual-link-desc id it comes from, when planned from descriptors
    clusters: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["clusters"] = list(self.clusters)
        return d


@dataclass(frozen=True)
class Attachment:
    """One interface of one KDU's pods on one network."""

    member_vnf_index: str
    vnfd_id: str
    kdu: str
    cpd: str
    network: str
    interface: str  # net1, net2, ... in the order of the pod annotation
    address: str | None = None  # "IP/PREFIX" or None for L2 only
    cluster: str | None = None
    vld: str | None = None  # the NSD virtual link of its network, when planned from descriptors

    def to_dict(self) -> dict:
        d = asdict(self)
        del d["vld"]  # the plan's networks say it (Network.vld); the plan's JSON names it there only
        return d

    @property
    def ip(self) -> str | None:
        """The bare address ("IP"), None for L2 only."""
        return bare(self.address) if self.address else None


@dataclass(frozen=True)
class Route:
    """A route a KDU's pods get: to another subnet of the NS, through a gateway on one of their interfaces."""

    to: str  # CIDR
    via: str  # gateway address
    interface: str  # net1, net2, ...

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class KduDeployment:
    """What one KDU needs to be installed: its chart, its interfaces and routes, and the user's own Helm values.

    ``values`` is what its chart gets: the plan's part rendered from ``interfaces`` and ``routes``, with ``params``
    (the user's additionalParams) deep-merged over it (user wins).
    """

    member_vnf_index: str
    vnfd_id: str
    kdu: str
    chart: str | None
    params: dict = field(default_factory=dict)
    cluster: str | None = None
    interfaces: list[Attachment] = field(default_factory=list)  # its attachments, in interface order: net1, net2, ..
    routes: list[Route] = field(default_factory=list)

    @property
    def values(self) -> dict:
        return kdu_values(self.interfaces, self.routes, self.params)

    def to_dict(self) -> dict:
        return {"member_vnf_index": self.member_vnf_index, "vnfd_id": self.vnfd_id, "kdu": self.kdu,
                "chart": self.chart, "values": self.values, "cluster": self.cluster}


@dataclass(frozen=True)
class UnwiredLink:
    """A virtual link of the NS that osm-l2sm leaves as OSM and Kubernetes deploy it, and why (for users to see)."""

    vld: str
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Plan:
    """Everything needed to wire one NS instance: networks first, then attachments and per-KDU values."""

    ns_name: str
    nsd_id: str
    networks: list[Network] = field(default_factory=list)
    kdus: list[KduDeployment] = field(default_factory=list)
    not_wired: list[UnwiredLink] = field(default_factory=list)  # virtual links that get no network, with why

    @property
    def attachments(self) -> list[Attachment]:
        """Every KDU's interfaces, KDU after KDU."""
        return [a for kdu in self.kdus for a in kdu.interfaces]

    def to_dict(self) -> dict:
        return {
            "ns_name": self.ns_name,
            "nsd_id": self.nsd_id,
            "networks": [n.to_dict() for n in self.networks],
            "attachments": [a.to_dict() for a in self.attachments],
            "kdus": [k.to_dict() for k in self.kdus],
            "not_wired": [u.to_dict() for u in self.not_wired],
        }


@runtime_checkable
class NetworkTarget(Protocol):
    """Where networks are created: the sandbox, a Kubernetes cluster (CRs or Helm), ...

    Implementations are idempotent: ``ensure_network`` on an existing equal network is a no-op, ``delete_network``
    on a missing one returns False.
    """

    def ensure_network(self, network: Network) -> bool:
        """Create the network if missing; return True when it was created by this call."""

    def delete_network(self, name: str) -> bool:
        """Delete the network; return False when it did not exist."""

    def list_networks(self) -> list[str]:
        """Names of the networks that exist on the target."""
