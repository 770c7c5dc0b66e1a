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

    def __init__(self, source: str, path: Iterable[str | int] | str, problem: str):
        self.source = source
        self.path = path if isinstance(path, str) else yaml_path(path)
        self.problem = problem
        super().__init__(f"{source}: {self.path}: {problem}")
