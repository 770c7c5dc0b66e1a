"""The operator's settings, read once where it starts (``osm-l2sm operator run``: its options and, for OSM
mode, the environment the l2sm chart fills from its values and a Secret) and handed to it as typed objects."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from osm_l2sm.errors import L2smError

STATUS_CONFIGMAP = "l2sm-osm-status"  # OSM mode's status ConfigMap (`osm-l2sm k8s osm status` reads it)


@dataclass(frozen=True)
class OsmConfig:
    """OSM mode (:mod:`.osm_mode`): where NBI is and how patient to be with it."""

    nbi_url: str
    user: str = "admin"
    password: str = "admin"
    project: str = "admin"
    verify_tls: bool = True
    nbi_timeout: float = 2.0  # seconds per NBI request: the API server gives the webhook a few seconds
    cache_seconds: float = 30.0  # how long an NS's plan read from NBI is used
    gc_seconds: float = 60.0  # how often the networks of NSs gone from NBI are looked for
    refuse_seconds: float = 120.0  # the longest an NS's pods are refused while NBI cannot be reached
    status_namespace: str = "default"
    status_configmap: str = STATUS_CONFIGMAP


@dataclass
class OperatorConfig:
    controller_url: str | None = None
    token: str | None = None
    kubeconfig: str | None = None
    provider_urls: dict[str, str] = field(default_factory=dict)  # provider name -> REST URL
    provider_token: str | None = None
    cluster_name: str | None = None  # this cluster's name at the providers (default: from kube-system's uid)
    osm: OsmConfig | None = None  # OSM mode, off when None (it needs the admission webhook)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise L2smError(f"{name}={text!r}: expected a number of seconds") from None


def osm_config_from_env(env: Mapping[str, str]) -> OsmConfig | None:
    """OSM mode as the environment configures it, or None when ``OSM_L2SM_OSM_NBI`` (NBI's URL) is not set.

    ``OSM_USER``, ``OSM_PASSWORD``, ``OSM_PROJECT`` (default admin), ``OSM_L2SM_OSM_INSECURE=1`` (no TLS
    verification), ``OSM_L2SM_OSM_NBI_TIMEOUT`` (seconds per NBI request, default 2),
    ``OSM_L2SM_OSM_CACHE_SECONDS`` (default 30), ``OSM_L2SM_OSM_GC_SECONDS`` (default 60),
    ``OSM_L2SM_OSM_REFUSE_SECONDS`` (default 120), ``OSM_L2SM_OSM_STATUS_NAMESPACE`` (default ``POD_NAMESPACE``,
    else ``default``) and ``OSM_L2SM_OSM_STATUS_CONFIGMAP`` (default ``l2sm-osm-status``)."""
    url = env.get("OSM_L2SM_OSM_NBI")
    if not url:
        return None
    return OsmConfig(url, env.get("OSM_USER", "admin"), env.get("OSM_PASSWORD", "admin"),
                     env.get("OSM_PROJECT", "admin"), verify_tls=env.get("OSM_L2SM_OSM_INSECURE") != "1",
                     nbi_timeout=_seconds(env, "OSM_L2SM_OSM_NBI_TIMEOUT", 2.0),
                     cache_seconds=_seconds(env, "OSM_L2SM_OSM_CACHE_SECONDS", 30.0),
                     gc_seconds=_seconds(env, "OSM_L2SM_OSM_GC_SECONDS", 60.0),
                     refuse_seconds=_seconds(env, "OSM_L2SM_OSM_REFUSE_SECONDS", 120.0),
                     status_namespace=env.get("OSM_L2SM_OSM_STATUS_NAMESPACE") or env.get("POD_NAMESPACE")
                     or "default",
                     status_configmap=env.get("OSM_L2SM_OSM_STATUS_CONFIGMAP") or STATUS_CONFIGMAP)
