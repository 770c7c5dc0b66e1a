"""Descriptors box: load OSM packages (NSD and KNF VNFDs), validate them, plan an NS instance, build packages.

Public interface: :func:`load_package`, :func:`load_descriptor_text`, :class:`Package`, :class:`DescriptorError`,
:func:`validate`, :func:`validate_all`, :func:`resolve` (validate and return the NSD's :class:`Topology`),
:func:`plan_ns`, :func:`parse_cluster_map`, :func:`build_package`, and OSM's ``"!!yaml "`` params encoding
(:func:`encode_params`, :func:`decode_params`).
"""
from .build import build_package
from .errors import DescriptorError
from .package import Package, load_descriptor_text, load_package
from .placement import parse_cluster_map
from .params import decode_params, encode_params
from .plan import plan_ns
from .topology import Topology
from .validate import resolve, validate, validate_all

__all__ = ["DescriptorError", "Package", "Topology", "build_package", "decode_params", "encode_params",
           "load_descriptor_text", "load_package", "parse_cluster_map", "plan_ns", "resolve", "validate",
           "validate_all"]
