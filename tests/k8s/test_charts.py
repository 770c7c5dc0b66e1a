"""The Helm charts against a real helm and a real kube-apiserver: they lint, render, are accepted by the API server
(CR schemas included), install and uninstall, and the l2sm chart's RBAC is least privilege."""
from __future__ import annotations

import asyncio
import base64
import subprocess
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
        "--state", "/var/lib/l2sm/state.json", "--of-tls-key", "/etc/l2sm/tls/tls.key",
        "--of-tls-cert", "/etc/l2sm/tls/tls.crt", "--of-tls-ca", "/etc/l2sm/tls/ca.crt"]
    volume = deployment["spec"]["template"]["spec"]["volumes"][0]
    assert volume["persistentVolumeClaim"]["claimName"] == "l2sm-controller-state"
    assert any(o["kind"] == "PersistentVolumeClaim" for o in objects)
    token_env = {e["name"]: e for e in container["env"]}["L2SM_CONTROLLER_TOKEN"]
    assert token_env["valueFrom"]["secretKeyRef"]["name"] == "l2sm-controller-token"


def test_cni_installer_only_copies_the_plugin_and_the_switch_pod_serves_it(helm):
    objects = render(helm, "l2sm", "l2sm", "l2sm-system")
    ds = next(o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "l2sm-cni")
    init = ds["spec"]["template"]["spec"]["initContainers"][0]
    assert "env" not in init, "the node needs no controller URL and no token: the switch pod's daemon has them"
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    host_paths = {v["name"]: v["hostPath"]["path"] for v in ds["spec"]["template"]["spec"]["volumes"]}
    assert {host_paths[name] for name in mounts} == {"/opt/cni/bin"}
    assert "/usr/local/lib/l2sm/l2sm-cni" in init["args"][0]
    switch = next(o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "l2sm-switch")
    pod = switch["spec"]["template"]["spec"]
    volumes = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert volumes[mounts["/run/l2sm"]["name"]] == "/run/l2sm"  # the plugin's socket directory
    assert volumes[mounts["/run/netns"]["name"]] == "/run/netns"
    assert mounts["/run/netns"]["mountPropagation"] == "HostToContainer"


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


# --- the charts' commands are the CLI's ----------------------------------------------------------------------------

CODE_DIR = Path(__file__).resolve().parents[2] / "osm_l2sm"
PROGRAMS = ("osm-l2sm", "l2sm-cni")
SHELLS = ("sh", "/bin/sh", "bash", "/bin/bash")
FIELD_SAMPLES = {"spec.nodeName": "node-1", "status.hostIP": "192.0.2.10", "status.podIP": "10.244.0.10",
                 "metadata.namespace": "l2sm-system", "metadata.name": "pod-1"}


def env_vars_the_code_reads() -> set[str]:
    """Every environment variable osm_l2sm reads: ``environ[...]``/``environ.get(...)``/``*env*(...)`` with a
    literal name or a module constant holding one."""
    import re

    sources = [f.read_text() for f in CODE_DIR.rglob("*.py")]
    constants = dict(m for src in sources for m in re.findall(r"^([A-Z][A-Z0-9_]*)\s*=\s*[\"']([A-Z][A-Z0-9_]*)[\"']",
                                                           src, flags=re.M))
    names = set()
    for src in sources:
        # environ[...] / environ.get(...), and helpers named after env (getenv, _env_list, ...) given a name
        for quote, name in re.findall(r"(?:environ(?:\.get)?\s*[\[(]|\b\w*env\w*\s*\()\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\1",
                                      src):
            names.add(name if quote else constants.get(name, ""))
    return names - {""}


def container_env(container: dict) -> dict[str, str]:
    """Each env var of a container with the value it would have in a pod (samples for fields and secrets)."""
    env = {}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif "fieldRef" in var.get("valueFrom", {}):
            env[var["name"]] = FIELD_SAMPLES[var["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            env[var["name"]] = f"sample-{var['name'].lower()}"
    return env


def pod_containers(objects: list[dict]):
    """(object name, container) for every container and init container of every pod template."""
    for obj in objects:
        spec = obj.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template", {}).get("spec") or (spec if obj["kind"] == "Pod" else None)
        for container in (pod or {}).get("initContainers", []) + (pod or {}).get("containers", []):
            yield f"{obj['kind']} {obj['metadata']['name']}/{container['name']}", container


def shell_commands(script: str, env: dict[str, str]) -> list[list[str]]:
    """The argv of every line of a shell script that runs one of PROGRAMS, with its variables expanded: the
    container's env vars by their values, variables the script assigns itself by a sample address."""
    import re
    import shlex

    assigned = set(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=", script, flags=re.M))
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        words = line.split()
        if words and words[0] == "exec":
            words = words[1:]
        if not words or words[0] not in PROGRAMS:
            continue

        def value(match):
            name = match.group(1) or match.group(2)
            assert name in env or name in assigned, f"the script uses ${name}, set by neither the container nor itself"
            return env.get(name, "192.0.2.1")
        expanded = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", value, " ".join(words))
        commands.append(shlex.split(expanded))
    return commands


def parse_cli(argv: list[str], where: str):
    """``argv`` (without the program) through the real ``osm-l2sm`` parser; a refusal fails with its message."""
    import contextlib
    import io

    from osm_l2sm.cli import build_parser

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: osm-l2sm refuses {argv}: {err.getvalue().strip()}")


def cli_runs(objects: list[dict]) -> list[tuple[str, str, list[str], dict, set[str]]]:
    """(where, program, argv, env, env vars the container's command line uses itself) of every container running
    one of PROGRAMS, directly or from a shell script."""
    import re

    runs = []
    for where, container in pod_containers(objects):
        argv = container.get("command", []) + container.get("args", [])
        env = container_env(container)
        if argv and Path(argv[0]).name in PROGRAMS:
            used = set(re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", " ".join(argv)))
            expanded = [re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env[m.group(1)], a) for a in argv]
            runs.append((where, Path(argv[0]).name, expanded[1:], env, used))
        elif len(argv) >= 3 and argv[0] in SHELLS and argv[1] == "-c":
            used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", argv[2]))
            for command in shell_commands(argv[2], env):
                runs.append((where, command[0], command[1:], env, used))
    return runs


L2SM_VARIANTS = {
    "defaults": [],
    "debug, two namespaces, a peer": ["--set", "operator.logLevel=debug", "--set", "operator.watchNamespaces={a,b}",
                                      "--set", "switch.peers[0].name=node-2", "--set", "switch.peers[0].ip=192.0.2.12",
                                      "--set", "operator.interdomain.clusterName=edge-1",
                                      "--set", "operator.interdomain.providers[0].name=l2sm-provider",
                                      "--set", "operator.interdomain.providers[0].url=http://provider.example:8181",
                                      "--set", "operator.interdomain.providerTokenSecret.name=provider-token"],
    "existing token secret, persistence": ["--set", "controllerToken.existingSecret=my-token",
                                           "--set", "controller.persistence.enabled=true"],
    "two controller replicas": ["--set", "controller.replicas=2"],
}


@pytest.mark.parametrize("chart", CHARTS)
def test_every_chart_command_parses_with_the_real_cli_and_sets_only_env_the_code_reads(helm, chart):
    variants = L2SM_VARIANTS if chart == "l2sm" else {"defaults": []}
    read = env_vars_the_code_reads()
    for variant, values in variants.items():
        for where, program, argv, env, used in cli_runs(render(helm, chart, "l2sm", "l2sm-system", *values)):
            where = f"{chart} ({variant}) {where}"
            if program == "osm-l2sm":
                parse_cli(argv, where)
            else:
                assert argv == [], f"{where}: l2sm-cni takes no arguments (CNI passes everything in env and stdin)"
            unread = sorted(set(env) - read - used)
            assert not unread, f"{where} sets {unread}, which no code reads"


def test_l2sm_chart_commands_mean_what_the_values_say(helm):
    objects = render(helm, "l2sm", "l2sm", "l2sm-system", *L2SM_VARIANTS["debug, two namespaces, a peer"])
    parsed = {}
    for where, _, argv, _, _ in cli_runs(objects):
        args = parse_cli(argv, where)
        parsed[where.split("/")[0] + (f" {args.switch_command}" if args.command == "switch" else "")
               + (f" {args.k8s_command}" if args.command == "k8s" else "")] = args
    assert set(parsed) == {"Deployment l2sm-operator", "Deployment l2sm-controller", "DaemonSet l2sm-switch up",
                           "DaemonSet l2sm-switch daemon", "DaemonSet l2sm-switch node-attach",
                           "DaemonSet l2sm-switch cert"}
    operator = parsed["Deployment l2sm-operator"]
    assert (operator.command, operator.operator_command) == ("operator", "run")
    assert operator.verbose and operator.namespaces == ["a", "b"] and not operator.all_namespaces
    assert operator.controller == "http://l2sm-controller.l2sm-system.svc:8181"
    assert operator.cluster_name == "edge-1"
    assert operator.provider_url == ["l2sm-provider=http://provider.example:8181"]
    controller = parsed["Deployment l2sm-controller"]
    assert (controller.of_listen, controller.rest_listen) == (("0.0.0.0", 6653), ("0.0.0.0", 8181))
    attach = parsed["DaemonSet l2sm-switch node-attach"]
    assert (attach.node, attach.plugin) == ("node-1", "/opt/cni/bin/l2sm-cni")
    switch = parsed["DaemonSet l2sm-switch up"]
    assert switch.node == "node-1" and switch.local_ip == "192.0.2.10" and switch.peer == [("node-2", "192.0.2.12")]
    assert switch.rest == "http://l2sm-controller.l2sm-system.svc:8181" and switch.bridge == "br-l2sm"
    cert = parsed["DaemonSet l2sm-switch cert"]  # the switch connects with the certificate of its own node
    assert switch.controller.startswith("ssl:") and cert.node == switch.node
    assert (switch.tls_key, switch.tls_cert, switch.tls_ca) == tuple(
        f"{cert.out_dir}/{f}" for f in ("switch.key", "switch.pem", "ca.pem"))
    daemon = parsed["DaemonSet l2sm-switch daemon"]
    assert (daemon.node, daemon.rest, daemon.bridge, daemon.run_dir) == (switch.node, switch.rest, switch.bridge,
                                                                         switch.run_dir)
    assert daemon.socket == "/run/l2sm/cni.sock"
    quiet = {where.split("/")[0]: parse_cli(argv, where) for where, _, argv, _, _ in cli_runs(render(helm, "l2sm"))}
    assert not quiet["Deployment r1-l2sm-operator"].verbose and quiet["Deployment r1-l2sm-operator"].all_namespaces


def test_cni_installer_script_reads_every_env_var_it_is_given(helm):
    for where, container in pod_containers(render(helm, "l2sm", "l2sm", "l2sm-system")):
        argv = container.get("command", []) + container.get("args", [])
        if argv[:2] == ["python3", "-c"]:
            script = argv[2]
            unread = [name for name in container_env(container) if f'"{name}"' not in script]
            assert not unread, f"{where} sets {unread}, which its script does not read"
            compile(script, where, "exec")


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
        subresource: str = "", name: str = "") -> bool:
    from kubernetes import client

    review = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user=user, groups=["system:serviceaccounts"],
        resource_attributes=client.V1ResourceAttributes(verb=verb, resource=resource, group=group,
                                                        namespace=namespace or None,
                                                        subresource=subresource or None, name=name or None)))
    return client.AuthorizationV1Api(api_client).create_subject_access_review(review).status.allowed


L2SM_GROUP = "l2sm.l2sm.k8s.local"
NAD_CRD = "network-attachment-definitions.k8s.cni.cncf.io"
# Per kubernetes client method the operator's modules call, the request it makes: (verb, resource, group,
# subresource, name). A new call there fails the test until it is listed here (and granted by the chart).
CLIENT_CALLS = {
    "get_namespaced_custom_object": ("get", "l2networks", L2SM_GROUP, "", ""),
    "list_namespaced_custom_object": ("list", "l2networks", L2SM_GROUP, "", ""),
    "patch_namespaced_custom_object_status": ("patch", "l2networks", L2SM_GROUP, "status", ""),
    "create_namespaced_custom_object": ("create", "network-attachment-definitions", "k8s.cni.cncf.io", "", ""),
    "patch_namespaced_custom_object": ("patch", "network-attachment-definitions", "k8s.cni.cncf.io", "", ""),
    "read_namespace": ("get", "namespaces", "", "", "kube-system"),
    "read_namespaced_pod": ("get", "pods", "", "", ""),
    "list_namespaced_pod": ("list", "pods", "", "", ""),
    "patch_namespaced_pod": ("patch", "pods", "", "", ""),
    "read_custom_resource_definition": ("get", "customresourcedefinitions", "apiextensions.k8s.io", "", NAD_CRD),
    "create_custom_resource_definition": ("create", "customresourcedefinitions", "apiextensions.k8s.io", "", ""),
}
# What kopf itself does for those handlers: watch both kinds, patch finalizers and progress, post Warning events,
# follow namespaces (namespace-scoped runs) and CRDs.
KOPF_REQUESTS = [("list", "l2networks", L2SM_GROUP), ("watch", "l2networks", L2SM_GROUP),
                 ("patch", "l2networks", L2SM_GROUP), ("watch", "pods", ""), ("patch", "pods", ""),
                 ("create", "events", ""), ("list", "namespaces", ""), ("watch", "namespaces", ""),
                 ("list", "customresourcedefinitions", "apiextensions.k8s.io"),
                 ("watch", "customresourcedefinitions", "apiextensions.k8s.io")]


def operator_client_calls() -> set[str]:
    """The kubernetes client API methods the operator's code refers to."""
    import re

    from kubernetes import client

    api_methods = {m for cls in (client.CoreV1Api, client.CustomObjectsApi, client.ApiextensionsV1Api,
                                 client.CoordinationV1Api, client.EventsV1Api, client.AppsV1Api)
                   for m in dir(cls) if not m.startswith("_")}
    k8s_dir = CODE_DIR / "k8s"
    modules, todo = set(), ["operator"]  # operator.py and what it imports from its package, transitively
    while todo:
        module = todo.pop()
        if module in modules or not (k8s_dir / f"{module}.py").exists():
            continue
        modules.add(module)
        text = (k8s_dir / f"{module}.py").read_text()
        todo += re.findall(r"^from \.(\w+) import", text, flags=re.M)
        todo += [name.strip() for names in re.findall(r"^from \. import ([\w, ]+)", text, flags=re.M)
                 for name in names.split(",")]
    used = {m for module in modules for m in re.findall(r"\.([a-z_]+)\b", (k8s_dir / f"{module}.py").read_text())}
    return used & api_methods


@pytest.mark.parametrize("chart_installs_nad_crd", [False, True])
def test_operator_may_do_what_its_code_does_and_nothing_more(kube_api, helm, k8s_namespace, chart_installs_nad_crd):
    from kubernetes import client, utils

    calls = operator_client_calls()
    assert calls and calls <= set(CLIENT_CALLS), f"list the requests of {sorted(calls - set(CLIENT_CALLS))}"
    api_client = kube_api.client()
    release = f"rbac{int(chart_installs_nad_crd)}-{k8s_namespace[2:]}"
    rbac = [o for o in render(helm, "l2sm", release, k8s_namespace,
                              "--set", f"multus.installNadCrd={str(chart_installs_nad_crd).lower()}")
            if o["kind"] in ("ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")]
    utils.create_from_yaml(api_client, yaml_objects=rbac, namespace=k8s_namespace)
    try:
        operator = f"system:serviceaccount:{k8s_namespace}:{release}-l2sm-operator"
        for call in sorted(calls):
            verb, resource, group, subresource, name = CLIENT_CALLS[call]
            if call == "create_custom_resource_definition" and chart_installs_nad_crd:
                continue  # the chart installs the CRD, so the operator finds it and never creates one
            namespaced = resource not in ("customresourcedefinitions", "namespaces")
            assert can(api_client, operator, verb, resource, group, "any-namespace" if namespaced else "",
                       subresource, name), (call, verb, resource, subresource)
        for verb, resource, group in KOPF_REQUESTS:
            namespaced = resource not in ("customresourcedefinitions", "namespaces")
            assert can(api_client, operator, verb, resource, group, "any-namespace" if namespaced else ""), \
                ("kopf", verb, resource)
        crds = ("customresourcedefinitions", "apiextensions.k8s.io")
        assert can(api_client, operator, "create", *crds) is not chart_installs_nad_crd
        assert not can(api_client, operator, "get", *crds, name="l2networks.l2sm.l2sm.k8s.local")
        assert not can(api_client, operator, "delete", *crds, name=NAD_CRD)
        assert not can(api_client, operator, "get", "namespaces", name="default")
        assert not can(api_client, operator, "get", "secrets", "", "x")
        assert not can(api_client, operator, "delete", "pods", "", "x")
        assert not can(api_client, operator, "create", "l2networks", L2SM_GROUP, "x")
        assert not can(api_client, operator, "update", "l2networks", L2SM_GROUP, "x")
        assert not can(api_client, operator, "delete", "network-attachment-definitions", "k8s.cni.cncf.io", "x")
        assert not can(api_client, operator, "create", "leases", "coordination.k8s.io", k8s_namespace)
        assert not can(api_client, operator, "create", "clusterrolebindings", "rbac.authorization.k8s.io")
        for component in ("controller", "cni"):
            account = f"system:serviceaccount:{k8s_namespace}:{release}-l2sm-{component}"
            assert not can(api_client, account, "list", "pods", "", k8s_namespace), component
        # the switch pods' node-attach reads its node's pods and their attachments, and changes nothing
        switch = f"system:serviceaccount:{k8s_namespace}:{release}-l2sm-switch"
        for verb in ("get", "list", "watch"):
            assert can(api_client, switch, verb, "pods", "", "any-namespace"), verb
        assert can(api_client, switch, "get", "network-attachment-definitions", "k8s.cni.cncf.io", "any-namespace")
        for verb, resource, group in (("patch", "pods", ""), ("delete", "pods", ""), ("get", "secrets", ""),
                                      ("create", "network-attachment-definitions", "k8s.cni.cncf.io"),
                                      ("list", "l2networks", L2SM_GROUP)):
            assert not can(api_client, switch, verb, resource, group, "any-namespace"), (verb, resource)
    finally:
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


def test_switch_liveness_probe_fails_once_ovs_vswitchd_is_killed(helm, require_root_ovs, tmp_path):
    """The switch DaemonSet's probes, as rendered, run against a real OVS in the run dir the values name."""
    import os
    import signal

    from osm_l2sm.switch import OvsInstance

    run_dir = str(tmp_path / "ovs")
    objects = render(helm, "l2sm", "r1", "default", "--set", f"switch.ovsRunDir={run_dir}")
    switch = next(c for name, c in pod_containers(objects) if name.endswith("-switch/switch"))
    probes = [switch[kind]["exec"]["command"] for kind in ("startupProbe", "livenessProbe")]

    def probe_passes(command) -> bool:
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0

    ovs = OvsInstance(run_dir).start()
    try:
        assert all(probe_passes(p) for p in probes)
        with open(os.path.join(run_dir, "ovs-vswitchd.pid")) as f:
            os.kill(int(f.read()), signal.SIGKILL)
        assert not any(probe_passes(p) for p in probes)
    finally:
        ovs.stop()
