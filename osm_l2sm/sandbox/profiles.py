"""Sandbox profiles: what each KDU of an OSM package runs when its pod is a namespace on the local sandbox.

A profile ships inside the package at ``sandbox/<kdu-name>.yaml`` (the KDU's Helm chart is what runs on Kubernetes;
the profile is its stand-in here, so the sandbox knows no workload of its own; ``knfs.py`` runs it)::

    node: node2                 # sandbox node the pod runs on (optional; default node1; node1 when the sandbox
                                # has no such node; on a sandbox of several clusters, in the KDU's cluster)
    env:                        # defaults of the workload's own variables (optional; the caller may override them)
      FILE_NAME: video.mp4
    setup:                      # shell commands run inside the pod, in order, before the main command
      - sysctl -w net.ipv4.ip_forward=1
    command: nginx -c "$POD_DIR/nginx.conf"   # the pod's long-running process (optional)
    ready: test -s "$POD_DIR/www/video.bin"   # succeeds once the workload serves (optional)

Commands see ``POD_DIR`` (a private directory), ``POD_NAME`` and, for each interface N of the pod, ``NETN_IF``,
``NETN_ADDR`` (IP/PREFIX), ``NETN_IP``, ``NETN_CIDR`` and ``NETN_NETWORK``, all from the plan, and
``<KDU>_<IF>_IP`` for every interface of every KDU of the NS (``CONTENT_SERVER_NET1_IP``), so a profile names its
peers without fixed addresses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from osm_l2sm.errors import L2smError

KNOWN_KEYS = {"node", "env", "setup", "command", "ready", "description"}


@dataclass(frozen=True)
class SandboxProfile:
    kdu: str
    source: str
    node: str | None = None
    setup: tuple[str, ...] = ()
    command: str | None = None
    ready: str | None = None
    description: str = field(default="", compare=False)
    env: tuple[tuple[str, str], ...] = ()  # (name, default value) pairs, in the file's order


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
    env = data.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, (str, int, float))
                                            for k, v in env.items()):
        raise L2smError(f"{source}: env: must be a mapping of variable names to plain values")
    for key in ("node", "command", "ready", "description"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise L2smError(f"{source}: {key}: must be a string")
    return SandboxProfile(kdu=kdu, source=source, node=data.get("node"), setup=tuple(setup),
                          command=data.get("command"), ready=data.get("ready"),
                          description=data.get("description") or "",
                          env=tuple((k, str(v)) for k, v in env.items()))
