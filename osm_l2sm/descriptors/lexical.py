"""Read a descriptor's values as OSM's information model reads them.

NBI loads a descriptor into OSM IM's pyangbind classes, which take several written forms of one value: a YANG
boolean is any of ``true``, ``'true'``, ``'True'``, ``1``, ``'1'`` (and the false ones), a string leaf takes a number
(``id: 1`` is the id ``'1'``), an enumeration compares the value's text, and a leaf-list takes one value for a list
of one. Users write all of these, so osm-l2sm converts them once, when it loads a descriptor, by the types of
:mod:`.schema`; a value OSM refuses too (``'TRUE'``, ``'yes'``) is left as written and the schema refuses it.
"""
from __future__ import annotations

# pyangbind's YANGBool (pyangbind/lib/yangtypes.py): these and nothing else, compared with Python's ==
YANG_FALSE = ("false", "False", False, 0, "0")
YANG_TRUE = ("true", "True", True, 1, "1")


def _types(schema: dict) -> set:
    kind = schema.get("type")
    types = set(kind) if isinstance(kind, list) else {kind} if kind else set()
    if "enum" in schema:
        types.add("string")  # YANG enumerations: pyangbind looks the value's text up
    for alternative in schema.get("anyOf", ()):
        types |= _types(alternative)
    return types


def _scalar(schema: dict, value):
    types = _types(schema)
    if "boolean" in types and not isinstance(value, bool) and isinstance(value, (str, int, float)):
        if value in YANG_TRUE:
            return True
        if value in YANG_FALSE:
            return False
        return value
    if "string" in types and isinstance(value, (int, float)):  # a bool is an int: pyangbind makes it 'True'
        return str(value)
    return value


def as_osm_reads(schema: dict, value):
    """A copy of ``value`` with every leaf ``schema`` describes in the form OSM IM gives it."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: as_osm_reads(props[k], v) if k in props else v for k, v in value.items()}
    array = next((s for s in [schema, *schema.get("anyOf", ())] if s.get("type") == "array"), None)
    if isinstance(value, list):
        return [as_osm_reads(array.get("items", {}), v) for v in value] if array else value
    if array is not None and schema.get("leafList") and value is not None:
        return [_scalar(array.get("items", {}), value)]
    return _scalar(schema, value)
