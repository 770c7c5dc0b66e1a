"""OSM release 19 whole without a cluster: what NBI, LCM and NG-RO do together through OSM's bus and database, seen
with the real osmclient only. LCM has RO register the dummy VIM; an NS on a cluster LCM cannot reach is marked
BROKEN by LCM (the operation FAILED, the reason Helm's); ``osm ns-delete`` has LCM try to terminate it, which fails
on a cluster it cannot reach, and only ``ns-delete --force`` removes the NS. Nothing is mocked."""
from __future__ import annotations

import pytest

from osm_l2sm.descriptors import build_package
from osm_real_kit import LOCAL
from tests.polling import wait_for
from osm_full_kit import unreachable_kubeconfig
from osm_ops import VIM, ns_record, osm, wait_state

pytestmark = pytest.mark.osm_full


def test_lcm_and_ro_register_the_vim_and_an_ns_on_an_unreachable_cluster_fails_then_goes(bare_osm, tmp_path):
    env = bare_osm
    for package in [build_package(path, tmp_path) for path in LOCAL]:
        osm(env, "nsd-create" if package.name == "cdn_ns.tar.gz" else "vnfd-create", str(package))
    osm(env, "vim-create", "--name", VIM, "--account_type", "dummy", "--auth_url", "http://127.0.0.1:1",
        "--user", "u", "--password", "p", "--tenant", "t")
    wait_for(lambda: '"operationState": "COMPLETED"' in osm(env, "vim-show", VIM).stdout,
             "the VIM's create operation COMPLETED by LCM and RO", timeout=120, interval=2)
    kubeconfig = unreachable_kubeconfig(tmp_path / "nowhere.yaml")
    osm(env, "k8scluster-add", "nowhere", "--creds", str(kubeconfig), "--version", "1.34", "--vim", VIM,
        "--k8s-nets", '{"cache-net": null, "content-net": null}', "--cni", '["multus"]')
    osm(env, "ns-create", "--ns_name", "lost", "--nsd_name", "cdn_ns", "--vim_account", VIM)
    record = wait_state(env, "lost", "BROKEN", timeout=600)
    assert "connection refused" in str(record.get("errorDetail")), record.get("errorDetail")
    ops = osm(env, "ns-op-list", "lost").stdout
    assert "instantiate" in ops and "FAILED" in ops, ops
    # LCM cannot uninstall from a cluster it cannot reach: the termination FAILS and NBI keeps the NS ...
    osm(env, "ns-delete", "lost")
    wait_for(lambda: osm(env, "ns-op-list", "lost").stdout.count("FAILED") == 2, "the terminate operation FAILED",
             timeout=300, interval=5)
    assert ns_record(env, "lost") is not None
    # ... until it is deleted with --force
    osm(env, "ns-delete", "lost", "--force")
    wait_for(lambda: ns_record(env, "lost") is None, "NS lost removed", timeout=60, interval=2)
