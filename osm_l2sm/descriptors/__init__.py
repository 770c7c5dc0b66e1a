"""Descriptors box: load OSM packages (NSD and KNF VNFDs), validate them, plan an NS instance, build packages.

Public interface: :func:`load_package`, :func:`load_descriptor_text`, :class:`Package`, :class:`DescriptorError`,
:func:`validate`, :func:`validate_all`, :func:`plan_ns`, :func:`parse_cluster_map`, :func:`build_package`.
"""
from .build import build_package
from .errors import DescriptorError
from .package import Package, load_descriptor_text, load_package
from .placement import parse_cluster_map
from .plan import deep_merge, plan_ns
from .validate import validate, validate_all

__all__ = ["DescriptorError", "Package", "build_package", "deep_merge", "load_descriptor_text", "load_package",
           "parse_cluster_map", "plan_ns", "validate", "validate_all"]
