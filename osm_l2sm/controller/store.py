"""The controller's state file: an append-only journal of JSON lines, compacted now and then.

Line 1 is a snapshot ``{"format": "l2sm-journal/1", "networks": ..., "ports": ..., "switches": ...}``; every later
line is one change, ``{"put": [[kind, key, value], ...], "del": [[kind, key], ...]}``, written with one ``write`` and
made durable with ``fdatasync`` before the change is acknowledged. A line is the unit of atomicity: a crash in the
middle of a write leaves a last line without its newline (or not valid JSON), which is dropped at the next start, so
the change in flight is lost and nothing before it. Any other unreadable line is corruption and stops the start with
an error naming the file and line.

When the journal holds many more lines than records, it is compacted: a new snapshot is written to a temporary file,
synced, and renamed over the journal (a crash leaves either the old journal or the new one).

A file holding one JSON object (the controller's earlier format, rewritten whole on every change) is read as a
snapshot and turned into a journal at once.
"""
from __future__ import annotations

import json
import os

from osm_l2sm.errors import L2smError
from osm_l2sm.files import write_atomic

FORMAT = "l2sm-journal/1"
KINDS = ("networks", "ports", "switches")
COMPACT_MIN_LINES = 1000  # compact when the journal has more lines than this and twice the records


class Journal:
    """Load with :meth:`load`, then :meth:`append` each change; ``path=None`` keeps nothing (tests, tools)."""

    def __init__(self, path: str | None):
        self.path = path
        self._fd: int | None = None
        self._lines = 0  # change lines since the snapshot

    def load(self) -> dict[str, dict]:
        """The records by kind ({"networks": {name: json}, ...}); opens the journal for appending."""
        data = {kind: {} for kind in KINDS}
        if not self.path:
            return data
        if os.path.exists(self.path):
            data = self._read(data)
        self.compact(data)  # start from one snapshot line: drops a torn tail, migrates the old format
        return data

    def _read(self, data: dict) -> dict:
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except OSError as err:
            raise L2smError(f"cannot read controller state {self.path}: {err.strerror}") from err
        text = raw.decode("utf-8", errors="replace")
        if not text.strip():
            return data
        lines = text.split("\n")
        try:
            first = json.loads(lines[0])
        except ValueError:
            first = None
        if not (isinstance(first, dict) and first.get("format") == FORMAT):
            return self._read_whole_json(text, data)
        for kind in KINDS:
            data[kind] = dict(first.get(kind) or {})
        last = max(i for i, line in enumerate(lines) if line.strip())
        for index in range(1, last + 1):
            if not lines[index].strip():
                continue
            try:
                self._apply(data, json.loads(lines[index]))
            except (ValueError, TypeError, KeyError, AttributeError) as err:
                if index == last:
                    break  # the last line: a write a crash cut short (the change in flight)
                raise L2smError(f"controller state {self.path} is corrupt at line {index + 1}: {err}") from err
        return data

    def _read_whole_json(self, text: str, data: dict) -> dict:
        try:
            old = json.loads(text)
            if not isinstance(old, dict):
                raise ValueError("not a JSON object")
            for kind in KINDS:
                value = old.get(kind, {})
                if not isinstance(value, dict):
                    raise ValueError(f"{kind} is not an object")
                data[kind] = dict(value)
        except ValueError as err:
            raise L2smError(f"cannot read controller state {self.path}: {err}") from err
        return data

    @staticmethod
    def _apply(data: dict, change: dict) -> None:
        for kind, key, value in change.get("put", ()):
            data[kind][key] = value  # an unknown kind is a KeyError: corruption
        for kind, key in change.get("del", ()):
            data[kind].pop(key, None)

    def append(self, put=(), delete=()) -> None:
        """Write one change durably: ``put`` [(kind, key, json)], ``delete`` [(kind, key)]."""
        if not self.path:
            return
        line = json.dumps({"put": [list(p) for p in put], "del": [list(d) for d in delete]},
                          separators=(",", ":"), sort_keys=True) + "\n"
        os.write(self._fd, line.encode())
        os.fdatasync(self._fd)
        self._lines += 1

    def wants_compaction(self, records: int) -> bool:
        return self._lines > max(COMPACT_MIN_LINES, 2 * records)

    def compact(self, data: dict) -> None:
        """Replace the journal with one snapshot of ``data`` (temp file, fsync, rename, fsync of the folder)."""
        if not self.path:
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        snapshot = {"format": FORMAT}
        snapshot.update({kind: data[kind] for kind in KINDS})
        line = json.dumps(snapshot, separators=(",", ":"), sort_keys=True) + "\n"
        write_atomic(self.path, line.encode("utf-8"), mode=0o600, durable=True)
        self.close()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self._lines = 0

    def size(self) -> int:
        return os.path.getsize(self.path) if self.path and os.path.exists(self.path) else 0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
