"""The error every descriptor problem raises: it names the file and the YAML path of the offending value."""
from __future__ import annotations

from typing import Iterable

from osm_l2sm.errors import L2smError


def yaml_path(parts: Iterable[str | int]) -> str:
    """``["nsd", "nsd", 0, "df"]`` -> ``nsd.nsd[0].df``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top)"


class DescriptorError(L2smError):
    """``<file>: <yaml.path>: <what is wrong>``, one line."""

    def __init__(self, source: str, path: Iterable[str | int] | str, problem: str, osm_accepts: str | None = None,
                 plannable: bool = False):
        self.source = source
        self.osm_accepts = osm_accepts  # why osm-l2sm refuses what OSM's NBI accepts (see stricter), if it does
        # a problem the planner can live with (nothing it wires depends on it): `validate` refuses it, `plan_ns`
        # and the operator's OSM mode plan the NS all the same
        self.plannable = plannable
        self.path = path if isinstance(path, str) else yaml_path(path)
        self.problem = problem
        super().__init__(f"{source}: {self.path}: {problem}")


STRICTER = "stricter than OSM, whose NBI accepts it"


def stricter(problem: str, why: str) -> str:
    """A problem osm-l2sm refuses although OSM's NBI (release 19) onboards it: the message says so, and why."""
    return f"{problem} ({STRICTER}: {why})"


def descriptor_strictness(err: DescriptorError) -> DescriptorError:
    """A problem found in a descriptor, with the reason when osm-l2sm is stricter than OSM's NBI about it."""
    if not err.osm_accepts:
        return err
    return DescriptorError(err.source, err.path, stricter(err.problem, err.osm_accepts), plannable=err.plannable)


def is_stricter(err: DescriptorError) -> bool:
    """Whether OSM's NBI accepts what this problem refuses (the message says so)."""
    return STRICTER in err.problem
