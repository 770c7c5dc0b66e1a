"""The node's part in rebuilding the controller: whenever the daemon sees a controller it has not yet told (at its
start, after the controller was unreachable, or a new instance: a replaced controller may have started empty), it
registers the switch again, announces the ports of its attachments, then lets the controller sweep the switch's
flows that nobody announced (docs/controller-api.md, "Rebuilding").

A port whose network the controller does not have yet (its owner, the operator or the sandbox, re-creates it in a
moment) is announced again every poll; the sweep waits for it up to ANNOUNCE_GRACE, so the flows of live pods stay.
"""
from __future__ import annotations

import logging
import threading
import time

from osm_l2sm.errors import L2smError
from osm_l2sm.switch import register_again

from .handler import Handler

LOG = logging.getLogger(__name__)
POLL_S = 1.0          # how often the controller's instance is read (GET /healthz, no state involved)
ANNOUNCE_GRACE = 30.0  # seconds the sweep waits for ports whose network is not there yet


class Rejoin:
    """One node's announcements to its controller; :meth:`step` does one poll (the loop calls it every POLL_S)."""

    def __init__(self, handler: Handler, clock=time.monotonic):
        self.handler = handler
        self.clock = clock
        self.told: str | None = None  # the controller instance the switch and ports were announced to
        self.pending: list[str] | None = None  # ports still to announce to it (None: all, at the next step)
        self.since = 0.0
        self.swept = False

    def step(self) -> None:
        client, node = self.handler.client, self.handler.node
        try:
            instance = client.healthz().get("instance")
        except L2smError:
            self.told = None  # unreachable: tell it everything again once it answers
            return
        if instance != self.told:
            try:
                register_again(node.ovs_rundir, node.controller, node.token)
            except L2smError as err:
                LOG.warning("switch %s not registered again with the controller: %s", node.switch, err)
                if err.status >= 500:  # not answered: try again at the next poll
                    return
            LOG.info("controller instance %s: switch %s registered; announcing its ports", instance, node.switch)
            self.told, self.pending, self.since, self.swept = instance, None, self.clock(), False
        if self.pending is None or self.pending:
            self.pending = self.handler.announce(self.pending)
        if not self.swept and (not self.pending or self.clock() - self.since > ANNOUNCE_GRACE):
            if self.pending:
                LOG.warning("ports %s of switch %s wait for their networks; the switch is swept without them",
                            ", ".join(self.pending), node.switch)
            try:
                client.sweep_switch(node.switch)
                self.swept = True
                LOG.info("switch %s: ports announced in %.1f s", node.switch, self.clock() - self.since)
            except L2smError as err:
                LOG.warning("switch %s not swept yet: %s", node.switch, err)


def rejoin_loop(handler: Handler, stop: threading.Event) -> None:
    rejoin = Rejoin(handler)
    while True:
        try:
            rejoin.step()
        except Exception:  # keep watching: the next controller must be told too
            LOG.exception("announcing switch %s to the controller", handler.node.switch)
        if stop.wait(POLL_S):
            return
