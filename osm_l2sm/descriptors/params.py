"""OSM's encoding of nested instantiation params: strings prefixed ``"!!yaml "``, which OSM's LCM parses back before
Helm sees them. The one encoder and the one decoder."""
from __future__ import annotations

import yaml

YAML_PREFIX = "!!yaml "


def encode_params(values: dict) -> dict:
    """Helm values → OSM additionalParams: nested dicts/lists become ``"!!yaml ..."`` strings."""
    out = {}
    for key, value in values.items():
        if isinstance(value, (dict, list)):
            text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=2**31 - 1).strip()
            out[key] = YAML_PREFIX + text
        else:
            out[key] = value
    return out


def decode_params(value):
    """Read every ``"!!yaml "`` string in ``value`` (a config, additionalParams, ...) back, as OSM's LCM does."""
    if isinstance(value, str) and value.startswith(YAML_PREFIX):
        return yaml.safe_load(value[len(YAML_PREFIX):])
    if isinstance(value, dict):
        return {k: decode_params(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_params(v) for v in value]
    return value
