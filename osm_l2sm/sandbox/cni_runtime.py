"""The sandbox's CNI runtime: runs the `l2sm-cni` executable exactly as a container runtime does, pointing it at
the node's daemon socket (on a Kubernetes node the plugin's default path)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

from osm_l2sm.errors import L2smError

from . import netns

CNI_EXECUTABLE = "l2sm-cni"
SOCKET_ENV = "L2SM_CNI_SOCKET"  # read by the plugin (cni/main.go)


def cni_path() -> list[str]:
    """Where the plugin is looked up: CNI_PATH, then where scripts/build-cni-plugin puts it, then /opt/cni/bin."""
    dirs = [d for d in os.environ.get("CNI_PATH", "").split(os.pathsep) if d]
    cache = os.environ.get("OSM_L2SM_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "osm-l2sm")
    return dirs + [os.path.join(cache, "bin"), "/opt/cni/bin"]


def find_plugin() -> str:
    found = shutil.which(CNI_EXECUTABLE, path=os.pathsep.join(cni_path()))
    if not found:
        raise L2smError(f"{CNI_EXECUTABLE} not found on CNI_PATH, in {cni_path()[-2]} or /opt/cni/bin "
                        "(build it with scripts/build-cni-plugin)")
    return found


def plugin_env(command: str, container_id: str, pod_netns_path: str, ifname: str, socket_path: str) -> dict:
    """The environment a runtime gives the plugin, plus the node's daemon socket."""
    return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_COMMAND": command,
            "CNI_CONTAINERID": container_id, "CNI_NETNS": pod_netns_path, "CNI_IFNAME": ifname,
            "CNI_PATH": os.pathsep.join(cni_path()), SOCKET_ENV: socket_path}


def invoke(command: str, node_netns: str, container_id: str, pod_netns: str, ifname: str, config: dict,
           socket_path: str) -> dict:
    """Run one CNI command in the node's netns; the parsed result (ADD) or {}; L2smError with the plugin's msg."""
    env = plugin_env(command, container_id, netns.path(pod_netns), ifname, socket_path)
    proc = subprocess.run(netns.argv(node_netns, [find_plugin()]), input=json.dumps(config), env=env,
                          capture_output=True, text=True, timeout=60)
    try:
        out = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except ValueError:
        out = {"msg": proc.stdout.strip() or proc.stderr.strip()}
    if proc.returncode != 0:
        raise L2smError(f"CNI {command} of {ifname} failed: {out.get('msg') or proc.stderr.strip()}")
    return out
