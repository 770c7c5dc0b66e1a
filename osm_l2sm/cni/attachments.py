"""The node daemon's record of its attachments and of the controller ports still to release, in one JSON file next
to the node's OVS database, so GC knows what it made and a restarted daemon still releases what it owes."""
from __future__ import annotations

import json
import os

from osm_l2sm.files import write_json_atomic

from .records import Attachment


class Attachments:
    """host interface -> :class:`Attachment`, and the host interfaces whose controller port is still owed."""

    def __init__(self, path: str):
        self.path = path
        self.attachments: dict[str, Attachment] = {}
        self.owed: list[str] = []
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                loaded = json.load(f)
            self.attachments = {h: Attachment.from_json(r) for h, r in loaded.get("attachments", {}).items()}
            self.owed = list(loaded.get("releases", []))

    def _save(self) -> None:
        write_json_atomic(self.path, {"attachments": {h: a.to_json() for h, a in self.attachments.items()},
                                      "releases": self.owed})

    def items(self) -> list[tuple[str, Attachment]]:
        return list(self.attachments.items())

    def get(self, host_if: str) -> Attachment | None:
        return self.attachments.get(host_if)

    def add(self, host_if: str, record: Attachment) -> None:
        self.attachments[host_if] = record
        self._save()

    def remove(self, host_if: str) -> None:
        if self.attachments.pop(host_if, None) is not None:
            self._save()

    def releases(self) -> list[str]:
        return list(self.owed)

    def owe_release(self, host_if: str) -> None:
        if host_if not in self.owed:
            self.owed.append(host_if)
            self._save()

    def released(self, host_if: str) -> None:
        if host_if in self.owed:
            self.owed.remove(host_if)
            self._save()
