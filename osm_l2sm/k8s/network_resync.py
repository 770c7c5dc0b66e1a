"""The operator keeps the controller's networks in line with the L2Networks, whoever restarted.

The controller holds no network of its own: the L2Networks own them (docs/kubernetes.md, "What survives what"). A
controller replaced while the operator runs may start empty, and no L2Network event says so. So a thread reads the
controller's instance (GET /healthz) every POLL_S; when it changes, and every FULL_S anyway, every L2Network of the
watched namespaces missing on the controller is made again as the handlers make it, with the id its status
recorded, so the tags the switches still use stay those of the same networks. Networks that recorded an id go
first: a network without one cannot take another's id.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from osm_l2sm.errors import L2smError

from . import cluster

LOG = logging.getLogger(__name__)
POLL_S = 2.0
FULL_S = 60.0


def recorded_id(body: dict) -> int | None:
    """The controller id an L2Network's status recorded (``status.l2sm.networkId``)."""
    value = ((body.get("status") or {}).get("l2sm") or {}).get("networkId")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class NetworkResync:
    """``operator``'s networks made again; ``networks`` and ``pods``: kopf's indexes ``l2sm_networks`` and
    ``l2sm_pods``, which the operator's startup handler is given (live: they follow the cluster)."""

    def __init__(self, operator, networks: Mapping, pods: Mapping, clock=time.monotonic):
        self.operator = operator
        self.networks, self.pods = networks, pods
        self.clock = clock
        self.seen: str | None = None  # the controller instance every L2Network was made on
        self.last_full = 0.0

    def step(self) -> list[str]:
        """One poll; returns the networks it made on the controller."""
        ctl = self.operator.controller()
        try:
            instance = ctl.healthz().get("instance")
            if instance == self.seen and self.clock() - self.last_full < FULL_S:
                return []
            held = {n["name"] for n in ctl.list_networks()}
        except L2smError as err:
            LOG.debug("controller not reachable for the network resync: %s", err)
            return []
        missing = []
        for namespace in list(self.networks):
            for name in sorted(set(self.networks.get(namespace, ())) - held):
                body = cluster.get_network(self.operator.api(), namespace, name)
                if body and not body["metadata"].get("deletionTimestamp"):
                    missing.append((recorded_id(body) or 1 << 16, namespace, name, body))
        made, failed = [], False
        for _, namespace, name, body in sorted(missing, key=lambda item: item[:3]):
            try:
                self.operator.network_ensure(name, namespace, body.get("spec") or {}, l2sm_pods=self.pods,
                                             status=body.get("status"))
                made.append(name)
            except Exception as err:  # reported on the L2Network by network_ensure; tried again at the next poll
                LOG.warning("network %s/%s not made again on the controller: %s", namespace, name, err)
                failed = True
        if made:
            LOG.info("controller instance %s: made again %s", instance, ", ".join(made))
        if not failed:
            self.seen, self.last_full = instance, self.clock()
        return made


def resync_forever(resync: NetworkResync, stop: threading.Event) -> None:
    while not stop.wait(POLL_S):
        try:
            resync.step()
        except Exception:  # keep going: the next controller must get its networks too
            LOG.exception("network resync")
