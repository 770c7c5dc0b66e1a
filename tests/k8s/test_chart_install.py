"""The whole l2sm chart installed, upgraded and uninstalled by the real helm against the real API server.

Helm's ``lookup`` only sees objects on a real server, so this is where the generated controller token and webhook
certificate are shown to survive an upgrade. There is no kubelet: objects are stored, nothing runs (no --wait).
"""
from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from tests.k8s.test_charts import CHARTS_DIR, render

CRDS = ("l2networks.l2sm.l2sm.k8s.local", "overlays.l2sm.l2sm.k8s.local", "networkedgedevices.l2sm.l2sm.k8s.local")
# The webhook has no running operator behind it here; Ignore keeps labelled pods of other tests in this session
# creatable while the release exists.
BASE_VALUES = ["--set", "operator.webhook.failurePolicy=Ignore"]


def helm_ok(helm: str, env: dict, *args: str) -> str:
    done = subprocess.run([helm, *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, f"helm {' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.fixture
def release(helm, helm_env, k8s_namespace):
    """A unique release name in a fresh namespace; uninstalled afterwards even when the test failed."""
    name = f"l2sm-{k8s_namespace[2:]}"
    yield name
    subprocess.run([helm, "uninstall", name, "--namespace", k8s_namespace, "--ignore-not-found"],
                   capture_output=True, env=helm_env, timeout=300)


def release_objects(helm: str, env: dict, release: str, namespace: str) -> list[dict]:
    manifest = helm_ok(helm, env, "get", "manifest", release, "--namespace", namespace)
    return [doc for doc in yaml.safe_load_all(manifest) if doc]


def read(kube_api, obj: dict, namespace: str) -> dict | None:
    """The object as the API server holds it, or None when it is not there."""
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import NotFoundError

    resource = DynamicClient(kube_api.client()).resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    try:
        found = resource.get(name=obj["metadata"]["name"], namespace=namespace if resource.namespaced else None)
    except NotFoundError:
        return None
    return found.to_dict()


def by_kind_name(kube_api, namespace: str, kind: str, name: str, api_version: str = "v1") -> dict:
    found = read(kube_api, {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}, namespace)
    assert found is not None, f"{kind} {name} missing"
    return found


def pod_argv(deployment: dict) -> list[str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return container["command"] + container["args"]


def test_install_upgrade_keeps_generated_secrets_and_uninstall_removes_what_it_made(kube_api, helm, helm_env,
                                                                                    k8s_namespace, release):
    chart = str(CHARTS_DIR / "l2sm")
    helm_ok(helm, helm_env, "install", release, chart, "--namespace", k8s_namespace, *BASE_VALUES)

    made = release_objects(helm, helm_env, release, k8s_namespace)
    kinds = {o["kind"] for o in made}
    assert {"Deployment", "DaemonSet", "Service", "Secret", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
            "MutatingWebhookConfiguration"} <= kinds
    for obj in made:
        assert read(kube_api, obj, k8s_namespace) is not None, f"{obj['kind']} {obj['metadata']['name']} not stored"
    for crd in CRDS:  # from the chart's crds/ folder
        by_kind_name(kube_api, "", "CustomResourceDefinition", crd, "apiextensions.k8s.io/v1")

    token_secret = f"{release}-controller-token"
    tls_secret = f"{release}-webhook-tls"
    webhook_name = f"{release}-pods"
    admission = "admissionregistration.k8s.io/v1"
    token = by_kind_name(kube_api, k8s_namespace, "Secret", token_secret)["data"]["token"]
    tls = by_kind_name(kube_api, k8s_namespace, "Secret", tls_secret)["data"]
    ca_bundle = by_kind_name(kube_api, "", "MutatingWebhookConfiguration", webhook_name,
                             admission)["webhooks"][0]["clientConfig"]["caBundle"]
    assert ca_bundle == tls["ca.crt"]
    # Without a server (helm template) the chart generates new ones each time: keeping them is lookup's doing.
    offline = render(helm, "l2sm", release, k8s_namespace)
    assert next(o for o in offline if o["kind"] == "Secret" and o["metadata"]["name"] == token_secret
                )["data"]["token"] != token

    helm_ok(helm, helm_env, "upgrade", release, chart, "--namespace", k8s_namespace, *BASE_VALUES,
            "--set", "controller.restPort=8282", "--set", "operator.logLevel=debug")
    status = json.loads(helm_ok(helm, helm_env, "status", release, "--namespace", k8s_namespace, "-o", "json"))
    assert (status["version"], status["info"]["status"]) == (2, "deployed")
    assert by_kind_name(kube_api, k8s_namespace, "Secret", token_secret)["data"]["token"] == token
    assert by_kind_name(kube_api, k8s_namespace, "Secret", tls_secret)["data"] == tls
    webhook = by_kind_name(kube_api, "", "MutatingWebhookConfiguration", webhook_name, admission)
    assert webhook["webhooks"][0]["clientConfig"]["caBundle"] == ca_bundle
    # ... and the changed values are applied
    controller = by_kind_name(kube_api, k8s_namespace, "Deployment", f"{release}-controller", "apps/v1")
    assert "0.0.0.0:8282" in pod_argv(controller)
    operator = pod_argv(by_kind_name(kube_api, k8s_namespace, "Deployment", f"{release}-operator", "apps/v1"))
    assert operator[:4] == ["osm-l2sm", "--verbose", "operator", "run"]
    assert f"http://{release}-controller.{k8s_namespace}.svc:8282" in operator
    service = by_kind_name(kube_api, k8s_namespace, "Service", f"{release}-controller")
    assert 8282 in [p["port"] for p in service["spec"]["ports"]]

    made = release_objects(helm, helm_env, release, k8s_namespace)
    helm_ok(helm, helm_env, "uninstall", release, "--namespace", k8s_namespace)
    left = [f"{o['kind']} {o['metadata']['name']}" for o in made if read(kube_api, o, k8s_namespace) is not None]
    assert left == []
    for crd in CRDS:  # Helm never deletes the CRDs of crds/: the networks users made stay
        by_kind_name(kube_api, "", "CustomResourceDefinition", crd, "apiextensions.k8s.io/v1")
    listed = json.loads(helm_ok(helm, helm_env, "list", "--namespace", k8s_namespace, "-o", "json"))
    assert listed == []
