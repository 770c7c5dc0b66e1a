"""A pod's program that never enters the pod's namespace: the start gives up with one clear error and stops it
(it waited for ever before)."""
from __future__ import annotations

import pytest

from osm_l2sm.errors import L2smError
from osm_l2sm.processes import pid_alive
from osm_l2sm.sandbox import netns, pod
from osm_l2sm.sandbox.layout import Layout
from osm_l2sm.sandbox.state import PodRecord


def test_a_program_that_never_enters_the_pod_namespace_is_stopped_with_a_clear_error(tmp_path, monkeypatch):
    pid_file = tmp_path / "pid"

    def outside(_name, command):  # `ip netns exec` stuck before entering: the program runs, never in the pod
        return ["sh", "-c", f"echo $$ > {pid_file}; exec {' '.join(command)}"]

    monkeypatch.setattr(netns, "argv", outside)
    monkeypatch.setattr(pod, "ENTER_TIMEOUT", 1.0)
    record = PodRecord(node="node1")
    p = pod.Pod(Layout.for_name("tstpod", state_dir=str(tmp_path)), "web", record)
    with pytest.raises(L2smError, match=r"pod web: sleep did not enter the namespace tstpod-pod-web within 1 s"):
        p.start(["sleep", "600"])
    assert record.pid is None and record.command is None
    assert not pid_alive(int(pid_file.read_text()))
