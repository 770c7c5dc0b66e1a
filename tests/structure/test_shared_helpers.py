"""The shared leaf helpers every box waits and writes with: processes.wait_until, files.write_json_atomic."""
from __future__ import annotations

import json
import os
import stat

import pytest

from osm_l2sm.files import write_json_atomic
from osm_l2sm.processes import wait_until


def test_wait_until_returns_the_first_true_answer():
    answers = iter([None, 0, "ready", "later"])
    assert wait_until(lambda: next(answers), timeout=60, interval=0) == "ready"


def test_wait_until_gives_up_with_the_last_false_answer_and_asks_once_more_at_the_deadline():
    calls = []
    assert wait_until(lambda: calls.append(1) or [], timeout=0.3, interval=10) == []
    assert len(calls) == 2  # at the start, then at the deadline (the interval is cut short)


def test_wait_until_ends_on_the_probes_exception():
    def probe():
        raise RuntimeError("daemon exited")

    with pytest.raises(RuntimeError, match="daemon exited"):
        wait_until(probe, timeout=60)


def test_write_json_atomic_replaces_the_file_with_the_asked_permissions(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("old")
    write_json_atomic(str(path), {"a": [1, 2]}, mode=0o600, indent=2)
    assert json.loads(path.read_text()) == {"a": [1, 2]} and "\n  " in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["state.json"]


def test_write_json_atomic_that_fails_keeps_the_old_file_and_leaves_nothing(tmp_path):
    path = tmp_path / "record.json"
    path.write_text('{"kept": true}')
    with pytest.raises(TypeError):
        write_json_atomic(str(path), {"a": object()})  # not JSON: fails half-way through the dump
    assert json.loads(path.read_text()) == {"kept": True}
    assert os.listdir(tmp_path) == ["record.json"]
