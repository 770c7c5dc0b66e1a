"""Fixtures of the Kubernetes test tier: a real etcd + kube-apiserver on loopback and a real ``helm``.

The envtest pattern: no kubelet, scheduler or controller-manager, so pods are stored but never run, and nothing
creates service accounts or finalizes namespaces on its own. The binaries come from ``scripts/build-k8s-test-bins``
(``${OSM_L2SM_CACHE:-~/.cache/osm-l2sm}/bin``, then ``PATH``); when they are missing the tier skips, or fails
under ``CI=true``. Tests that only render charts (``helm template``, ``helm lint``) need only ``helm``.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

from osm_l2sm.k8s.crds import load_manifests
from osm_l2sm.processes import wait_until
from tests.ports import free_port

from tests.conftest import unavailable

K8S_BINARIES = ("kube-apiserver", "etcd", "helm")
ADMIN_USER = "osm-l2sm-test-admin"
START_TIMEOUT = 120.0  # seconds for etcd and the API server to become ready on a busy two-core machine


def k8s_bin_dir() -> Path:
    return Path(os.environ.get("OSM_L2SM_CACHE", Path.home() / ".cache" / "osm-l2sm")) / "bin"


def find_k8s_bins() -> dict[str, str]:
    """Paths of the binaries the tier needs, from the build cache first, then PATH; missing ones are left out."""
    found = {}
    for name in K8S_BINARIES:
        cached = k8s_bin_dir() / name
        path = str(cached) if os.access(cached, os.X_OK) else shutil.which(name)
        if path:
            found[name] = path
    return found


def required_bins(names) -> dict[str, str]:
    """The paths of ``names`` (skipping the test, or failing it under CI, when one is missing)."""
    bins = find_k8s_bins()
    missing = [name for name in names if name not in bins]
    if missing:
        unavailable(f"needs {', '.join(missing)} (build them once with scripts/build-k8s-test-bins)")
    return bins


@pytest.fixture(scope="session")
def k8s_bins() -> dict[str, str]:
    return required_bins(K8S_BINARIES)


# --- certificates -----------------------------------------------------------------------------------------------

def _write_key(path: Path, key) -> None:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))


def write_test_pki(cert_dir: Path) -> dict[str, Path]:
    """A throw-away CA, a serving certificate for 127.0.0.1/localhost, and the service-account key pair."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    valid = dict(not_valid_before=now - datetime.timedelta(minutes=5), not_valid_after=now + datetime.timedelta(days=2))

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = (x509.CertificateBuilder().subject_name(name("osm-l2sm-test-ca")).issuer_name(name("osm-l2sm-test-ca"))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(valid["not_valid_before"]).not_valid_after(valid["not_valid_after"])
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False, decipher_only=False),
                              critical=True)
               .sign(ca_key, hashes.SHA256()))
    server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sans = [x509.DNSName("localhost"), x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default.svc"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server_cert = (x509.CertificateBuilder().subject_name(name("kube-apiserver")).issuer_name(ca_cert.subject)
                   .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(valid["not_valid_before"]).not_valid_after(valid["not_valid_after"])
                   .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .sign(ca_key, hashes.SHA256()))
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    paths = {name: cert_dir / name for name in ("ca.crt", "ca.key", "server.crt", "server.key", "sa.key", "sa.pub")}
    paths["ca.crt"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(paths["ca.key"], ca_key)
    paths["server.crt"].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(paths["server.key"], server_key)
    _write_key(paths["sa.key"], sa_key)
    paths["sa.pub"].write_bytes(sa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
    return paths


# --- processes --------------------------------------------------------------------------------------------------

def stop_process(proc: subprocess.Popen | None, timeout: float = 15.0) -> None:
    """SIGTERM the process we started (by its own pid), SIGKILL when it does not go."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until_ready(proc: subprocess.Popen, log: Path, url: str, what: str, **request_args) -> None:
    last = "no answer"

    def ready() -> bool:
        nonlocal last
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}:\n{_tail(log)}")
        try:
            answer = requests.get(url, timeout=5, **request_args)
        except requests.RequestException as err:
            last = str(err)
            return False
        last = f"HTTP {answer.status_code}: {answer.text[:200]}"
        return answer.status_code == 200

    if wait_until(ready, START_TIMEOUT, 0.5):
        return
    raise RuntimeError(f"{what} not ready at {url} after {START_TIMEOUT:.0f}s ({last}):\n{_tail(log)}")


@dataclass
class KubeApi:
    """A running kube-apiserver for tests: where it is and how to reach it as a cluster admin."""

    url: str
    token: str
    ca_file: str
    kubeconfig: str
    workdir: Path
    _clients: list = field(default_factory=list, repr=False)

    def client(self):
        """A ``kubernetes.client.ApiClient`` for the admin user (closed at session end)."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        configuration.ssl_ca_cert = self.ca_file
        configuration.api_key = {"authorization": self.token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        api_client = client.ApiClient(configuration)
        self._clients.append(api_client)
        return api_client

    def close(self) -> None:
        for api_client in self._clients:
            api_client.close()
        self._clients.clear()


def write_kubeconfig(path: Path, url: str, ca_file: Path, token: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "osm-l2sm-test", "cluster": {"server": url, "certificate-authority": str(ca_file)}}],
        "users": [{"name": ADMIN_USER, "user": {"token": token}}],
        "contexts": [{"name": "osm-l2sm-test",
                      "context": {"cluster": "osm-l2sm-test", "user": ADMIN_USER, "namespace": "default"}}],
        "current-context": "osm-l2sm-test",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)


def start_etcd(etcd: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    client_url = f"http://127.0.0.1:{free_port()}"
    peer_url = f"http://127.0.0.1:{free_port()}"
    log = workdir / "etcd.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [etcd, "--name=test", f"--data-dir={workdir / 'etcd-data'}",
             f"--listen-client-urls={client_url}", f"--advertise-client-urls={client_url}",
             f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
             f"--initial-cluster=test={peer_url}", "--initial-cluster-state=new",
             "--unsafe-no-fsync",  # throw-away data: do not make the other tests on this machine wait on the disk
             "--log-level=warn"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_ready(proc, log, f"{client_url}/health", "etcd")
    except BaseException:
        stop_process(proc)
        raise
    return proc, client_url


def start_kube_apiserver(apiserver: str, workdir: Path, etcd_url: str, pki: dict[str, Path],
                         token: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    tokens = workdir / "tokens.csv"
    tokens.write_text(f'{token},{ADMIN_USER},{uuid.uuid4()},"system:masters"\n')
    tokens.chmod(0o600)
    log = workdir / "kube-apiserver.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [apiserver,
             f"--etcd-servers={etcd_url}", f"--etcd-prefix=/osm-l2sm-{uuid.uuid4().hex[:8]}",
             "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={port}",
             f"--cert-dir={workdir / 'certs'}",
             f"--tls-cert-file={pki['server.crt']}", f"--tls-private-key-file={pki['server.key']}",
             f"--client-ca-file={pki['ca.crt']}",
             f"--token-auth-file={tokens}",
             "--authorization-mode=RBAC",
             f"--service-account-key-file={pki['sa.pub']}",
             f"--service-account-signing-key-file={pki['sa.key']}",
             "--service-account-issuer=https://kubernetes.default.svc",
             "--service-cluster-ip-range=10.96.0.0/24",
             "--allow-privileged=true",  # the switch DaemonSet of the l2sm chart is privileged
             # No controller-manager runs here to create each namespace's "default" service account; without it
             # this admission plugin would refuse every pod.
             "--disable-admission-plugins=ServiceAccount",
             "--anonymous-auth=false",
             "--v=1"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_ready(proc, log, f"{url}/readyz", "kube-apiserver", verify=str(pki["ca.crt"]),
                         headers={"Authorization": f"Bearer {token}"})
    except BaseException:
        stop_process(proc)
        raise
    return proc, url


@pytest.fixture(scope="session")
def kube_api(k8s_bins):
    """etcd + kube-apiserver on 127.0.0.1 (free ports, RBAC, static admin token); stopped at session end."""
    workdir = Path(tempfile.mkdtemp(prefix="osm-l2sm-kube-"))
    etcd_proc = apiserver_proc = None
    api = None
    try:
        (workdir / "certs").mkdir()
        pki = write_test_pki(workdir / "certs")
        token = uuid.uuid4().hex
        etcd_proc, etcd_url = start_etcd(k8s_bins["etcd"], workdir)
        apiserver_proc, url = start_kube_apiserver(k8s_bins["kube-apiserver"], workdir, etcd_url, pki, token)
        kubeconfig = workdir / "kubeconfig"
        write_kubeconfig(kubeconfig, url, pki["ca.crt"], token)
        api = KubeApi(url=url, token=token, ca_file=str(pki["ca.crt"]), kubeconfig=str(kubeconfig), workdir=workdir)
        yield api
    finally:
        if api is not None:
            api.close()
        stop_process(apiserver_proc)
        stop_process(etcd_proc)
        shutil.rmtree(workdir, ignore_errors=True)


# --- helm ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def helm() -> str:
    """Only helm: rendering a chart needs no API server."""
    return required_bins(("helm",))["helm"]


@pytest.fixture(scope="session")
def helm_env(kube_api) -> dict[str, str]:
    """The environment for running ``helm`` against ``kube_api`` with its own cache, config and data dirs."""
    home = kube_api.workdir / "helm"
    env = dict(os.environ)
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        path = home / var.split("_")[1].lower()
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    env["KUBECONFIG"] = kube_api.kubeconfig
    return env


@pytest.fixture
def helm_client(helm, helm_env, kube_api, monkeypatch):
    """A ``pyhelm3.Client`` driving the real helm against ``kube_api`` (helm's dirs from ``helm_env``)."""
    from pyhelm3 import Client

    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "KUBECONFIG"):
        monkeypatch.setenv(var, helm_env[var])
    return Client(executable=helm, kubeconfig=Path(kube_api.kubeconfig), default_timeout="2m")


# --- namespaces ---------------------------------------------------------------------------------------------------

def delete_namespace(api_client, name: str) -> None:
    """Delete a namespace and finish it at once: with no namespace controller it would stay Terminating."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(api_client)
    try:
        core.delete_namespace(name)
        ns = core.read_namespace(name)
    except ApiException as err:
        if err.status == 404:
            return
        raise
    ns.spec.finalizers = []
    try:
        core.replace_namespace_finalize(name, ns)
    except ApiException as err:
        if err.status != 404:
            raise


@pytest.fixture
def k8s_namespace(kube_api) -> str:
    """A fresh namespace with a unique name, deleted after the test."""
    from kubernetes import client

    api_client = kube_api.client()
    name = f"t-{uuid.uuid4().hex[:10]}"
    client.CoreV1Api(api_client).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        delete_namespace(api_client, name)


@pytest.fixture(scope="session")
def l2sm_crds(kube_api) -> list[str]:
    """The l2sm chart's CRDs (crds/, which helm installs verbatim) on the API server, as they are in the chart now
    (an older copy is replaced), and established. Returns their names."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    ext = client.ApiextensionsV1Api(kube_api.client())
    crds = load_manifests(Path(__file__).resolve().parents[2] / "helm-charts" / "l2sm" / "crds")
    for crd in crds:
        try:
            ext.create_custom_resource_definition(crd)
        except ApiException as err:
            if err.status != 409:
                raise
            current = ext.read_custom_resource_definition(crd["metadata"]["name"])
            crd["metadata"]["resourceVersion"] = current.metadata.resource_version
            ext.replace_custom_resource_definition(crd["metadata"]["name"], crd)
    for crd in crds:
        for _ in range(120):
            status = ext.read_custom_resource_definition(crd["metadata"]["name"]).status
            if any(c.type == "Established" and c.status == "True" for c in status.conditions or []):
                break
            time.sleep(0.25)
        else:
            pytest.fail(f"CRD {crd['metadata']['name']} never became Established")
    return [crd["metadata"]["name"] for crd in crds]
