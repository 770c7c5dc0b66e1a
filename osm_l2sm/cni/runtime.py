"""Running the ``l2sm-cni`` executable exactly as a container runtime does: the CNI_* environment, the network
configuration on stdin, the result or the spec's error object on stdout.

The one place that plays the runtime: the sandbox runs it for its pods (inside a node's network namespace, pointing
it at that node's daemon socket), and node-attach (:mod:`osm_l2sm.k8s.node_attach`) for running pods whose networks
change.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence

from osm_l2sm.errors import L2smError

CNI_EXECUTABLE = "l2sm-cni"
SOCKET_ENV = "L2SM_CNI_SOCKET"  # read by the plugin (cni/main.go); unset, it uses the daemon's default socket
TIMEOUT_S = 60


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


def plugin_env(command: str, container_id: str, netns_path: str, ifname: str, socket_path: str | None = None,
               search_path: Sequence[str] | None = None) -> dict:
    """The environment a runtime gives the plugin (``search_path``: its CNI_PATH, default :func:`cni_path`), plus
    the node's daemon socket when it is not the default one."""
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_COMMAND": command,
           "CNI_CONTAINERID": container_id, "CNI_NETNS": netns_path, "CNI_IFNAME": ifname,
           "CNI_PATH": os.pathsep.join(cni_path() if search_path is None else search_path)}
    if socket_path:
        env[SOCKET_ENV] = socket_path
    return env


def run_plugin(command: str, container_id: str, netns_path: str, ifname: str, config: dict, *,
               plugin: str | None = None, socket_path: str | None = None,
               argv: Sequence[str] = ()) -> dict:
    """Run one CNI ``command`` of ``plugin`` (default: :func:`find_plugin`, with :func:`cni_path` as CNI_PATH; a
    given one has its own directory), prefixed by ``argv`` (e.g. entering a node's network namespace); the parsed
    result (ADD) or {}; L2smError with the plugin's message on failure."""
    search_path = None if plugin is None else [os.path.dirname(plugin)]
    plugin = plugin or find_plugin()
    env = plugin_env(command, container_id, netns_path, ifname, socket_path, search_path)
    proc = subprocess.run([*argv, plugin], input=json.dumps(config), env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    try:
        out = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except ValueError:
        out = {"msg": proc.stdout.strip() or proc.stderr.strip()}
    if proc.returncode != 0:
        raise L2smError(f"CNI {command} of {ifname} failed: {out.get('msg') or proc.stderr.strip()}")
    return out

