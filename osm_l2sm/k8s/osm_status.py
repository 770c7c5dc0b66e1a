"""What OSM mode did with each NS it saw, kept in one ConfigMap an administrator can read with kubectl.

The ConfigMap (``l2sm-osm-status`` in the operator's namespace, label ``l2sm.l2sm.k8s.local/osm-status``) holds one
key per NS instance id, whose value is a JSON object: the NS's name, NSD and namespace, the action (``wired``,
``unchanged``, ``refused``, ``unwired``), the reason (the Warning event's reason), a message, the networks, each KDU's
action, and ``refusingSince`` while pods of the NS are refused. It is the one owner of that fact: the operator
writes it, ``osm-l2sm k8s osm status`` and ``kubectl get configmap`` read it, and the refusal bound is measured from
its ``refusingSince`` (so it survives a restart of the operator). As the cluster autoscaler's status ConfigMap,
it outlives events (which the API server drops after an hour) and needs no CRD.
"""
from __future__ import annotations

import datetime
import json
import logging
import threading

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .operator_config import STATUS_CONFIGMAP

log = logging.getLogger(__name__)

STATUS_LABEL = "l2sm.l2sm.k8s.local/osm-status"
LIMIT = 300  # NS entries kept; the oldest go first (a ConfigMap holds at most 1 MiB)


def now_text() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


class NsStatus:
    """The status ConfigMap as the operator writes it: read once, then written key by key (one operator runs)."""

    def __init__(self, api_of, namespace: str, name: str = STATUS_CONFIGMAP):
        self.api_of, self.namespace, self.name = api_of, namespace, name
        self._entries: dict[str, dict] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, dict]:
        if self._entries is None:
            try:
                data = client.CoreV1Api(self.api_of()).read_namespaced_config_map(self.name, self.namespace).data
            except ApiException as err:
                if err.status != 404:
                    raise
                data = None
            self._entries = {k: json.loads(v) for k, v in (data or {}).items()}
        return self._entries

    def get(self, ns_id: str) -> dict | None:
        with self._lock:
            try:
                return dict(self._load().get(ns_id) or {}) or None
            except (ApiException, ValueError) as err:
                log.warning("cannot read the OSM-mode status %s/%s: %s", self.namespace, self.name, err)
                return None

    def record(self, ns_id: str, entry: dict) -> None:
        """Merge ``entry`` into the NS's entry (a None value drops a field; ``kdus`` and ``networks`` add to what
        is there, under the lock, so pods admitted at once do not lose each other's); written only when it changed.
        A failure to write is logged: the status never decides a pod's fate."""
        with self._lock:
            try:
                entries = self._load()
                old = entries.get(ns_id) or {}
                entry = dict(entry, kdus={**(old.get("kdus") or {}), **(entry.get("kdus") or {})},
                             networks=sorted({*(old.get("networks") or []), *(entry.get("networks") or [])}) or None)
                new = {k: v for k, v in {**old, **entry}.items() if v is not None}
                if {k: v for k, v in new.items() if k != "updated"} == {k: v for k, v in old.items()
                                                                         if k != "updated"}:
                    return
                new["updated"] = now_text()
                entries[ns_id] = new
                drop = sorted(entries, key=lambda k: entries[k].get("updated", ""))[:max(0, len(entries) - LIMIT)]
                for key in drop:
                    del entries[key]
                self._write({ns_id: json.dumps(new, sort_keys=True), **{k: None for k in drop}})
            except (ApiException, ValueError) as err:
                log.warning("cannot write the OSM-mode status of NS %s: %s", ns_id, err)

    def remove(self, ns_id: str) -> None:
        with self._lock:
            try:
                if self._load().pop(ns_id, None) is not None:
                    self._write({ns_id: None})
            except (ApiException, ValueError) as err:
                log.warning("cannot write the OSM-mode status of NS %s: %s", ns_id, err)

    def _write(self, data: dict) -> None:
        core = client.CoreV1Api(self.api_of())
        try:
            core.patch_namespaced_config_map(self.name, self.namespace, {"data": data})
        except ApiException as err:
            if err.status != 404:
                raise
            core.create_namespaced_config_map(self.namespace, {
                "metadata": {"name": self.name, "labels": {STATUS_LABEL: "true"}},
                "data": {k: v for k, v in data.items() if v is not None}})


def read_status(api, namespace: str | None = None) -> list[dict]:
    """Every NS entry of the status ConfigMaps (all namespaces unless ``namespace``), each with its ``nsId``."""
    core = client.CoreV1Api(api)
    maps = (core.list_namespaced_config_map(namespace, label_selector=STATUS_LABEL) if namespace else
            core.list_config_map_for_all_namespaces(label_selector=STATUS_LABEL)).items
    entries = []
    for config_map in maps:
        for ns_id, text in (config_map.data or {}).items():
            entries.append({"nsId": ns_id, **json.loads(text)})
    return sorted(entries, key=lambda e: e.get("updated", ""), reverse=True)
