"""The Helm charts against a real helm and a real kube-apiserver: they lint, render, are accepted by the API server
(CR schemas included), install and uninstall, and the l2sm chart's RBAC is least privilege."""
from __future__ import annotations

import asyncio
import base64
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

CHARTS_DIR = Path(__file__).resolve().parents[2] / "helm-charts"
CHARTS = sorted(p.parent.name for p in CHARTS_DIR.glob("*/Chart.yaml"))
KNF_CHARTS = [c for c in ("content-server", "router-firewall", "cdn-cache") if c in CHARTS]
GROUP_VERSION = "l2sm.l2sm.k8s.local/v1"


def helm_run(helm: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([helm, *args], capture_output=True, text=True, env=env, timeout=120)


def render(helm: str, chart: str, release: str = "r1", namespace: str = "default", *extra: str) -> list[dict]:
    """``helm template`` of a chart (CRDs included) as a list of objects."""
    done = helm_run(helm, "template", release, str(CHARTS_DIR / chart), "--namespace", namespace,
                    "--include-crds", *extra)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def dry_run_create(kube_api, obj: dict, namespace: str) -> None:
    """Server-side dry-run create with strict field validation: unknown or misspelt fields are errors too."""
    from kubernetes.dynamic import DynamicClient

    resource = DynamicClient(kube_api.client()).resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    path = resource.path(namespace=namespace if resource.namespaced else None)
    answer = requests.post(kube_api.url + path, params={"dryRun": "All", "fieldValidation": "Strict"}, json=obj,
                           headers={"Authorization": f"Bearer {kube_api.token}"}, verify=kube_api.ca_file, timeout=30)
    assert answer.status_code == 201, f"{obj['kind']} {obj['metadata']['name']}: {answer.text}"


@pytest.fixture(scope="session")
def l2sm_crds(kube_api, helm):
    """The l2sm chart's CRDs applied to the API server (once per session) and established."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    ext = client.ApiextensionsV1Api(kube_api.client())
    crds = [o for o in render(helm, "l2sm") if o["kind"] == "CustomResourceDefinition"]
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


# --- lint and template ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chart", CHARTS)
def test_chart_lints_clean(helm, chart):
    done = helm_run(helm, "lint", "--strict", str(CHARTS_DIR / chart))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[ERROR]" not in done.stdout and "[WARNING]" not in done.stdout, done.stdout


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_renders_with_default_values(helm, chart):
    objects = render(helm, chart)
    assert objects, f"{chart} renders nothing"
    for obj in objects:
        assert obj.get("apiVersion") and obj.get("kind") and obj.get("metadata", {}).get("name"), obj


def test_l2sm_chart_renders_every_component(helm):
    kinds = {(o["kind"], o["metadata"]["name"]) for o in render(helm, "l2sm", "l2sm")}
    for expected in [("CustomResourceDefinition", "l2networks.l2sm.l2sm.k8s.local"),
                     ("CustomResourceDefinition", "overlays.l2sm.l2sm.k8s.local"),
                     ("CustomResourceDefinition", "networkedgedevices.l2sm.l2sm.k8s.local"),
                     ("Deployment", "l2sm-operator"), ("Deployment", "l2sm-controller"),
                     ("Service", "l2sm-controller"), ("DaemonSet", "l2sm-switch"), ("DaemonSet", "l2sm-cni"),
                     ("MutatingWebhookConfiguration", "l2sm-pods")]:
        assert expected in kinds


def test_l2sm_chart_values_are_checked_by_its_schema(helm):
    done = helm_run(helm, "template", "r1", str(CHARTS_DIR / "l2sm"), "--set", "controller.ofPort=70000")
    assert done.returncode != 0
    assert "ofPort" in done.stderr


def test_controller_runs_as_documented(helm):
    objects = render(helm, "l2sm", "l2sm", "l2sm-system", "--set", "controller.persistence.enabled=true")
    deployment = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "l2sm-controller")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] + container["args"] == [
        "osm-l2sm", "controller", "run", "--of-listen", "0.0.0.0:6653", "--rest-listen", "0.0.0.0:8181",
        "--state", "/var/lib/l2sm/state.json"]
    volume = deployment["spec"]["template"]["spec"]["volumes"][0]
    assert volume["persistentVolumeClaim"]["claimName"] == "l2sm-controller-state"
    assert any(o["kind"] == "PersistentVolumeClaim" for o in objects)
    token_env = {e["name"]: e for e in container["env"]}["L2SM_CONTROLLER_TOKEN"]
    assert token_env["valueFrom"]["secretKeyRef"]["name"] == "l2sm-controller-token"


def test_cni_installer_writes_the_node_file_the_plugin_reads(helm):
    objects = render(helm, "l2sm", "l2sm", "l2sm-system")
    ds = next(o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "l2sm-cni")
    init = ds["spec"]["template"]["spec"]["initContainers"][0]
    env = {e["name"]: e.get("value") for e in init["env"]}
    assert env["CONTROLLER_URL"] == "http://l2sm-controller.l2sm-system.svc:8181"
    assert env["BRIDGE"] == "br-l2sm"
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    host_paths = {v["name"]: v["hostPath"]["path"] for v in ds["spec"]["template"]["spec"]["volumes"]}
    assert host_paths[next(k for k, v in mounts.items() if v == "/host/l2sm")] == "/etc/l2sm"
    assert host_paths[next(k for k, v in mounts.items() if v == "/host/cni-bin")] == "/opt/cni/bin"
    assert "node.json" in init["args"][0]


def test_generated_webhook_certificate_is_trusted_by_the_webhook_configuration(helm):
    from cryptography import x509

    objects = render(helm, "l2sm", "l2sm", "l2sm-system")
    secret = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == "l2sm-webhook-tls")
    webhook = next(o for o in objects if o["kind"] == "MutatingWebhookConfiguration")["webhooks"][0]
    ca = x509.load_pem_x509_certificate(base64.b64decode(webhook["clientConfig"]["caBundle"]))
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert "l2sm-webhook.l2sm-system.svc" in names
    assert webhook["clientConfig"]["service"] == {"name": "l2sm-webhook", "namespace": "l2sm-system",
                                                  "path": "/l2sm-pods", "port": 443}
    assert webhook["objectSelector"] == {"matchLabels": {"l2sm": "true"}}


def test_cert_manager_provides_the_webhook_certificate_when_enabled(helm):
    objects = render(helm, "l2sm", "l2sm", "l2sm-system", "--set", "certManager.enabled=true")
    kinds = {o["kind"] for o in objects}
    assert {"Certificate", "Issuer"} <= kinds
    assert not any(o["kind"] == "Secret" and o["metadata"]["name"] == "l2sm-webhook-tls" for o in objects)
    webhook = next(o for o in objects if o["kind"] == "MutatingWebhookConfiguration")
    assert webhook["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == "l2sm-system/l2sm-webhook"
    assert "caBundle" not in webhook["webhooks"][0]["clientConfig"]


# --- RBAC ---------------------------------------------------------------------------------------------------------

def test_l2sm_rbac_has_no_wildcard_and_no_admin_binding(helm):
    objects = render(helm, "l2sm", "l2sm", "l2sm-system", "--set", "multus.installNadCrd=true")
    roles = [o for o in objects if o["kind"] in ("Role", "ClusterRole")]
    assert roles
    for role in roles:
        for rule in role["rules"]:
            for key in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
                assert "*" not in rule.get(key, []), (role["metadata"]["name"], rule)
            assert "secrets" not in rule.get("resources", []), (role["metadata"]["name"], rule)
    for binding in (o for o in objects if o["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        assert binding["roleRef"]["name"] not in ("cluster-admin", "admin", "edit"), binding


def can(api_client, user: str, verb: str, resource: str, group: str = "", namespace: str = "",
        subresource: str = "") -> bool:
    from kubernetes import client

    review = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user=user, groups=["system:serviceaccounts"],
        resource_attributes=client.V1ResourceAttributes(verb=verb, resource=resource, group=group,
                                                        namespace=namespace or None,
                                                        subresource=subresource or None)))
    return client.AuthorizationV1Api(api_client).create_subject_access_review(review).status.allowed


def test_operator_may_do_its_job_and_nothing_more(kube_api, helm, k8s_namespace):
    from kubernetes import utils

    api_client = kube_api.client()
    release = f"rbac-{k8s_namespace[2:]}"
    rbac = [o for o in render(helm, "l2sm", release, k8s_namespace)
            if o["kind"] in ("ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")]
    utils.create_from_yaml(api_client, yaml_objects=rbac, namespace=k8s_namespace)
    try:
        operator = f"system:serviceaccount:{k8s_namespace}:{release}-l2sm-operator"
        controller = f"system:serviceaccount:{k8s_namespace}:{release}-l2sm-controller"
        group = "l2sm.l2sm.k8s.local"
        assert can(api_client, operator, "watch", "l2networks", group, "any-namespace")
        assert can(api_client, operator, "patch", "l2networks", group, "any-namespace", "status")
        assert can(api_client, operator, "patch", "pods", "", "any-namespace")
        assert can(api_client, operator, "create", "network-attachment-definitions", "k8s.cni.cncf.io", "x")
        assert can(api_client, operator, "create", "events", "", "x")
        assert not can(api_client, operator, "get", "secrets", "", "x")
        assert not can(api_client, operator, "delete", "pods", "", "x")
        assert not can(api_client, operator, "create", "customresourcedefinitions", "apiextensions.k8s.io")
        assert not can(api_client, operator, "create", "clusterrolebindings", "rbac.authorization.k8s.io")
        assert not can(api_client, controller, "list", "pods", "", k8s_namespace)
    finally:
        from kubernetes import client

        rbac_api = client.RbacAuthorizationV1Api(api_client)
        for o in rbac:
            if o["kind"] == "ClusterRole":
                rbac_api.delete_cluster_role(o["metadata"]["name"])
            elif o["kind"] == "ClusterRoleBinding":
                rbac_api.delete_cluster_role_binding(o["metadata"]["name"])


# --- the API server accepts what the charts render ----------------------------------------------------------------

@pytest.mark.parametrize("chart", CHARTS)
def test_rendered_manifests_are_accepted_by_the_api_server(kube_api, helm, l2sm_crds, k8s_namespace, chart):
    # Unique release names: the l2sm chart's cluster-scoped objects of parallel runs must not collide.
    # Its CRDs are not in the dry run: l2sm_crds applied them for real, first, so CRs are checked against them.
    objects = [o for o in render(helm, chart, f"r{k8s_namespace[2:]}", k8s_namespace)
               if o["kind"] != "CustomResourceDefinition"]
    for obj in objects:
        dry_run_create(kube_api, obj, k8s_namespace)


def test_upstream_ping_network_is_accepted_and_bad_networks_are_rejected(kube_api, l2sm_crds, k8s_namespace):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    api = client.CustomObjectsApi(kube_api.client())

    def network(name: str, **spec) -> dict:
        return {"apiVersion": GROUP_VERSION, "kind": "L2Network", "metadata": {"name": name}, "spec": spec}

    def create(body):
        return api.create_namespaced_custom_object("l2sm.l2sm.k8s.local", "v1", k8s_namespace, "l2networks", body)

    created = create(network("ping-network", type="vnet", config="", networkCIDR="10.0.0.0/24",
                             podAddressRange="10.0.0.0/26"))
    assert created["spec"]["networkCIDR"] == "10.0.0.0/24"
    rejected = {
        "bad-type": network("bad-type", type="vlan"),
        "bad-cidr": network("bad-cidr", type="vnet", networkCIDR="10.0.0.0/33"),
        "bad-range": network("bad-range", type="vnet", networkCIDR="10.0.0.0/24", podAddressRange="10.0.0.1-x"),
        "no-provider": network("no-provider", type="ext-vnet"),
        "no-type": network("no-type", networkCIDR="10.0.0.0/24"),
    }
    for name, body in rejected.items():
        with pytest.raises(ApiException) as err:
            create(body)
        assert err.value.status == 422, (name, err.value.body)
    listed = api.list_namespaced_custom_object("l2sm.l2sm.k8s.local", "v1", k8s_namespace, "l2networks")
    assert [n["metadata"]["name"] for n in listed["items"]] == ["ping-network"]


def test_l2network_is_known_by_its_upstream_short_name(kube_api, l2sm_crds):
    from kubernetes import client

    resources = client.CustomObjectsApi(kube_api.client()).get_api_resources("l2sm.l2sm.k8s.local", "v1").resources
    l2network = next(r for r in resources if r.name == "l2networks")
    assert "l2sm-net" in l2network.short_names
    assert l2network.namespaced


# --- helm install through pyhelm3 -------------------------------------------------------------------------------

def install(helm_client, chart: str, release: str, namespace: str, values: dict | None = None):
    async def go():
        loaded = await helm_client.get_chart(CHARTS_DIR / chart)
        return await helm_client.install_or_upgrade_release(release, loaded, values or {}, namespace=namespace,
                                                            wait=False)
    return asyncio.run(go())


def uninstall(helm_client, release: str, namespace: str) -> None:
    asyncio.run(helm_client.uninstall_release(release, namespace=namespace, wait=False))


def test_l2sm_network_install_creates_the_network_and_uninstall_removes_it(kube_api, helm_client, l2sm_crds,
                                                                          k8s_namespace):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    api = client.CustomObjectsApi(kube_api.client())
    values = {"name": "v-network-1", "networkCIDR": "10.0.1.0/24", "podAddressRange": "10.0.1.10-10.0.1.50",
              "gateway": "10.0.1.1", "vld": "vld-a"}
    revision = install(helm_client, "l2sm-network", "net-a", k8s_namespace, values)
    assert revision.status.value == "deployed"
    network = api.get_namespaced_custom_object("l2sm.l2sm.k8s.local", "v1", k8s_namespace, "l2networks",
                                               "v-network-1")
    assert network["spec"] == {"type": "vnet", "networkCIDR": "10.0.1.0/24", "podAddressRange": "10.0.1.10-10.0.1.50",
                               "l2sm": {"gateway": "10.0.1.1", "vld": "vld-a"}}
    uninstall(helm_client, "net-a", k8s_namespace)
    with pytest.raises(ApiException) as err:
        api.get_namespaced_custom_object("l2sm.l2sm.k8s.local", "v1", k8s_namespace, "l2networks", "v-network-1")
    assert err.value.status == 404


@pytest.mark.parametrize("chart", KNF_CHARTS)
def test_knf_chart_installs_pods_asking_for_their_networks(kube_api, helm_client, k8s_namespace, chart):
    from kubernetes import client

    apps = client.AppsV1Api(kube_api.client())
    # what the planner puts in a KDU's values: the label and annotation L2S-M reads
    networks = '[{"name": "v-network-1", "ips": ["10.0.1.2/24"]}]'
    values = {"podLabels": {"l2sm": "true"}, "podAnnotations": {"l2sm/networks": networks},
              "l2sm": {"networks": [{"name": "v-network-1", "interface": "net1", "ips": ["10.0.1.2/24"]}]}}
    install(helm_client, chart, "knf", k8s_namespace, values)
    deployments = apps.list_namespaced_deployment(k8s_namespace).items
    assert deployments, f"{chart} installed no Deployment"
    for deployment in deployments:
        pod_meta = deployment.spec.template.metadata
        assert pod_meta.labels.get("l2sm") == "true"
        assert pod_meta.annotations["l2sm/networks"] == networks
    uninstall(helm_client, "knf", k8s_namespace)
    assert apps.list_namespaced_deployment(k8s_namespace).items == []
