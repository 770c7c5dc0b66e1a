"""Installing CustomResourceDefinitions when a cluster lacks them, and waiting until the API serves them."""
from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from osm_l2sm.processes import wait_until


def load_manifests(path: str | Path) -> list[dict]:
    """The CRD documents of a YAML file or of every ``*.yaml`` file in a directory."""
    path = Path(path)
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return [doc for f in files for doc in yaml.safe_load_all(f.read_text())
            if doc and doc.get("kind") == "CustomResourceDefinition"]


def _established(ext: client.ApiextensionsV1Api, name: str) -> bool:
    conditions = ext.read_custom_resource_definition(name).status.conditions or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


def ensure_crd(api: client.ApiClient, manifest: dict, wait_seconds: float = 30.0) -> bool:
    """Create the CRD unless it exists; True when created here. Returns once the API serves the new kind."""
    ext = client.ApiextensionsV1Api(api)
    name = manifest["metadata"]["name"]
    try:
        ext.read_custom_resource_definition(name)
        return False
    except ApiException as err:
        if err.status != 404:
            raise
    try:
        ext.create_custom_resource_definition(manifest)
    except ApiException as err:
        if err.status != 409:  # created meanwhile by someone else
            raise
    wait_until(lambda: _established(ext, name), wait_seconds, interval=0.2)
    return True
