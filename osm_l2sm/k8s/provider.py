"""The inter-domain provider of ``ext-vnet`` L2Networks: where it is, and the global tag it gives a network.

The provider is a controller in provider role (docs/multidomain.md); :class:`ProviderClient` (the controller
box's, which the sandbox uses too) acquires and releases the global tags with reference counting.
"""
from __future__ import annotations

from osm_l2sm.controller import ProviderClient, member_interface  # noqa: F401 (the operator's and tests' names)
from osm_l2sm.errors import L2smError

INTERDOMAIN_TYPES = ("ext-vnet", "inter-vnet")  # inter-vnet is upstream's older name


def is_interdomain(spec: dict) -> bool:
    return (spec or {}).get("type") in INTERDOMAIN_TYPES


def parse_provider_urls(values: list[str] | None) -> dict[str, str]:
    """``NAME=URL`` options -> {name: url}."""
    urls: dict[str, str] = {}
    for value in values or []:
        name, sep, url = value.partition("=")
        if not sep or not name.strip() or not url.strip().startswith(("http://", "https://")):
            raise L2smError(f"--provider-url {value!r}: expected NAME=http[s]://HOST:PORT")
        urls[name.strip()] = url.strip().rstrip("/")
    return urls


def provider_url(provider: dict | None, configured: dict[str, str]) -> str:
    """The REST URL of an L2Network's ``spec.provider``: the operator's ``--provider-url NAME=URL`` for its name,
    else ``http://<domain>:<sdnPort>`` from upstream's own fields."""
    provider = provider or {}
    name = provider.get("name")
    if not name:
        raise L2smError("the network names no provider (spec.provider.name)")
    if name in configured:
        return configured[name]
    domain, port = provider.get("domain"), provider.get("sdnPort")
    if domain and port:
        return f"http://{domain}:{port}"
    raise L2smError(f"no URL for provider {name}: run the operator with --provider-url {name}=URL "
                    "or give spec.provider.sdnPort")
