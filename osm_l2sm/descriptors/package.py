"""Load OSM packages: a folder or ``.tar.gz`` with the descriptor YAML at its top, or a bare descriptor YAML file.

Only the descriptor and the bundled KDU charts matter here; any other file (charms, cloud_init, sandbox, checksums)
is ignored. OSM's LCM (release 19) looks for a bundled chart only at ``helm-chart-v3s/<chart>`` and otherwise hands the
name to Helm as a repository chart, so that is where charts belong; the older ``helm-charts/`` folder is still read,
with a warning, because LCM would not find a chart there. Descriptors are normalised to their SOL006 file form
(``vnfd: {...}`` or ``nsd: {nsd: [...]}``) so that YAML paths in messages read the same whatever the input looked like,
and their values are read as OSM's IM reads them (:mod:`.lexical`: ``mgmt-network: 'true'`` is true).
"""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import DescriptorError
from .lexical import as_osm_reads
from .schema import SCHEMAS

log = logging.getLogger(__name__)

_YAML_SUFFIXES = (".yaml", ".yml")
CHARTS_FOLDER = "helm-chart-v3s"  # LCM v19: <package>/helm-chart-v3s/<chart> (osm.md §2)
LEGACY_CHARTS_FOLDER = "helm-charts"  # read with a warning: LCM never looks there for a KDU chart


@dataclass
class Package:
    kind: str  # "nsd" | "vnfd"
    id: str
    descriptor: dict
    source: str  # the file name used in messages, e.g. "cdn_ns/cdn_nsd.yaml"
    root: Path | None = None  # the package folder, None for a bare YAML or text

    @property
    def body(self) -> dict:
        """The NSD or VNFD itself (inside its wrappers)."""
        if self.kind == "vnfd":
            return self.descriptor["vnfd"]
        return self.descriptor["nsd"]["nsd"][0]

    def chart_path(self, kdu_name: str) -> Path | None:
        """The KDU's chart inside the package (``helm-chart-v3s/<helm-chart>``), or None when it is a repo reference."""
        if self.kind != "vnfd" or self.root is None:
            return None
        for kdu in self.body.get("kdu") or []:
            if isinstance(kdu, dict) and kdu.get("name") == kdu_name:
                chart = kdu.get("helm-chart")
                if not isinstance(chart, str) or not chart:
                    return None
                return bundled_chart(self.root, chart, self.source)
        return None


def bundled_chart(root: Path, chart: str, source: str) -> Path | None:
    """``root/helm-chart-v3s/<chart>`` if present, else the legacy ``root/helm-charts/<chart>`` (with a warning)."""
    path = root / CHARTS_FOLDER / chart
    if path.exists():
        return path
    legacy = root / LEGACY_CHARTS_FOLDER / chart
    if legacy.exists():
        log.warning("%s: chart %r is under %s/, where OSM's LCM does not look for KDU charts; move it to %s/ "
                    "(`osm-l2sm package build` does)", source, chart, LEGACY_CHARTS_FOLDER, CHARTS_FOLDER)
        return legacy
    return None


def _parse_yaml(text: str, source: str):
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
        raise DescriptorError(source, where, f"not valid YAML: {err.problem}") from None
    except yaml.YAMLError as err:
        raise DescriptorError(source, "(yaml)", f"not valid YAML: {err}") from None


def _normalise(data, source: str) -> tuple[str, dict]:
    """Return (kind, descriptor in file form)."""
    if not isinstance(data, dict):
        raise DescriptorError(source, "(top)", "expected a mapping with a 'vnfd' or 'nsd' key")
    if "vnfd" in data:
        return "vnfd", data
    if "nsd" in data:
        inner = data["nsd"]
        if isinstance(inner, list):  # {nsd: [...]}: the list without its container
            return "nsd", {**data, "nsd": {"nsd": inner}}
        return "nsd", data
    if "vnfd-catalog" in data or "nsd-catalog" in data or "vnfd:vnfd-catalog" in data or "nsd:nsd-catalog" in data:
        raise DescriptorError(source, "(top)", "the pre-SOL006 '*-catalog' format is not supported; use SOL006")
    # NBI hands out stored descriptors without their wrapper.
    if "kdu" in data or "ext-cpd" in data or "k8s-cluster" in data:
        return "vnfd", {"vnfd": data}
    if "virtual-link-desc" in data or "vnfd-id" in data:
        return "nsd", {"nsd": {"nsd": [data]}}
    raise DescriptorError(source, "(top)", "expected a mapping with a 'vnfd' or 'nsd' key")


def _descriptor_id(kind: str, descriptor: dict, source: str) -> str:
    if kind == "vnfd":
        body, path = descriptor.get("vnfd"), ["vnfd"]
    else:
        nsds = descriptor["nsd"].get("nsd") if isinstance(descriptor["nsd"], dict) else None
        path = ["nsd", "nsd"]
        if not isinstance(nsds, list) or not nsds:
            raise DescriptorError(source, path, "expected a list with one NSD")
        if len(nsds) > 1:
            raise DescriptorError(source, path, f"one NSD per package, found {len(nsds)}")
        body, path = nsds[0], path + [0]
    if not isinstance(body, dict):
        raise DescriptorError(source, path, "expected a mapping")
    ident = body.get("id")
    if not isinstance(ident, str) or not ident:
        raise DescriptorError(source, path + ["id"], "missing or not a string")
    return ident


def load_descriptor_text(text: str, source: str, root: Path | None = None) -> Package:
    """Parse one descriptor given as text (e.g. fetched from OSM's NBI); ``source`` names it in messages."""
    kind, descriptor = _normalise(_parse_yaml(text, source), source)
    descriptor = as_osm_reads(SCHEMAS[kind], descriptor)
    return Package(kind=kind, id=_descriptor_id(kind, descriptor, source), descriptor=descriptor,
                   source=source, root=root)


def _descriptor_file(folder: Path, label: str) -> Path:
    """The one YAML at the folder's top that holds a VNFD or NSD."""
    candidates = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in _YAML_SUFFIXES:
            try:
                data = yaml.safe_load(path.read_text())
            except yaml.YAMLError:
                candidates.append(path)  # report its syntax error when it is the only one
                continue
            if isinstance(data, dict) and ("vnfd" in data or "nsd" in data):
                candidates.append(path)
    if not candidates:
        raise DescriptorError(label, "(top)", "no descriptor YAML (with a 'vnfd' or 'nsd' key) at the package's top")
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise DescriptorError(label, "(top)", f"more than one descriptor at the package's top: {names}")
    return candidates[0]


def _load_folder(folder: Path, label: str) -> Package:
    path = _descriptor_file(folder, label)
    return load_descriptor_text(path.read_text(), f"{label}/{path.name}", root=folder)


_extracted: list[str] = []


@atexit.register
def _remove_extracted() -> None:
    for folder in _extracted:
        shutil.rmtree(folder, ignore_errors=True)


def _extract_data(tar: tarfile.TarFile, dest: str) -> None:
    """Extract refusing absolute paths, paths or links leading out of ``dest``, and devices: tarfile's "data" filter
    where this Python has it (3.11.4 and later), the same checks by hand on older ones (Debian 12's is 3.11.2)."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = os.path.realpath(dest)
    for member in tar.getmembers():
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            raise tarfile.TarError(f"{member.name}: not a regular file, folder or link")
        paths = [member.name]
        if member.issym():
            paths.append(os.path.join(os.path.dirname(member.name), member.linkname))
        elif member.islnk():
            paths.append(member.linkname)
        for name in paths:
            full = os.path.realpath(os.path.join(root, name))
            if os.path.isabs(name) or os.path.commonpath([root, full]) != root:
                raise tarfile.TarError(f"{member.name}: leads out of the package")
    tar.extractall(dest)


def _load_tar(path: Path) -> Package:
    try:
        with tarfile.open(path, "r:*") as tar:
            tops = {m.name.split("/", 1)[0] for m in tar.getmembers() if m.name not in (".", "")}
            tmp = tempfile.mkdtemp(prefix="osm-l2sm-pkg-")
            _extracted.append(tmp)
            _extract_data(tar, tmp)
    except (tarfile.TarError, OSError) as err:
        raise DescriptorError(path.name, "(top)", f"cannot read the package archive: {err}") from None
    if len(tops) != 1:
        raise DescriptorError(path.name, "(top)", "the archive must hold one top folder named like the package")
    top = tops.pop()
    folder = Path(tmp) / top
    if not folder.is_dir():
        raise DescriptorError(path.name, "(top)", "the archive must hold one top folder named like the package")
    return _load_folder(folder, top)


def load_package(path) -> Package:
    """Load a package folder, a ``.tar.gz`` package, or a descriptor YAML file."""
    path = Path(path)
    if not path.exists():
        raise DescriptorError(str(path), "(top)", "no such file or folder")
    if path.is_dir():
        return _load_folder(path.resolve(), path.resolve().name)
    if path.name.endswith((".tar.gz", ".tgz", ".tar")):
        return _load_tar(path)
    label = f"{path.resolve().parent.name}/{path.name}"
    return load_descriptor_text(path.read_text(), label)
