"""The state journal: one small write per change, kill -9 at any point loses at most the change in flight, the
earlier whole-JSON format is migrated, a torn last line is dropped and real corruption is one clear error."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys

import pytest

from osm_l2sm.controller.state import State
from osm_l2sm.errors import L2smError

# The writer: applies the same deterministic sequence of changes as ``ops`` below, printing the index of each one
# once the state acknowledged it (returned). The parent kills it with SIGKILL at a random moment.
WRITER = r"""
import sys
from osm_l2sm.controller.state import State
from tests.controller.test_store import apply
state = State(sys.argv[1])
i = int(sys.argv[2])
while True:
    apply(state, i)
    print(i, flush=True)
    i += 1
"""


def apply(state: State, i: int) -> None:
    """Change number ``i`` (one mutation) of an endless sequence: networks come and go, ports are attached and
    detached, so the journal grows faster than the records and gets compacted on the way."""
    if i % 3 == 0:
        state.create_network(f"n{i}", cidr="10.0.0.0/24")
    elif i % 3 == 1:
        state.attach_port(f"n{i - 1}", f"s{i % 4}", f"p{i - 1}", "02:00:00:00:00:01")
    elif i % 6 == 2 and i >= 8:
        state.delete_network(f"n{i - 8}")  # with its port
    elif i % 6 == 5:
        state.detach_port(f"s{(i - 4) % 4}", f"p{i - 5}")
    else:
        state.create_network(f"x{i}")


def records(state: State) -> dict:
    return state.snapshot()


def expected_after(count: int) -> dict:
    state = State()
    for i in range(count):
        apply(state, i)
    return records(state)


def test_kill_9_at_any_moment_keeps_every_acknowledged_change_and_never_corrupts(tmp_path, monkeypatch):
    path = str(tmp_path / "state.json")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root)
    rng = random.Random(13)
    done = 0
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, path, str(done)], stdout=subprocess.PIPE, text=True,
                                env=env, start_new_session=True)
        try:
            acked = done
            for _ in range(rng.randrange(50, 400)):
                line = proc.stdout.readline()
                if not line:
                    break
                acked = int(line) + 1
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        for line in proc.stdout:  # acknowledged before the kill, still in the pipe
            acked = int(line) + 1
        proc.stdout.close()
        assert acked > done, "the writer made no change"
        reopened = records(State(path))
        # every acknowledged change is there; the one in flight may be there or not, wholly
        candidates = [expected_after(acked), expected_after(acked + 1)]
        assert reopened in candidates, f"state after {acked} changes differs"
        done = acked + candidates.index(reopened)
    assert done > 1000, "the journal was never compacted on the way"  # compaction starts past 1000 lines


def test_one_change_is_one_small_appended_line(tmp_path):
    path = tmp_path / "state.json"
    state = State(str(path))
    for i in range(300):
        state.create_network(f"n{i}")
        state.attach_port(f"n{i}", "s1", f"p{i}", "02:00:00:00:00:01")
    before = path.stat().st_size
    state.attach_port("n7", "s2", "x", "02:00:00:00:00:02")
    grown = path.stat().st_size - before
    assert 0 < grown < 200, grown
    assert path.read_text().endswith("\n")


def test_the_earlier_whole_json_state_is_migrated_with_its_ids(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({
        "networks": {"blue": {"id": 7, "cidr": "10.1.0.0/24", "description": "b"},
                     "span": {"id": 3, "cidr": None, "description": None, "interdomain": {"tag": 77}}},
        "ports": {"n1/v1": {"network": "blue", "switch": "n1", "interface": "v1", "mac": "02:00:00:00:00:01"}},
        "switches": {"n1": {"dpid": "00000000000000a1", "tunnels": {"n2": "vx-n2"}}}}, indent=1))
    state = State(str(path))
    assert state.get_network("blue")["id"] == 7 and state.get_network("span")["interdomain"] == {"tag": 77}
    assert [p["id"] for p in state.list_ports()] == ["n1/v1"]
    assert state.list_switches()[0]["tunnels"] == {"n2": "vx-n2"}
    assert state.create_network("red")[0]["id"] == 1
    again = State(str(path))
    assert {n["name"]: n["id"] for n in again.list_networks()} == {"blue": 7, "span": 3, "red": 1}


def test_a_torn_last_line_is_dropped_and_corruption_before_it_is_an_error(tmp_path):
    path = tmp_path / "state.json"
    state = State(str(path))
    state.create_network("blue")
    state.create_network("red")
    state.close()
    with open(path, "a") as f:
        f.write('{"put":[["networks","green",{"id":3')  # a write cut short by a crash
    assert [n["name"] for n in State(str(path)).list_networks()] == ["blue", "red"]
    lines = path.read_text().splitlines()
    assert len(lines) == 1  # the start compacted the journal into one snapshot
    state = State(str(path))
    state.create_network("green")
    state.close()
    text = path.read_text().splitlines()
    path.write_text("\n".join([text[0], "garbage", *text[1:]]) + "\n")
    with pytest.raises(L2smError, match=f"controller state {path} is corrupt at line 2"):
        State(str(path))
