"""The local sandbox cluster: nodes and pods as network namespaces on this host, wired by the real data plane.

Public API: :class:`Sandbox` (up, down, status, networks, pods; :class:`PodSpec` for several pods at once), :class:`SandboxTarget` (a NetworkTarget that also
runs a plan's KNFs from their sandbox profiles), :class:`KnfRunner` and :class:`Knf` (those KNFs, for callers that
check them), :func:`load_profile`, :func:`running_view` (what runs, for a drawing).
"""
from .cluster import Sandbox, preflight, temporary_sandbox
from .knfs import Knf, KnfRunner
from .pod import PodSpec
from .profiles import SandboxProfile, load_profile
from .target import SandboxTarget
from .view import running_view

__all__ = ["Knf", "KnfRunner", "PodSpec", "Sandbox", "SandboxProfile", "SandboxTarget", "load_profile", "preflight",
           "running_view", "temporary_sandbox"]
