"""The node daemon's record of its attachments and of the controller ports still to release, in one JSON file next
to the node's OVS database, so GC knows what it made and a restarted daemon still releases what it owes."""
from __future__ import annotations

import json
import os

from osm_l2sm.files import write_json_atomic


class Attachments:
    def __init__(self, path: str):
        self.path = path
        self.data = {"attachments": {}, "releases": []}
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                loaded = json.load(f)
            self.data["attachments"].update(loaded.get("attachments", {}))
            self.data["releases"] = list(loaded.get("releases", []))

    def _save(self) -> None:
        write_json_atomic(self.path, self.data)

    def items(self) -> list[tuple[str, dict]]:
        return list(self.data["attachments"].items())

    def get(self, host_if: str) -> dict | None:
        return self.data["attachments"].get(host_if)

    def add(self, host_if: str, record: dict) -> None:
        self.data["attachments"][host_if] = record
        self._save()

    def remove(self, host_if: str) -> None:
        if self.data["attachments"].pop(host_if, None) is not None:
            self._save()

    def releases(self) -> list[str]:
        return list(self.data["releases"])

    def owe_release(self, host_if: str) -> None:
        if host_if not in self.data["releases"]:
            self.data["releases"].append(host_if)
            self._save()

    def released(self, host_if: str) -> None:
        if host_if in self.data["releases"]:
            self.data["releases"].remove(host_if)
            self._save()
