"""Controller processes: ``--role`` (a provider is the registry of inter-domain tags; no switch connects to it), and
how every box stops a process (SIGTERM, a grace period, SIGKILL)."""
from __future__ import annotations

import signal
import socket
import subprocess


from osm_l2sm.processes import stop_process
from tests.controllers import controller_process, running_controller
from tests.polling import wait_for
from tests.ports import free_port


def _listens(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError:
        return False
    return True


def test_a_provider_serves_rest_without_an_openflow_port(tmp_path):
    of_port = free_port()
    with socket.socket() as taken:  # another program holds the OpenFlow port: a provider does not need it
        taken.bind(("127.0.0.1", of_port))
        taken.listen()
        proc = controller_process(tmp_path, "provider", of_listen=f"127.0.0.1:{of_port}", role="provider")
        try:
            proc.start()
            assert proc.client().create_network("span", cidr="10.40.0.0/24")["id"] == 1  # the tag it hands out
        finally:
            proc.stop()
    assert proc.proc.returncode == 0  # SIGTERM stops it cleanly, as a cluster controller


def test_a_cluster_controller_listens_for_its_switches(tmp_path):
    with running_controller(tmp_path) as proc:
        wait_for(lambda: _listens(proc.of_listen), "the OpenFlow port open")


def test_a_process_that_ignores_sigterm_is_killed_and_one_that_obeys_is_not():
    stubborn = subprocess.Popen(["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"],
                                stdout=subprocess.PIPE, start_new_session=True)
    obedient = subprocess.Popen(["sleep", "600"])
    try:
        assert stubborn.stdout.readline() == b"ready\n"  # the trap is set
        assert stop_process(stubborn.pid, lambda: stubborn.poll() is None, grace=0.5)
        assert stop_process(obedient.pid, lambda: obedient.poll() is None)
        assert (stubborn.returncode, obedient.returncode) == (-signal.SIGKILL, -signal.SIGTERM)
    finally:
        for proc in (stubborn, obedient):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
