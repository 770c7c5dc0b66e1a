"""The sandbox's CNI runtime: runs the `l2sm-cni` executable exactly as a container runtime does."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from osm_l2sm.errors import L2smError

from . import netns

CNI_EXECUTABLE = "l2sm-cni"


def cni_path() -> list[str]:
    """Where the plugin is looked up: CNI_PATH, next to this Python, then PATH."""
    dirs = [d for d in os.environ.get("CNI_PATH", "").split(os.pathsep) if d]
    dirs.append(os.path.dirname(sys.executable))
    dirs += [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    return dirs


def find_plugin() -> str:
    found = shutil.which(CNI_EXECUTABLE, path=os.pathsep.join(cni_path()))
    if not found:
        raise L2smError(f"{CNI_EXECUTABLE} not found on CNI_PATH or PATH (is osm-l2sm installed?)")
    return found


def invoke(command: str, node_netns: str, container_id: str, pod_netns: str, ifname: str,
           config: dict) -> dict:
    """Run one CNI command in the node's netns; the parsed result (ADD) or {}; L2smError with the plugin's msg."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container_id,
        "CNI_NETNS": netns.path(pod_netns),
        "CNI_IFNAME": ifname,
        "CNI_PATH": os.pathsep.join(cni_path()),
    }
    proc = subprocess.run(netns.argv(node_netns, [find_plugin()]), input=json.dumps(config), env=env,
                          capture_output=True, text=True, timeout=60)
    try:
        out = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except ValueError:
        out = {"msg": proc.stdout.strip() or proc.stderr.strip()}
    if proc.returncode != 0:
        raise L2smError(f"CNI {command} of {ifname} failed: {out.get('msg') or proc.stderr.strip()}")
    return out
