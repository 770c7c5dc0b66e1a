"""What an adopter checks first in every chart, with only a real helm: each container has resource requests and
limits, each Deployment probes, each values schema refuses unknown keys and wrong types in every section of the
chart's own values.yaml (so keys added later are covered), and the KNF charts carry the recommended labels and notes.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.k8s.test_charts import CHARTS, CHARTS_DIR, KNF_CHARTS, helm_run, render

POD_KINDS = {"Deployment", "DaemonSet", "StatefulSet", "Job"}
# Deployment containers without a liveness probe, and why: nothing in them can hang apart from the container.
NO_LIVENESS = {("cdn-cache", "cache"): "a shell loop fetching the file; it lives as long as the container",
               ("router-firewall", "router"): "forwarding is the kernel's; the container only sleeps"}
UNKNOWN = "zzunknown"
RECOMMENDED_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                      "app.kubernetes.io/managed-by", "helm.sh/chart")


def schema_of(chart: str) -> dict:
    return json.loads((CHARTS_DIR / chart / "values.schema.json").read_text())


def values_of(chart: str) -> dict:
    return yaml.safe_load((CHARTS_DIR / chart / "values.yaml").read_text()) or {}


def resolve(root: dict, node: dict) -> dict:
    while "$ref" in node:
        node = root["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def containers(objects: list[dict]):
    """(object, container) for every container and init container of every pod template."""
    for obj in objects:
        if obj["kind"] in POD_KINDS:
            spec = obj["spec"]["template"]["spec"]
            for container in spec.get("initContainers", []) + spec["containers"]:
                yield obj, container


def sections(values: dict, schema: dict, root: dict, path: tuple = ()):
    """(path, value, schema) of every mapping of values.yaml that its schema describes by named properties (not a
    free map such as nodeSelector), outermost first."""
    schema = resolve(root, schema)
    if not isinstance(values, dict) or "properties" not in schema:
        return
    yield path, values, schema
    for key, value in values.items():
        if key in schema["properties"]:
            yield from sections(value, schema["properties"][key], root, path + (key,))


def set_path(path: tuple) -> str:
    return ".".join(path)


def pointer(path: tuple) -> str:
    return "".join("/" + p for p in path)


# --- resources and probes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("chart", CHARTS)
def test_every_container_has_resource_requests_and_limits(helm, chart):
    missing = []
    for obj, container in containers(render(helm, chart)):
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            if not {"cpu", "memory"} <= set(resources.get(kind, {})):
                missing.append(f"{obj['kind']} {obj['metadata']['name']}/{container['name']}: {kind}")
    assert not missing, missing


@pytest.mark.parametrize("chart", CHARTS)
def test_every_deployment_container_has_readiness_and_liveness_probes(helm, chart):
    missing = []
    for obj, container in containers(render(helm, chart)):
        if obj["kind"] != "Deployment" or container in obj["spec"]["template"]["spec"].get("initContainers", []):
            continue
        wanted = ["readinessProbe"] + ([] if (chart, container["name"]) in NO_LIVENESS else ["livenessProbe"])
        missing += [f"{obj['metadata']['name']}/{container['name']}: {p}" for p in wanted if p not in container]
    assert not missing, missing


def test_operator_liveness_probe_asks_the_endpoint_the_operator_serves(helm):
    deployment = next(o for o in render(helm, "l2sm", "l2sm")
                      if o["kind"] == "Deployment" and o["metadata"]["name"] == "l2sm-operator")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == container["livenessProbe"]["httpGet"]
                ["port"])
    served = container["args"][container["args"].index("--liveness") + 1]
    assert served == f"http://0.0.0.0:{port}{container['livenessProbe']['httpGet']['path']}"


def test_resources_are_values_an_operator_can_override(helm):
    objects = render(helm, "l2sm", "l2sm", "default", "--set", "switch.nodeAttachResources.limits.memory=1Gi",
                     "--set", "operator.resources.requests.cpu=200m")
    by_name = {c["name"]: c for _, c in containers(objects)}
    assert by_name["node-attach"]["resources"]["limits"]["memory"] == "1Gi"
    assert by_name["operator"]["resources"]["requests"]["cpu"] == "200m"


# --- schemas ----------------------------------------------------------------------------------------------------

def schema_objects(node, root: dict, where: str = ""):
    """Every object schema inside ``node`` (definitions included), with where it is; conditions (if, then, else,
    not) only add constraints to an object described beside them, and are left out."""
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            yield where, node
        for key, child in node.items():
            if key not in ("if", "then", "else", "not"):
                yield from schema_objects(child, root, f"{where}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from schema_objects(child, root, f"{where}/{i}")


@pytest.mark.parametrize("chart", CHARTS)
def test_every_schema_object_refuses_unknown_keys(chart):
    """Named properties with ``additionalProperties: false``, or a free map whose values have a schema."""
    schema = schema_of(chart)
    loose = [where or "/" for where, node in schema_objects(schema, schema)
             if not where.endswith("/global")
             and not (node.get("additionalProperties") is False
                      or ("properties" not in node and isinstance(node.get("additionalProperties"), dict)))]
    assert not loose, f"{chart}/values.schema.json: objects that take unknown keys: {loose}"


@pytest.mark.parametrize("chart", CHARTS)
def test_the_schema_describes_every_key_of_values_yaml(chart):
    schema = schema_of(chart)
    undescribed = [f"{set_path(path)}.{key}".lstrip(".") for path, values, section in
                   sections(values_of(chart), schema, schema) for key in values if key not in section["properties"]]
    assert not undescribed, f"{chart}: values.yaml keys its schema does not know: {undescribed}"


@pytest.mark.parametrize("chart", CHARTS)
def test_an_unknown_key_in_any_section_is_refused_naming_it(helm, chart):
    schema = schema_of(chart)
    paths = [path for path, _, _ in sections(values_of(chart), schema, schema)]
    args = [a for path in paths for a in ("--set", set_path(path + (UNKNOWN,)) + "=1")]
    done = helm_run(helm, "template", "r1", str(CHARTS_DIR / chart), *args)
    assert done.returncode != 0
    unnamed = [p for p in paths if f"at '{pointer(p)}': additional properties '{UNKNOWN}' not allowed"
               not in done.stderr]
    assert not unnamed, done.stderr


def wrong_value(value):
    """A value of another type than ``value``."""
    return "not-a-number" if isinstance(value, (dict, list, bool)) or value is None else {"wrong": True}


@pytest.mark.parametrize("chart", CHARTS)
def test_a_value_of_the_wrong_type_is_refused_naming_its_key_section_by_section(helm, chart):
    schema = schema_of(chart)
    for path, values, _ in sections(values_of(chart), schema, schema):
        leaves = [key for key, value in values.items() if not isinstance(value, dict)]
        if not path or not leaves:
            continue
        args = [a for key in leaves
                for a in ("--set-json", f"{set_path(path + (key,))}={json.dumps(wrong_value(values[key]))}")]
        done = helm_run(helm, "template", "r1", str(CHARTS_DIR / chart), *args)
        assert done.returncode != 0, f"{chart} {set_path(path)}: wrong values accepted"
        unnamed = [key for key in leaves if f"at '{pointer(path + (key,))}" not in done.stderr]
        assert not unnamed, f"{chart} {set_path(path)}: {unnamed} not named in {done.stderr}"


@pytest.mark.parametrize("chart,args,named", [
    ("l2sm", ["--set", "operatr.replicas=1"], "additional properties 'operatr' not allowed"),
    ("l2sm", ["--set", "controller.persistence.size=lots"], "at '/controller/persistence/size'"),
    ("l2sm", ["--set", "switch.peers[0].name=b", "--set", "switch.peers[0].ip=notanip"], "at '/switch/peers/0/ip'"),
    ("l2sm", ["--set", "controller.resources.limits.memory=lots"], "at '/controller/resources/limits/memory'"),
    ("l2sm-network", ["--set", "networkCIDR=notacidr"], "at '/networkCIDR'"),
    ("l2sm-network", ["--set", "networkCIDR=10.0.0.0/33"], "at '/networkCIDR'"),
    ("l2sm-network", ["--set", "podAddressRange=10.0.0.5-banana"], "at '/podAddressRange'"),
    ("l2sm-network", ["--set", "type=ext-vnet"], "at '/provider': missing properties 'name', 'domain'"),
    ("l2sm-network", ["--set", "nme=blue"], "additional properties 'nme' not allowed"),
    ("cdn-cache", ["--set", "foo=bar"], "additional properties 'foo' not allowed"),
    ("content-server", ["--set", "foo=bar"], "additional properties 'foo' not allowed"),
    ("router-firewall", ["--set", "foo=bar"], "additional properties 'foo' not allowed"),
    ("router-firewall", ["--set", "l2sm.routes[0].to=10.0.0.0/99", "--set", "l2sm.routes[0].via=10.0.1.1",
                         "--set", "l2sm.routes[0].interface=net1"], "at '/l2sm/routes/0/to'"),
])
def test_wrong_values_an_adopter_tried_are_refused_naming_the_key(helm, chart, args, named):
    for command in (["template", "r1"], ["lint", "--strict"]):
        done = helm_run(helm, *command, str(CHARTS_DIR / chart), *args)
        assert done.returncode != 0 and named in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.mark.parametrize("chart,args", [
    ("l2sm", ["--set", "switch.peers[0].name=b", "--set", "switch.peers[0].ip=192.0.2.12"]),
    ("l2sm-network", ["--set", "networkCIDR=10.0.0.0/24", "--set", "podAddressRange=10.0.0.5-10.0.0.9",
                      "--set", "gateway=10.0.0.1"]),
    ("l2sm-network", ["--set", "networkCIDR=fd00::/64", "--set", "podAddressRange=fd00::/96"]),
    ("l2sm-network", ["--set", "type=ext-vnet", "--set", "provider.name=p", "--set", "provider.domain=p.example",
                      "--set", "provider.sdnPort=8181"]),
])
def test_right_values_are_still_taken(helm, chart, args):
    done = helm_run(helm, "template", "r1", str(CHARTS_DIR / chart), *args)
    assert done.returncode == 0, done.stderr


# --- the KNF charts: labels and notes ---------------------------------------------------------------------------

@pytest.mark.parametrize("chart", KNF_CHARTS)
def test_knf_chart_objects_carry_the_recommended_labels(helm, chart):
    version = yaml.safe_load((CHARTS_DIR / chart / "Chart.yaml").read_text())
    for obj in render(helm, chart, "vod"):
        labels = obj["metadata"]["labels"]
        assert all(labels.get(k) for k in RECOMMENDED_LABELS), (obj["kind"], labels)
        assert labels["app.kubernetes.io/version"] == str(version["appVersion"])
        assert labels["helm.sh/chart"] == f"{chart}-{version['version']}"
        assert labels["app.kubernetes.io/instance"] == "vod"


@pytest.mark.parametrize("chart", KNF_CHARTS)
def test_knf_chart_notes_name_the_release_and_its_networks(helm, chart, tmp_path):
    """helm template leaves NOTES.txt out: render it as a named template of a copy of the chart."""
    copy = tmp_path / chart
    shutil.copytree(CHARTS_DIR / chart, copy)
    notes = (copy / "templates" / "NOTES.txt").read_text()
    (copy / "templates" / "_notes.tpl").write_text('{{- define "notes" }}' + notes + "{{ end }}")
    (copy / "templates" / "notes.yaml").write_text('notes: {{ include "notes" . | quote }}\n')
    done = helm_run(helm, "template", "vod", str(copy), "--show-only", "templates/notes.yaml",
                    "--set", "l2sm.networks[0].name=vod-mgmt", "--set", "l2sm.networks[0].interface=net1",
                    "--set", "l2sm.networks[0].ips[0]=10.0.9.2/24")
    assert done.returncode == 0, done.stderr
    text = yaml.safe_load(done.stdout)["notes"]
    assert "release vod" in text and "net1: vod-mgmt 10.0.9.2/24" in text, text


def test_the_operator_answers_its_liveness_probe_where_the_chart_asks(kube_api, l2sm_crds, helm, tmp_path):
    """The real operator, started with the chart's --liveness (moved to a free loopback port), against a real API
    server: the probe's path answers 200 while it runs."""
    import requests

    from tests.k8s.conftest import stop_process
    from tests.polling import wait_for
    from tests.ports import free_port

    deployment = next(o for o in render(helm, "l2sm", "l2sm")
                      if o["kind"] == "Deployment" and o["metadata"]["name"] == "l2sm-operator")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    liveness = container["args"][container["args"].index("--liveness") + 1]
    port = free_port()
    url = liveness.replace("0.0.0.0:8080", f"127.0.0.1:{port}")
    assert url != liveness and url.endswith(container["livenessProbe"]["httpGet"]["path"])
    log = open(tmp_path / "operator.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "osm_l2sm", "operator", "run", "--kubeconfig", kube_api.kubeconfig,
                             "--controller", f"http://127.0.0.1:{free_port()}", "--namespace", "default",
                             "--liveness", url], stdout=log, stderr=subprocess.STDOUT)
    try:
        def answers() -> bool:
            try:
                return requests.get(url, timeout=2).status_code == 200
            except requests.ConnectionError:
                return False
        wait_for(answers, "the operator's liveness endpoint", timeout=60)
        assert proc.poll() is None, (tmp_path / "operator.log").read_text()
    finally:
        stop_process(proc)
        log.close()
