"""The l2sm chart's OpenFlow PKI: a CA generated once and kept on upgrade, the controller's certificate, and each
switch pod's init step that signs a certificate for its own node, which the real controller then accepts for that
node's dpid only."""
from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys

from cryptography import x509

from osm_l2sm.protocol import dpid_for
from tests.controllers import controller_process
from tests.k8s.test_chart_install import BASE_VALUES, by_kind_name, helm_ok, release  # noqa: F401 (fixture)
from tests.k8s.test_charts import CHARTS_DIR, FIELD_SAMPLES, cli_runs, pod_containers, render
from tests.openflow_impostor import Impostor


def _secret(objects, name: str) -> dict:
    return next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == name)["data"]


def _write(folder, data: dict) -> dict:
    paths = {}
    for key, value in data.items():
        path = folder / key
        path.write_bytes(base64.b64decode(value))
        paths[key] = str(path)
    return paths


def test_ca_key_is_mounted_only_where_switch_certificates_are_signed(helm):
    objects = render(helm, "l2sm", "l2sm", "l2sm-system")
    holders = []
    for where, container in pod_containers(objects):
        obj = next(o for o in objects if f"{o['kind']} {o['metadata']['name']}" == where.split("/")[0])
        volumes = {v["name"]: v for v in obj["spec"]["template"]["spec"].get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            if volumes.get(mount["name"], {}).get("secret", {}).get("secretName") == "l2sm-switch-ca":
                holders.append(where)
    assert holders == ["DaemonSet l2sm-switch/switch-cert"]


def test_controller_serves_openflow_over_tls_with_a_certificate_of_the_ca(helm):
    objects = render(helm, "l2sm", "l2sm", "l2sm-system")
    ca = x509.load_pem_x509_certificate(base64.b64decode(_secret(objects, "l2sm-switch-ca")["ca.crt"]))
    tls = _secret(objects, "l2sm-controller-tls")
    assert base64.b64decode(tls["ca.crt"]) == base64.b64decode(_secret(objects, "l2sm-switch-ca")["ca.crt"])
    x509.load_pem_x509_certificate(base64.b64decode(tls["tls.crt"])).verify_directly_issued_by(ca)
    controller = next(argv for where, _, argv, _, _ in cli_runs(objects) if where.startswith("Deployment l2sm-controller"))
    assert controller[controller.index("--of-tls-ca") + 1] == "/etc/l2sm/tls/ca.crt"
    switch = next(argv for where, _, argv, _, _ in cli_runs(objects)
                  if where == "DaemonSet l2sm-switch/switch" and argv[:2] == ["switch", "up"])
    assert switch[switch.index("--controller") + 1].startswith("ssl:")


def test_switch_init_step_signs_its_nodes_certificate_and_the_controller_binds_it(helm, tmp_path):
    """The chart's own CA and controller certificate, and the init step's command line run for real; a switch with
    that certificate is accepted for its node's dpid and refused for another's."""
    objects = render(helm, "l2sm", "l2sm", "l2sm-system")
    ca_dir, tls_dir, out = tmp_path / "ca", tmp_path / "tls", tmp_path / "switch"
    ca_dir.mkdir(), tls_dir.mkdir()
    _write(ca_dir, _secret(objects, "l2sm-switch-ca"))
    controller_tls = _write(tls_dir, _secret(objects, "l2sm-controller-tls"))
    argv = next(argv for where, _, argv, _, _ in cli_runs(objects) if where == "DaemonSet l2sm-switch/switch-cert")
    argv = [str(ca_dir / os.path.basename(a)) if a.startswith("/etc/l2sm/ca/") else
            str(out) if a == "/etc/l2sm/tls" else a for a in argv]
    done = subprocess.run([sys.executable, "-m", "osm_l2sm", *argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    node = FIELD_SAMPLES["spec.nodeName"]
    cert = x509.load_pem_x509_certificate((out / "switch.pem").read_bytes())
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == node
    assert stat.S_IMODE(os.stat(out / "switch.key").st_mode) == 0o600
    switch_tls = (str(out / "switch.key"), str(out / "switch.pem"), str(out / "ca.pem"))

    proc = controller_process(tmp_path, tls=(controller_tls["tls.key"], controller_tls["tls.crt"],
                                             controller_tls["ca.crt"]))
    with proc:
        port = int(proc.of_listen.rpartition(":")[2])
        impostor = Impostor("127.0.0.1", port, dpid_for("node-2"), tls=switch_tls)
        try:
            assert not impostor.handshake_and_hold(), f"{node}'s certificate was accepted for node-2's dpid"
        finally:
            impostor.close()
        switch = Impostor("127.0.0.1", port, dpid_for(node), tls=switch_tls)
        try:
            assert switch.handshake_and_hold(2), f"{node}'s own certificate was refused"
        finally:
            switch.close()


def test_install_and_upgrade_keep_the_openflow_ca(kube_api, helm, helm_env, k8s_namespace, release):  # noqa: F811
    chart = str(CHARTS_DIR / "l2sm")
    helm_ok(helm, helm_env, "install", release, chart, "--namespace", k8s_namespace, *BASE_VALUES)
    ca = by_kind_name(kube_api, k8s_namespace, "Secret", f"{release}-switch-ca")["data"]
    tls = by_kind_name(kube_api, k8s_namespace, "Secret", f"{release}-controller-tls")["data"]
    helm_ok(helm, helm_env, "upgrade", release, chart, "--namespace", k8s_namespace, *BASE_VALUES,
            "--set", "operator.logLevel=debug")
    assert by_kind_name(kube_api, k8s_namespace, "Secret", f"{release}-switch-ca")["data"] == ca
    assert by_kind_name(kube_api, k8s_namespace, "Secret", f"{release}-controller-tls")["data"] == tls
    # without a server (helm template) each render makes a new CA: keeping it is lookup's doing
    assert _secret(render(helm, "l2sm", release, k8s_namespace), f"{release}-switch-ca")["ca.crt"] != ca["ca.crt"]
