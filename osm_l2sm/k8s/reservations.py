"""Addresses the admission webhook has handed out to pods the API server has not stored yet.

Between the webhook's answer and the stored pod there is a moment when no resource shows the address; a second pod
admitted then would get the same one. The webhook therefore remembers what it gave until a stored pod holds the
address (then the pods themselves say so) or the reservation expires (the create failed or was a dry run elsewhere).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from osm_l2sm.model.addresses import bare

RESERVATION_SECONDS = 120.0  # well past the longest admission timeout Kubernetes allows (30 s)


class Reservations:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str, str], tuple[str, float]] = {}  # (namespace, network, ip) -> (pod, expiry)

    def reserve(self, namespace: str, network: str, addresses: list[str], pod: str) -> None:
        expiry = self._clock() + RESERVATION_SECONDS
        with self._lock:
            for address in addresses:
                self._held[(namespace, network, bare(address))] = (pod, expiry)

    def holders(self, namespace: str, network: str, stored: dict[str, str]) -> dict[str, str]:
        """bare ip -> pod of the live reservations on ``network``; ``stored`` (ip -> pod, what stored pods hold)
        ends the reservations it covers."""
        now = self._clock()
        with self._lock:
            for key, (_pod, expiry) in list(self._held.items()):
                if expiry <= now or (key[:2] == (namespace, network) and key[2] in stored):
                    del self._held[key]
            return {ip: pod for (ns, net, ip), (pod, _e) in self._held.items() if (ns, net) == (namespace, network)}
