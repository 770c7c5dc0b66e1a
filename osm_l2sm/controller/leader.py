"""Leader election among controller replicas, through a coordination.k8s.io Lease.

Only the leader runs the controller (OpenFlow, REST, the state file): a standby waits, answering nothing but
``/healthz`` (so its probes pass and a rolling update can go on), until the Lease is free. Then it becomes the
leader and labels its own pod with :data:`LEADER_LABEL`, which the controller's Service selects: switches, node
daemons and the operator reach whichever replica leads through the one Service address, and never a standby.
A label and not a readiness gate: a standby that is not Ready would stall every rolling update and ``helm --wait``.

A leader that cannot renew its Lease in time exits at once (the kubelet restarts it as a standby): after that
another replica may lead, and two must never program the switches. On SIGTERM it gives the Lease up, so a
standby takes over within one retry period instead of waiting for the Lease to expire.

The election itself is the ``kubernetes`` client's ``leaderelection`` module.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from osm_l2sm.errors import L2smError

LOG = logging.getLogger(__name__)
LEADER_LABEL = "l2sm.k8s.local/controller-leader"
POD_NAME_ENV = "POD_NAME"
POD_NAMESPACE_ENV = "POD_NAMESPACE"
LEASE_SECONDS = 6  # a dead leader is replaced within about this plus one retry period


def timings(lease_seconds: int) -> tuple[int, int, int]:
    """(lease duration, renew deadline, retry period) in whole seconds, as the election module wants them: the
    leader gives up when it could not renew for 2/3 of the lease, well before a standby may take it."""
    if lease_seconds < 3:
        raise L2smError(f"--leader-lease-seconds must be at least 3 (got {lease_seconds})")
    retry = max(1, lease_seconds // 6)
    return lease_seconds, max(int(lease_seconds * 2 / 3), int(retry * 1.2) + 1), retry


class _Standby(BaseHTTPRequestHandler):
    """What a standby answers on the REST port: healthy, and 503 for everything else."""

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/healthz":
            self._reply(200, {"status": "ok", "role": "standby", "pid": os.getpid()})
        else:
            self._reply(503, {"error": "standby controller: the leader answers (through the controller Service)"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def log_message(self, *_args):
        pass


class Leadership:
    """This replica's part in the election of ``lease`` in ``namespace``, as pod ``pod``."""

    def __init__(self, lease: str, namespace: str, pod: str, lease_seconds: int = LEASE_SECONDS):
        from kubernetes import client, config

        self.lease, self.namespace, self.pod = lease, namespace, pod
        self.durations = timings(lease_seconds)
        try:
            if os.environ.get("KUBECONFIG"):  # read now: kubernetes.config reads it once, at import
                config.load_kube_config(os.environ["KUBECONFIG"])
            else:  # in a pod: its service account
                config.load_incluster_config()
        except config.ConfigException as err:
            raise L2smError(f"leader election needs the Kubernetes API: {err}") from err
        self.core = client.CoreV1Api()
        self.coordination = client.CoordinationV1Api()
        self.leading = threading.Event()

    @classmethod
    def from_args(cls, args) -> "Leadership | None":
        """None without ``--leader-lease``; else this pod's candidacy (its name and namespace from the
        environment the chart sets through the downward API)."""
        if not getattr(args, "leader_lease", None):
            return None
        pod, namespace = os.environ.get(POD_NAME_ENV), os.environ.get(POD_NAMESPACE_ENV)
        if not pod or not namespace:
            raise L2smError(f"--leader-lease needs ${POD_NAME_ENV} and ${POD_NAMESPACE_ENV} (this pod's name and "
                            "namespace)")
        return cls(args.leader_lease, namespace, pod, args.leader_lease_seconds)

    def _label(self, value: str | None) -> None:
        self.core.patch_namespaced_pod(self.pod, self.namespace, {"metadata": {"labels": {LEADER_LABEL: value}}})

    def wait(self, rest_listen: tuple[str, int]) -> None:
        """Block until this replica leads, answering ``/healthz`` on ``rest_listen`` meanwhile."""
        from kubernetes.leaderelection import electionconfig, leaderelection
        from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

        self._label(None)  # a replica restarted after losing the lead must not stay behind the Service
        ThreadingHTTPServer.address_family = socket.AF_INET6 if ":" in rest_listen[0] else socket.AF_INET
        ThreadingHTTPServer.allow_reuse_address = True
        standby = ThreadingHTTPServer(rest_listen, _Standby)
        threading.Thread(target=standby.serve_forever, name="standby-rest", daemon=True).start()
        duration, deadline, retry = self.durations
        logging.getLogger("leaderelection").setLevel(logging.WARNING)  # it logs every retry; we log the changes
        LOG.info("standby: waiting for lease %s/%s as %s", self.namespace, self.lease, self.pod)
        election = leaderelection.LeaderElection(electionconfig.Config(
            LeaseLock(self.lease, self.namespace, self.pod), lease_duration=duration, renew_deadline=deadline,
            retry_period=retry, onstarted_leading=self.leading.set, onstopped_leading=self._lost))
        threading.Thread(target=election.run, name="leader-election", daemon=True).start()
        self.leading.wait()
        standby.shutdown()
        standby.server_close()
        LOG.info("leading: lease %s/%s held by %s", self.namespace, self.lease, self.pod)

    def announce(self) -> None:
        """Put this pod behind the controller's Service (call once the controller listens)."""
        self._label("true")

    def _lost(self) -> None:
        LOG.error("lost lease %s/%s: exiting so that one leader alone programs the switches", self.namespace,
                  self.lease)
        os._exit(1)

    def release(self) -> None:
        """Give the lease up at a clean stop, so a standby takes over at its next retry. Best effort."""
        if not self.leading.is_set():
            return
        try:
            self._label(None)
            lease = self.coordination.read_namespaced_lease(self.lease, self.namespace)
            if lease.spec and lease.spec.holder_identity == self.pod:
                lease.spec.holder_identity = None
                self.coordination.replace_namespaced_lease(self.lease, self.namespace, lease)
                LOG.info("released lease %s/%s", self.namespace, self.lease)
        except Exception as err:  # the lease then expires on its own
            LOG.warning("could not release lease %s/%s: %s", self.namespace, self.lease, err)
