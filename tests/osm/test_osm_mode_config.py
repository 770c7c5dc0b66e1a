"""OSM mode's settings: read once from the environment when `osm-l2sm operator run` starts (no cluster needed)."""
from __future__ import annotations

from osm_l2sm.cli import main
from osm_l2sm.k8s.operator_config import OsmConfig, osm_config_from_env


def test_osm_mode_is_off_without_nbi_and_takes_the_charts_environment():
    assert osm_config_from_env({"OSM_L2SM_OSM_GC_SECONDS": "5"}) is None
    env = {"OSM_L2SM_OSM_NBI": "https://nbi:9999/osm", "OSM_USER": "u", "OSM_PASSWORD": "p", "OSM_PROJECT": "pr",
           "OSM_L2SM_OSM_INSECURE": "1", "OSM_L2SM_OSM_NBI_TIMEOUT": "3", "OSM_L2SM_OSM_CACHE_SECONDS": "10",
           "OSM_L2SM_OSM_GC_SECONDS": "20", "OSM_L2SM_OSM_REFUSE_SECONDS": "30", "POD_NAMESPACE": "l2sm-system"}
    assert osm_config_from_env(env) == OsmConfig("https://nbi:9999/osm", "u", "p", "pr", verify_tls=False,
                                                 nbi_timeout=3.0, cache_seconds=10.0, gc_seconds=20.0,
                                                 refuse_seconds=30.0, status_namespace="l2sm-system",
                                                 status_configmap="l2sm-osm-status")


def test_a_bad_osm_setting_stops_the_operator_at_its_start_with_one_line(monkeypatch, capsys):
    monkeypatch.setenv("OSM_L2SM_OSM_NBI", "http://127.0.0.1:9/osm")
    monkeypatch.setenv("OSM_L2SM_OSM_GC_SECONDS", "soon")
    assert main(["operator", "run", "--webhook-port", "18443", "--kubeconfig", "/nonexistent"]) == 1
    assert capsys.readouterr().err == ("osm-l2sm: error: OSM_L2SM_OSM_GC_SECONDS='soon': expected a number of "
                                       "seconds\n")
