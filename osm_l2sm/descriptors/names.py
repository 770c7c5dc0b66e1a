"""Deterministic names for the networks of an NS instance (DNS-1123 labels, a subset of what
:mod:`osm_l2sm.model.names` allows)."""
from __future__ import annotations

import hashlib
import re

from osm_l2sm.model.names import MAX_NETWORK_NAME

_HASH_LEN = 8


def dns_label(text: str) -> str:
    """Lower case, anything outside [a-z0-9-] becomes '-', no leading/trailing '-'."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower())
    return re.sub(r"-{2,}", "-", label).strip("-")


def network_name(ns_name: str, vld_id: str) -> str:
    """``<ns-name>-<vld-id>`` as a DNS-1123 label of at most 63 characters.

    When sanitising changed the text or it is too long, a short hash of the exact pair is appended so two NS
    instances (``a_b`` and ``a-b``) or two long names never end up on the same network.
    """
    raw = f"{ns_name}-{vld_id}"
    label = dns_label(raw)
    if label == raw and len(label) <= MAX_NETWORK_NAME:
        return label
    digest = hashlib.sha256(f"{ns_name}\0{vld_id}".encode()).hexdigest()[:_HASH_LEN]
    head = label[: MAX_NETWORK_NAME - _HASH_LEN - 1].rstrip("-")
    return f"{head}-{digest}" if head else digest
