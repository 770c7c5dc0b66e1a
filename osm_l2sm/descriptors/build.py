"""Build an onboardable OSM package: ``<id>.tar.gz`` with one top folder and ``checksums.txt``.

Symlinked charts (the packages link to the repo's ``helm-charts/``) are stored as real files, and every entry gets
fixed owner and time so the same folder always builds the same archive. Bundled charts go to ``helm-chart-v3s/``, the
only place OSM's LCM looks for them; a package folder that still has the older ``helm-charts/`` gets it renamed in the
archive.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

from .errors import DescriptorError
from .package import CHARTS_FOLDER, LEGACY_CHARTS_FOLDER, load_package
from .schema import schema_errors

CHECKSUMS = "checksums.txt"


def _files(folder: Path) -> list[Path]:
    """Every regular file under the folder, links followed, in a stable order; the old checksums excluded."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and path.relative_to(folder).as_posix() != CHECKSUMS:
                out.append(path)
    return out


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
    tar.addfile(info)


def _osm_layout(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """``helm-charts/X`` → ``helm-chart-v3s/X``; a chart already under ``helm-chart-v3s/`` wins."""
    legacy = LEGACY_CHARTS_FOLDER + "/"
    names = {rel for rel, _ in files}
    out = []
    for rel, data in files:
        if rel.startswith(legacy):
            rel = CHARTS_FOLDER + "/" + rel[len(legacy):]
            if rel in names:
                continue
        out.append((rel, data))
    return sorted(out, key=lambda item: item[0])


def build_package(folder, out_dir) -> Path:
    """Validate the package in ``folder`` and write ``out_dir/<id>.tar.gz``; return its path."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise DescriptorError(str(folder), "(top)", "not a package folder")
    pkg = load_package(folder)
    problems = schema_errors(pkg.kind, pkg.descriptor, pkg.source)
    if problems:
        raise problems[0]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    top = folder.name
    files = _osm_layout([(p.relative_to(folder).as_posix(), p.read_bytes()) for p in _files(folder)])
    checksums = "".join(f"{hashlib.md5(data).hexdigest()}  {rel}\n" for rel, data in files)
    out = out_dir / f"{pkg.id}.tar.gz"
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w") as tar:
        # a folder entry for each folder, as `osm package-build` writes them: OSM's mongo storage (osm_common
        # FsMongo) recreates a package's folders only from these entries
        folders = {top} | {f"{top}/{parent.as_posix()}" for rel, _ in files for parent in Path(rel).parents
                           if parent != Path(".")}
        for name in sorted(folders):
            _add_dir(tar, name)
        for rel, data in files:
            _add(tar, f"{top}/{rel}", data)
        _add(tar, f"{top}/{CHECKSUMS}", checksums.encode())
    return out
