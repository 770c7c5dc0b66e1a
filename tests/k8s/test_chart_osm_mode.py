"""The l2sm chart's OSM mode: off by default; with operator.osm.nbiUrl the operator gets the NBI settings (the user
and password from an existing Secret), the right to create and delete L2Networks, and a webhook for LCM's pods."""
from __future__ import annotations

from tests.k8s.test_charts import render


def _operator_env(objects: list[dict]) -> dict:
    deployment = next(o for o in objects if o["kind"] == "Deployment" and "operator" in o["metadata"]["name"])
    return {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])}


def _webhooks(objects: list[dict]) -> dict:
    config = next(o for o in objects if o["kind"] == "MutatingWebhookConfiguration")
    return {w["name"]: w for w in config["webhooks"]}


def test_osm_mode_is_off_by_default(helm):
    objects = render(helm, "l2sm")
    assert not [name for name in _operator_env(objects) if name.startswith("OSM_")]
    assert list(_webhooks(objects)) == ["pods.l2sm.l2sm.k8s.local"]


def test_osm_mode_values_reach_the_operator_and_the_webhook(helm):
    objects = render(helm, "l2sm", "r1", "default", "--set", "operator.osm.nbiUrl=https://nbi.osm:9999/osm",
                     "--set", "operator.osm.credentialsSecret.name=osm-nbi", "--set", "operator.osm.insecure=true")
    env = _operator_env(objects)
    assert env["OSM_L2SM_OSM_NBI"]["value"] == "https://nbi.osm:9999/osm"
    assert (env["OSM_L2SM_OSM_INSECURE"]["value"], env["OSM_PROJECT"]["value"]) == ("1", "admin")
    assert env["OSM_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "osm-nbi", "key": "password"}}
    hook = _webhooks(objects)["osm-pods.l2sm.l2sm.k8s.local"]
    assert hook["clientConfig"]["service"]["path"] == "/l2sm-osm-pods"
    assert hook["objectSelector"] == {"matchExpressions": [{"key": "osm.etsi.org/ns-id", "operator": "Exists"}]}
    rules = [r for o in objects if o["kind"] == "ClusterRole" for r in o["rules"]]
    assert any("l2networks" in r["resources"] and "create" in r["verbs"] for r in rules)


def test_the_osm_pod_webhook_fails_open_by_default_and_the_refusal_bound_reaches_the_operator(helm):
    nbi = ("--set", "operator.osm.nbiUrl=https://nbi.osm:9999/osm")
    objects = render(helm, "l2sm", "r1", "l2sm-system", *nbi)
    hooks = _webhooks(objects)
    # an operator that is down must not stop OSM: its pods go through unwired; l2sm-labelled pods still wait
    assert (hooks["osm-pods.l2sm.l2sm.k8s.local"]["failurePolicy"],
            hooks["osm-pods.l2sm.l2sm.k8s.local"]["timeoutSeconds"]) == ("Ignore", 5)
    assert hooks["pods.l2sm.l2sm.k8s.local"]["failurePolicy"] == "Fail"
    env = _operator_env(objects)
    assert (env["OSM_L2SM_OSM_REFUSE_SECONDS"]["value"], env["OSM_L2SM_OSM_NBI_TIMEOUT"]["value"]) == ("120", "2")
    assert env["OSM_L2SM_OSM_STATUS_CONFIGMAP"]["value"] == "r1-l2sm-osm-status"
    assert env["OSM_L2SM_OSM_STATUS_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    role = next(o for o in objects if o["kind"] == "Role" and o["metadata"]["name"] == "r1-l2sm-osm-status")
    assert {"resourceNames": ["r1-l2sm-osm-status"], "verbs": ["get", "patch"]}.items() <= role["rules"][1].items()

    closed = render(helm, "l2sm", "r1", "l2sm-system", *nbi, "--set", "operator.osm.webhook.failurePolicy=Fail",
                    "--set", "operator.osm.refuseWhileNbiDownSeconds=30")
    assert _webhooks(closed)["osm-pods.l2sm.l2sm.k8s.local"]["failurePolicy"] == "Fail"
    assert _operator_env(closed)["OSM_L2SM_OSM_REFUSE_SECONDS"]["value"] == "30"
