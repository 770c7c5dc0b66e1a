"""The network target (:class:`osm_l2sm.model.NetworkTarget`) the command line asks for: a controller (osm box), the
local sandbox (sandbox box), one Kubernetes cluster or several (k8s box). The boxes are imported when chosen, which
keeps `osm-l2sm --help` fast."""
from __future__ import annotations

from osm_l2sm.errors import L2smError
from osm_l2sm.model import NetworkTarget


def target_kind(args) -> str:
    """Which target the arguments ask for: ``local``, ``kubeconfig``, ``clusters`` (several kubeconfigs) or
    ``controller``."""
    chosen = [kind for kind, given in (("local", getattr(args, "local", False)),
                                        ("kubeconfig", getattr(args, "kubeconfig", None)),
                                        ("clusters", getattr(args, "clusters", None)),
                                        ("controller", getattr(args, "controller", None))) if given]
    if len(chosen) > 1:
        raise L2smError("choose one network target: --local, --kubeconfig (one or several) or --controller")
    if not chosen:
        raise L2smError("no network target: pass --local (sandbox), --kubeconfig FILE (Kubernetes) "
                        "or --controller URL")
    return chosen[0]


def target_from_args(args) -> NetworkTarget:
    """The NetworkTarget chosen by ``--local`` / ``--kubeconfig`` / ``--controller`` on the command line."""
    kind = target_kind(args)
    if kind == "local":
        from osm_l2sm.sandbox import Sandbox, SandboxTarget

        return SandboxTarget(Sandbox(getattr(args, "sandbox", None)))
    if kind == "kubeconfig":
        from osm_l2sm.k8s.target import kubernetes_target

        return kubernetes_target(args.kubeconfig, getattr(args, "namespace", None) or "default",
                                 mode=getattr(args, "k8s_mode", None) or "cr")
    if kind == "clusters":
        from osm_l2sm.k8s.multidomain import interdomain_target

        return interdomain_target(args.clusters, getattr(args, "cluster_namespace", None),
                                  getattr(args, "provider", None), getattr(args, "provider_domain", None))
    from osm_l2sm.osm.targets import ControllerTarget

    return ControllerTarget(args.controller, token=getattr(args, "controller_token", None))


def install_knfs(plan, kubeconfig: str, namespace: str = "default", mode: str = "cr") -> None:
    """Helm-install every KDU chart of ``plan`` (ns-create with local packages and no OSM)."""
    from osm_l2sm.k8s.target import install_plan

    install_plan(plan, kubeconfig, namespace, mode=mode)


def uninstall_knfs(plan, kubeconfig: str, namespace: str = "default", mode: str = "cr") -> None:
    from osm_l2sm.k8s.target import uninstall_plan

    uninstall_plan(plan, kubeconfig, namespace, mode=mode)
