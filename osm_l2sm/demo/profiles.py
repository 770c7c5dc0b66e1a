"""Sandbox profiles: what each KDU of an OSM package runs when its pod is a namespace on the local sandbox.

A profile ships inside the package at ``sandbox/<kdu-name>.yaml`` (the KDU's Helm chart is what runs on Kubernetes;
the profile is its stand-in here, so the demo code knows no workload of its own)::

    node: node2                 # sandbox node the pod runs on (optional; default node1)
    setup:                      # shell commands run inside the pod, in order, before the main command
      - sysctl -w net.ipv4.ip_forward=1
    command: nginx -c "$POD_DIR/nginx.conf"   # the pod's long-running process (optional)
    ready: test -s "$POD_DIR/www/video.bin"   # succeeds once the workload serves (optional)

Commands see ``POD_DIR`` (a private directory), ``POD_NAME`` and, for each interface N of the pod, ``NETN_IF``,
``NETN_ADDR`` (IP/PREFIX), ``NETN_IP``, ``NETN_CIDR`` and ``NETN_NETWORK``, all from the plan.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from osm_l2sm.errors import L2smError

KNOWN_KEYS = {"node", "setup", "command", "ready", "description"}


@dataclass(frozen=True)
class SandboxProfile:
    kdu: str
    source: str
    node: str | None = None
    setup: tuple[str, ...] = ()
    command: str | None = None
    ready: str | None = None
    description: str = field(default="", compare=False)


def profile_path(package_root: Path, kdu: str) -> Path:
    return Path(package_root) / "sandbox" / f"{kdu}.yaml"


def load_profile(package_root: Path | None, kdu: str) -> SandboxProfile:
    """Read and check the profile of ``kdu``; every error names the file and the key."""
    if package_root is None:
        raise L2smError(f"KDU '{kdu}': its package is not a folder, so it has no sandbox profile")
    path = profile_path(package_root, kdu)
    source = f"{Path(package_root).name}/sandbox/{path.name}"
    if not path.is_file():
        raise L2smError(f"{source}: missing: KDU '{kdu}' has no sandbox profile")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise L2smError(f"{source}: not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise L2smError(f"{source}: (top): must be a mapping")
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise L2smError(f"{source}: {unknown[0]}: unknown key (known: {', '.join(sorted(KNOWN_KEYS))})")
    setup = data.get("setup") or []
    if not isinstance(setup, list) or not all(isinstance(s, str) for s in setup):
        raise L2smError(f"{source}: setup: must be a list of shell commands")
    for key in ("node", "command", "ready", "description"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise L2smError(f"{source}: {key}: must be a string")
    return SandboxProfile(kdu=kdu, source=source, node=data.get("node"), setup=tuple(setup),
                          command=data.get("command"), ready=data.get("ready"),
                          description=data.get("description") or "")
