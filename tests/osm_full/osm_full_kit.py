"""OSM release 19 run whole on loopback: NBI, LCM and NG-RO, each from its own entry point (``python -m
osm_nbi.nbi -c nbi.cfg``, ``python -m osm_lcm.lcm -c lcm.cfg``, ``python -m osm_ng_ro.ro_main -c ro.cfg``) with its
stock configuration file rewritten for here, sharing one FerretDB (MongoDB wire protocol on SQLite) for records and
packages (OSM's ``mongo`` storage driver, GridFS), and OSM's local message bus (``msglocal``: one file per topic in a
folder the three share). Every process is started in a session of its own and stopped by its pid.

The work folder is the OSM kit's ``setup-osm-tier --with-lcm`` (CPython 3.10) made in
``${OSM_L2SM_CACHE}/osm-full``, plus LCM's own ``requirements.txt`` (less its paramiko pin: RO's is kept) and NG-RO's
two missing requirements; OSM's sources are copied to ``osm-full/patched`` and the patches in ``patches/`` applied
(docs/osm.md says why each is needed). FerretDB is ``scripts/build-ferretdb``'s binary.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from osm_l2sm.processes import pid_alive, stop_process, wait_until

from tests.conftest import unavailable
from tests.ports import free_port

from osm_real_kit import CACHE, REPO, SETUP_TIMEOUT, kit_dir, lcm_python

WORK = CACHE / "osm-full"
PATCHES = Path(__file__).with_name("patches")
FERRETDB = CACHE / "bin" / "ferretdb"
START_TIMEOUT = 180.0  # seconds for the three to come up on a busy two-core machine
EXTRA = ["logutils", "importlib-metadata"]  # NG-RO's requirements.in that LCM's and NBI's do not bring
COMMON_KEY = "osm-l2sm-full"  # database.commonkey: the three decrypt each other's secrets (VIM passwords)


def _digest(*paths: Path) -> str:
    sha = hashlib.sha256()
    for path in paths:
        for item in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if item.is_file():
                sha.update(item.name.encode() + item.read_bytes())
    return sha.hexdigest()


def _run(cmd: list, log: Path, what: str, **kwargs) -> None:
    with open(log, "ab") as out:
        done = subprocess.run([str(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT, timeout=SETUP_TIMEOUT,
                              check=False, **kwargs)
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}); see {log}", pytrace=False)


def prepare_full_osm() -> dict:
    """The work folder ready (idempotent, stamped by what it is made from): ``{"work", "python", "src", "kit"}``."""
    kit = kit_dir()
    if kit is None:
        unavailable("needs OSM's release-19 sources: set OSM_L2SM_OSM_KIT (see docs/osm.md)")
    python = lcm_python()
    if python is None:
        unavailable("needs CPython 3.10 for OSM LCM's code (set OSM_L2SM_LCM_PYTHON or put python3.10 on PATH)")
    if not FERRETDB.is_file():
        unavailable(f"needs FerretDB at {FERRETDB} (scripts/build-ferretdb, run by scripts/install-deps --k8s)")
    log = CACHE / "osm-full-setup.log"
    _run([kit / "setup-osm-tier", WORK, "--with-lcm"], log, f"setup-osm-tier {WORK} --with-lcm",
         env=dict(os.environ, OSM_PYTHON=python))
    venv_python = WORK / "venv" / "bin" / "python"
    lcm_src = WORK / "src" / "osm-nbi-lcm-v19" / "LCM"
    stamp, want = WORK / ".osm-l2sm-full", _digest(PATCHES, kit / "src" / "SHA256SUMS", lcm_src / "requirements.txt")
    patched = WORK / "patched"
    if not (stamp.is_file() and stamp.read_text() == want):
        requirements = [line for line in (lcm_src / "requirements.txt").read_text().splitlines()
                        if re.match(r"^[A-Za-z]", line) and not line.startswith("paramiko")]
        _run([venv_python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements, *EXTRA], log,
             "installing LCM's requirements")
        shutil.rmtree(patched, ignore_errors=True)
        patched.mkdir()
        for src in ("osm-nbi-lcm-v19/NBI", "osm-nbi-lcm-v19/LCM", "osm-ro-v17/NG-RO"):
            shutil.copytree(WORK / "src" / src, patched / Path(src).name, symlinks=True)
        shutil.copytree(WORK / "common" / "osm_common", patched / "common" / "osm_common", symlinks=True)
        for patch in sorted(PATCHES.glob("*.patch")):
            _run(["patch", "-p1", "-d", patched, "-i", patch], log, f"applying {patch.name}")
        stamp.write_text(want)
    return {"work": WORK, "python": venv_python, "src": patched, "kit": kit}


@dataclass
class Proc:
    name: str
    pid: int
    log: Path


@dataclass
class FullOsm:
    """One running OSM: its folder, its NBI URL, and its processes (FerretDB, NBI, RO, LCM)."""
    run: Path
    nbi_port: int
    ro_port: int
    db_port: int
    procs: list[Proc] = field(default_factory=list)
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nbi_port}/osm"

    @property
    def db(self) -> dict:
        """The ``database`` section the three share."""
        return {"driver": "mongo", "uri": f"mongodb://127.0.0.1:{self.db_port}/", "name": "osm", "commonkey": COMMON_KEY}

    def log(self, name: str) -> Path:
        return self.run / f"{name}.log"


def _start(osm: FullOsm, name: str, cmd: list, cwd: Path, env: dict) -> Proc:
    log = osm.log(name)
    with open(log, "ab") as out:
        proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    started = Proc(name, proc.pid, log)
    osm.procs.append(started)
    return started


def _wait(osm: FullOsm, proc: Proc, ready, what: str) -> None:
    """Until ``ready()``; if the process ends first or it takes too long, all of ``osm`` is stopped and the test fails
    with the end of the process's log."""
    def started() -> str | None:
        if ready():
            return "ready"
        return None if pid_alive(proc.pid) else "exited"

    if wait_until(started, START_TIMEOUT, 0.3) == "ready":
        return
    tail = proc.log.read_text(errors="replace")[-3000:] if proc.log.is_file() else ""
    stop_full_osm(osm)
    pytest.fail(f"{what} did not start; see {proc.log}:\n{tail}", pytrace=False)


def _listening(port: int) -> bool:
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _ini(text: str, section: str, settings: dict) -> str:
    """``text`` (a cherrypy config file) with ``settings`` replacing (or added to) ``[section]``."""
    lines, current, done = [], None, set()
    for line in text.splitlines():
        header = re.match(r"^\[(.+)\]\s*$", line)
        if header:
            if current == section:
                lines[-1:-1] = [f"{k}: {v}" for k, v in settings.items() if k not in done]
                done.update(settings)
            current = header.group(1)
        key = re.match(r"^([A-Za-z_.]+)\s*[:=]", line)
        if current == section and key and key.group(1) in settings:
            line = f"{key.group(1)}: {settings[key.group(1)]}"
            done.add(key.group(1))
        lines.append(line)
    if current == section:
        lines += [f"{k}: {v}" for k, v in settings.items() if k not in done]
    assert set(settings) <= done | set(settings), section
    return "\n".join(lines) + "\n"


def _cherrypy_cfg(stock: Path, port: int, db: dict, storage: dict, bus: Path, group: str, static: Path) -> str:
    text = stock.read_text()
    quoted = lambda v: f'"{v}"' if isinstance(v, str) else v  # noqa: E731
    text = _ini(text, "global", {"server.socket_host": '"127.0.0.1"', "server.socket_port": port,
                                 "engine.autoreload.on": "False", "log.level": '"INFO"'})
    text = _ini(text, "/static", {"tools.staticdir.dir": f'"{static}"'})
    text = _ini(text, "database", {k: quoted(v) for k, v in db.items()})
    text = _ini(text, "storage", {k: quoted(v) for k, v in storage.items()})
    return _ini(text, "message", {"driver": '"local"', "path": f'"{bus}"', "group_id": f'"{group}"'})


def unreachable_kubeconfig(path: Path) -> Path:
    """A kubeconfig file of a cluster that is not there (nothing listens on its port)."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "none",
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
        "users": [{"name": "none", "user": {"token": "none"}}]}))
    return path


def start_full_osm(setup: dict, run: Path) -> FullOsm:
    """FerretDB, then NBI and NG-RO; returns once both listen. LCM comes next, from :func:`start_lcm`."""
    osm = FullOsm(run, free_port(), free_port(), free_port())
    src, python = setup["src"], setup["python"]
    db_dir, bus = run / "ferretdb", run / "bus"
    for folder in (db_dir, bus, run / "nbi-storage", run / "lcm-storage", run / "ro-storage"):
        folder.mkdir(parents=True, exist_ok=True)
    uri = f"mongodb://127.0.0.1:{osm.db_port}/"
    ferret = _start(osm, "ferretdb", [FERRETDB, "--handler=sqlite", f"--sqlite-url=file:{db_dir}/",
                                      f"--listen-addr=127.0.0.1:{osm.db_port}", "--telemetry=disable",
                                      "--log-level=warn", f"--state-dir={db_dir}"], run, dict(os.environ))
    _wait(osm, ferret, lambda: _listening(osm.db_port), "FerretDB")
    db = osm.db
    path = ":".join(str(p) for p in (src / "NBI", src / "LCM", src / "NG-RO", src / "common"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSMNBI_", "OSMLCM_", "OSMRO_"))}
    env["PYTHONPATH"] = path
    osm.env = env

    nbi_cfg = run / "nbi.cfg"
    text = _cherrypy_cfg(src / "NBI" / "osm_nbi" / "nbi.cfg", osm.nbi_port, db,
                         {"driver": "mongo", "path": str(run / "nbi-storage"), "uri": uri, "collection": "files"},
                         bus, "nbi-server", src / "NBI" / "osm_nbi" / "html_public")
    text = _ini(text, "authentication", {"backend": '"internal"'})
    nbi_cfg.write_text(re.sub(r"^email_template = .*$",
                              f'email_template = "{src}/NBI/osm_nbi/templates/email_template.html"', text,
                              flags=re.M))
    nbi = _start(osm, "nbi", [python, "-m", "osm_nbi.nbi", "-c", nbi_cfg], src / "NBI" / "osm_nbi", env)

    ro_cfg = run / "ro.cfg"
    ro_cfg.write_text(_ini(_cherrypy_cfg(src / "NG-RO" / "osm_ng_ro" / "ro.cfg", osm.ro_port, db,
                                    {"driver": "mongo", "path": str(run / "ro-storage"), "uri": uri,
                                     "collection": "files"}, bus, "ro-server",
                                    src / "NG-RO" / "osm_ng_ro" / "html_public"),
                           "global", {"log.file": f'"{run / "ro-app.log"}"', "log.level": '"DEBUG"'}))  # RO's logger
    ro = _start(osm, "ro", [python, "-m", "osm_ng_ro.ro_main", "-c", ro_cfg], src / "NG-RO" / "osm_ng_ro", env)

    _wait(osm, nbi, lambda: _listening(osm.nbi_port), "OSM NBI")
    _wait(osm, ro, lambda: _listening(osm.ro_port), "OSM NG-RO")
    return osm


def start_lcm(osm: FullOsm, setup: dict, bin_dir: Path, wrap: list | None = None, env: dict | None = None) -> None:
    """LCM with ``helm`` and ``kubectl`` from ``bin_dir``; ``wrap`` is put before its command (a network or mount
    namespace), ``env`` added to its environment. Returns once LCM has read its own ping back from the bus."""
    src, python, run = setup["src"], setup["python"], osm.run
    env = dict(osm.env, PATH=f"{bin_dir}:{osm.env.get('PATH', '')}", **(env or {}))
    db = osm.db
    uri = db["uri"]
    lcm_cfg = run / "lcm.cfg"
    cfg = yaml.safe_load((src / "LCM" / "osm_lcm" / "lcm.cfg").read_text())
    helm = shutil.which("helm", path=env["PATH"]) or "/usr/local/bin/helm"
    kubectl = shutil.which("kubectl", path=env["PATH"]) or "/usr/bin/kubectl"
    cfg["global"].update(loglevel="DEBUG", logfile=None, nologging=False)
    cfg["RO"] = {"host": "127.0.0.1", "port": osm.ro_port, "tenant": "osm", "loglevel": "DEBUG"}
    cfg["VCA"].update(helmpath=helm, helm3path=helm, kubectlpath=kubectl)
    cfg["database"] = dict(db)
    cfg["storage"] = {"driver": "mongo", "path": str(run / "lcm-storage"), "uri": uri, "collection": "files"}
    cfg["message"] = {"driver": "local", "path": str(run / "bus"), "group_id": "lcm-server"}
    cfg.pop("tsdb", None)
    # LCM's gitops (cluster management through a management cluster, not used by NS operations) loads this file
    # at start: a kubeconfig of a cluster that is not there
    mgmt = unreachable_kubeconfig(run / "no-mgmt-cluster.yaml")
    cfg["gitops"].update(mgmtcluster_kubeconfig=str(mgmt), git_base_url="http://127.0.0.1:1/",  # and repositories
                         fleet_repo_url="http://127.0.0.1:1/fleet.git",  # LCM builds URLs from at start
                         sw_catalogs_repo_url="http://127.0.0.1:1/sw-catalogs.git")
    lcm_cfg.write_text(yaml.safe_dump(cfg))
    lcm = _start(osm, "lcm", [*(wrap or []), python, "-m", "osm_lcm.lcm", "-c", lcm_cfg], src / "LCM", env)
    # LCM pings itself over the bus once its reader runs: its own ping read back means the bus works
    _wait(osm, lcm, lambda: b"Topic: admin command: ping" in lcm.log.read_bytes(), "OSM LCM")


def stop_full_osm(osm: FullOsm) -> None:
    """Each process by its pid, newest first: SIGTERM, then SIGKILL after a few seconds (NBI's subscription thread
    and RO's workers notice a SIGTERM only between sleeps; FerretDB's SQLite files lose nothing)."""
    for proc in reversed(osm.procs):
        stop_process(proc.pid, grace=5.0, kill_wait=10.0, group=True)
    osm.procs.clear()


__all__ = ["REPO", "FullOsm", "prepare_full_osm", "start_full_osm", "start_lcm", "stop_full_osm",
           "unreachable_kubeconfig"]
