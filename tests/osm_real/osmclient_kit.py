"""OSM's own client (the ``osm`` CLI of osmclient 8.0, from the OSM kit's tarball) run against the kit's real NBI.

osmclient always speaks ``https://HOST:PORT/osm`` and NBI here serves plain HTTP, so :class:`TlsFront` terminates
TLS on a loopback port (a self-signed certificate: osmclient does not verify peers) and relays to NBI.
osmclient goes into a venv of its own (``${OSM_L2SM_CACHE}/osmclient-venv``, made from the kit venv's Python), its
PyPI dependencies installed there and the kit's OSM IM bindings reached through a ``.pth`` file; its ``setup.py``
takes the version from ``git describe``, so the copy installed gets a plain version instead.
"""
from __future__ import annotations

import datetime
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import tarfile
import tempfile
import threading
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.ports import free_port

from osm_real_kit import CACHE, SETUP_TIMEOUT

TARBALL = "osmclient-v8.0.1-7-g7b6400a.tar.gz"
VERSION = "8.0.1.post7"
DEPENDENCIES = ["Click", "prettytable", "PyYAML", "pycurl", "python-magic", "jinja2", "verboselogs", "packaging",
                "ruamel.yaml", "requests", "setuptools", "wheel"]  # its requirements.txt less the OSM IM git URL; build tools


def prepare_osmclient(osm_tier: dict) -> Path:
    """The ``osm`` script of osmclient installed from the kit's tarball (idempotent, keyed by the tarball's hash)."""
    tarball = osm_tier["kit"] / "src" / TARBALL
    if not tarball.is_file():
        unavailable(f"needs osmclient's tarball {tarball} (the OSM kit's src/)")
    venv = CACHE / "osmclient-venv"
    stamp = venv / ".osm-l2sm-stamp"
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest:
        return venv / "bin" / "osm"
    shutil.rmtree(venv, ignore_errors=True)
    log = CACHE / "osmclient-setup.log"
    site = subprocess.run([str(osm_tier["python"]), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="osmclient-src-") as src, open(log, "wb") as out:
        with tarfile.open(tarball) as tar:
            tar.extractall(src, filter="data")
        (top,) = Path(src).iterdir()
        setup = (top / "setup.py").read_text()
        setup = setup.replace("version_command=('git describe --match v* --tags --long --dirty',\n"
                              "                     'pep440-git-full'),", f"version='{VERSION}',")
        setup = setup.replace("setup_requires=['setuptools-version-command'],", "")
        (top / "setup.py").write_text(setup)
        steps = [[str(osm_tier["python"]), "-m", "venv", str(venv)],
                 [str(venv / "bin" / "pip"), "install", "-q", *DEPENDENCIES],
                 [str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--no-build-isolation", str(top)]]
        for step in steps:
            done = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, timeout=SETUP_TIMEOUT, check=False)
            if done.returncode != 0:
                pytest.fail(f"installing osmclient failed at {' '.join(step[:3])}; see {log}", pytrace=False)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # the kit venv's packages after the venv's own: osm_im (and the kit's .pth that puts its bindings on the path)
    Path(purelib, "osm-kit.pth").write_text(f"import site; site.addsitedir({site!r})\n")
    check = subprocess.run([str(venv / "bin" / "osm"), "--help"], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        pytest.fail(f"the installed osmclient does not start: {check.stderr[-2000:]}", pytrace=False)
    stamp.write_text(digest)
    return venv / "bin" / "osm"


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "front.crt", folder / "front.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class TlsFront:
    """A TLS-terminating relay on ``127.0.0.1:port`` to a plain-HTTP backend port, one thread pair per connection."""

    def __init__(self, backend_port: int, folder: Path):
        self.backend_port = backend_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(*_self_signed(folder))
        self.listener = socket.create_server(("127.0.0.1", free_port()))
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
            backend = socket.create_connection(("127.0.0.1", self.backend_port))
        except (OSError, ssl.SSLError):
            raw.close()
            return
        upstream = threading.Thread(target=_pump, args=(client, backend), daemon=True)
        upstream.start()
        _pump(backend, client)
        upstream.join(timeout=5)
        for sock in (client, backend):
            sock.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(timeout=5)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    if not isinstance(dst, ssl.SSLSocket):  # SSLSocket.shutdown drops its TLS state for both directions
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def run_osm(osm_script: Path, front: TlsFront, *args: str) -> subprocess.CompletedProcess:
    """``osm --hostname 127.0.0.1:<front> ARGS``: osmclient's own CLI against the real NBI behind the front."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSM_")}
    return subprocess.run([str(osm_script), "--hostname", f"127.0.0.1:{front.port}", *args], capture_output=True,
                          text=True, timeout=300, check=False, env=env)
