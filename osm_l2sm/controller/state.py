"""The controller's state: networks (with their tag ids), ports and registered switches, as typed records.

Every change is one line appended to the state journal (:mod:`.store`) before it is acknowledged. Runtime facts
learned from the switches (:class:`~.sessions.Runtime`: one session per connection, the port numbers reported) are
kept in one place beside the records and are not persisted: they are re-learned when each switch (re)connects.

:class:`State` is the records with their journal (this module) plus one part per job: networks and their ids
(:mod:`.networks`), ports, their addresses and port numbers (:mod:`.attachments`), switch registration
(:mod:`.registrations`) and the views the REST API answers with (:mod:`.views`).

Writers hold ``lock``; readers (the REST GETs) do not: records are immutable and replaced whole, and readers copy
the dicts they walk (a copy of a dict is atomic in CPython), so a read sees each record before or after a change.
"""
from __future__ import annotations

import threading

from osm_l2sm.errors import L2smError

from .attachments import Attachments
from .networks import Networks
from .records import Network, Port, Switch
from .registrations import Registrations
from .sessions import Runtime
from .store import Journal
from .views import Views


class State(Networks, Attachments, Registrations, Views):
    """Networks, ports and switches; every mutation holds ``lock`` and is journaled before it returns."""

    def __init__(self, path: str | None = None):
        self.path = path
        self.lock = threading.RLock()
        self.networks: dict[str, Network] = {}
        self.ports: dict[str, Port] = {}                        # "switch/interface" -> port
        self.switches: dict[str, Switch] = {}
        self.ports_by_network: dict[str, dict[str, Port]] = {}  # index: network -> {port id: port}
        self.addresses: dict[str, dict[str, str]] = {}          # index: network -> {bare address: port id}
        self.runtime = Runtime()
        Views.__init__(self)
        self.journal = Journal(path)
        data = self.journal.load()
        try:
            for name, value in data["networks"].items():
                self._put_network(Network.from_json(name, value))
            for value in data["ports"].values():
                self._put_port(Port.from_json(value))
            for name, value in data["switches"].items():
                self.switches[name] = Switch.from_json(name, value)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise L2smError(f"cannot read controller state {path}: bad record ({err!r})") from err
        self.runtime.settled = set(self.switches)  # their ports were journaled with them

    # runtime facts, under the names the flow computation and the tests use
    @property
    def connected(self):
        return self.runtime.connected

    @property
    def ofports(self) -> dict:
        return self.runtime.ofports

    @ofports.setter
    def ofports(self, value: dict) -> None:
        self.runtime.ofports = value

    # -- persistence --------------------------------------------------------------------------------------------
    def _journal(self, put=(), delete=()) -> None:
        self.journal.append(put, delete)
        if self.journal.wants_compaction(len(self.networks) + len(self.ports) + len(self.switches)):
            self.journal.compact(self.snapshot())

    def snapshot(self) -> dict:
        """The records as stored JSON, by kind."""
        return {"networks": {n: v.to_json() for n, v in self.networks.items()},
                "ports": {p: v.to_json() for p, v in self.ports.items()},
                "switches": {n: v.to_json() for n, v in self.switches.items()}}

    def close(self) -> None:
        self.journal.close()
