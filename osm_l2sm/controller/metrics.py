"""Prometheus metrics of the controller, in a registry of its own (several controllers may share a process)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily


class _StateCollector:
    """Gauges read from the state at scrape time, so they can never drift from it."""

    def __init__(self, state):
        self.state = state

    def collect(self):
        # plain reads, no lock: a scrape never waits for a change
        counts = {"l2sm_networks": ("Networks defined", len(self.state.networks)),
                  "l2sm_ports": ("Ports attached", len(self.state.ports)),
                  "l2sm_switches": ("Switches registered", len(self.state.switches)),
                  "l2sm_switches_connected": ("Registered switches connected over OpenFlow",
                                              len(self.state.connected))}
        for name, (doc, value) in counts.items():
            yield GaugeMetricFamily(name, doc, value=value)


class ControllerMetrics:
    def __init__(self, state):
        self.registry = CollectorRegistry()
        self.registry.register(_StateCollector(state))
        self.flow_syncs = Counter("l2sm_flow_syncs", "Flow resyncs of one switch", registry=self.registry)
        self.flow_updates = Counter("l2sm_flow_updates", "Incremental flow batches queued for one switch",
                                    registry=self.registry)
        self.rest_requests = Counter("l2sm_rest_requests", "REST requests answered", ["code"],
                                     registry=self.registry)

    def text(self) -> bytes:
        return generate_latest(self.registry)
