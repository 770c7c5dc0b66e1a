"""The local sandbox cluster: nodes and pods as network namespaces on this host, wired by the real data plane.

Public API: :class:`Sandbox` (up, down, status, networks, pods) and :class:`SandboxTarget` (a NetworkTarget).
"""
from .cluster import Sandbox, preflight, temporary_sandbox
from .target import SandboxTarget

__all__ = ["Sandbox", "SandboxTarget", "preflight", "temporary_sandbox"]
