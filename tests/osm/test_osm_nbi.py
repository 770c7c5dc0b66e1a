"""The NBI client against the NBI double on a real socket: auth, look-ups, bodies, errors, TLS and timeouts."""
from __future__ import annotations

import socket
import threading

import pytest
from nbi_double import NbiDouble, NbiState, add_descriptor, build_app
from werkzeug.serving import make_server

from osm_l2sm.errors import L2smError
from osm_l2sm.osm.nbi import RestNbi, connect_nbi, nbi_base_url

NSD = """nsd:
  nsd:
  - id: demo_ns
    name: demo_ns
    vnfd-id: [demo_knf]
"""
VNFD = """vnfd:
  id: demo_knf
  product-name: demo_knf
"""


def client(double: NbiDouble, **kw) -> RestNbi:
    return connect_nbi(double.url, "admin", double.state.password, "proj1", **kw)


def test_base_url_defaults_to_https_port_9999_and_osm_path():
    assert nbi_base_url("osm.example") == "https://osm.example:9999/osm"
    assert nbi_base_url("10.0.0.5:8443") == "https://10.0.0.5:8443/osm"
    assert nbi_base_url("http://127.0.0.1:5000/osm/") == "http://127.0.0.1:5000/osm"


def test_token_then_bearer_on_every_call(nbi):
    add_descriptor(nbi.state, NSD)
    assert [n["id"] for n in client(nbi).list_nsds()] == ["demo_ns"]
    (token_body,) = nbi.state.bodies("POST", "/admin/v1/tokens")
    assert token_body == {"username": "admin", "password": "secret", "project_id": "proj1"}
    method, path, _, headers = nbi.state.calls[-1]
    assert (method, path) == ("GET", "/osm/nsd/v1/ns_descriptors")
    assert headers["Authorization"] == "Bearer " + next(iter(nbi.state.tokens))


def test_wrong_password_is_one_line_401(nbi):
    with pytest.raises(L2smError) as err:
        connect_nbi(nbi.url, "admin", "wrong").list_nsds()
    assert err.value.status == 401
    assert "401 authentication failed" in str(err.value) and "Invalid username or password" in str(err.value)
    assert "\n" not in str(err.value)


def test_descriptor_texts_by_name_and_unknown_name(nbi):
    add_descriptor(nbi.state, NSD)
    add_descriptor(nbi.state, VNFD)
    nbi_client = client(nbi)
    assert nbi_client.nsd_text("demo_ns") == NSD
    assert nbi_client.vnfd_text("demo_knf") == VNFD
    with pytest.raises(L2smError, match="NSD 'nope' not found in OSM") as err:
        nbi_client.nsd_text("nope")
    assert err.value.status == 404


def test_onboard_yaml_package_then_listed(nbi, tmp_path):
    path = tmp_path / "demo_knf.yaml"
    path.write_text(VNFD)
    vnfd_id = client(nbi).onboard_vnfd(path)
    assert [v["_id"] for v in client(nbi).list_vnfds("demo_knf")] == [vnfd_id]


def test_ns_create_body_keeps_config_and_resolves_names(nbi):
    nsd_uuid = add_descriptor(nbi.state, NSD)
    config = {"additionalParamsForNs": {"a": 1}, "vld": [{"name": "vl1", "vim-network-name": "x"}]}
    ns_id, op_id = client(nbi).ns_create("ns1", "demo_ns", "k8s-vim", config)
    (body,) = nbi.state.bodies("POST", "/nslcm/v1/ns_instances_content")
    assert body == {"nsName": "ns1", "nsdId": nsd_uuid, "vimAccountId": "vim-0001",
                    "nsDescription": "default description", **config}  # osmclient's description
    assert op_id and ns_id == nbi.state.ns[0]["_id"]
    assert client(nbi).wait_op(op_id, interval=0.01)["operationState"] == "COMPLETED"


def test_ns_create_conflict_and_server_error(nbi):
    add_descriptor(nbi.state, NSD)
    client(nbi).ns_create("ns1", "demo_ns", "k8s-vim")
    with pytest.raises(L2smError, match="409 conflict: NS ns1 already exists") as err:
        client(nbi).ns_create("ns1", "demo_ns", "k8s-vim")
    assert err.value.status == 409
    nbi.state.ns_create_status = 500
    with pytest.raises(L2smError, match="500 server error: internal error in LCM"):
        client(nbi).ns_create("ns2", "demo_ns", "k8s-vim")


def test_failed_operation_raises_with_its_status(nbi):
    add_descriptor(nbi.state, NSD)
    nbi.state.op_outcome = "FAILED"
    _, op_id = client(nbi).ns_create("ns1", "demo_ns", "k8s-vim")
    with pytest.raises(L2smError, match=r"instantiate\) ended FAILED: helm install failed"):
        client(nbi).wait_op(op_id, interval=0.01)


def test_unknown_vim_account(nbi):
    add_descriptor(nbi.state, NSD)
    with pytest.raises(L2smError, match="VIM account 'other' not found"):
        client(nbi).ns_create("ns1", "demo_ns", "other")
    assert nbi.state.bodies("POST", "/nslcm/v1/ns_instances_content") == []


def test_ns_delete_waits_until_the_operation_is_gone(nbi):
    add_descriptor(nbi.state, NSD)
    nbi_client = client(nbi)
    nbi_client.ns_create("ns1", "demo_ns", "k8s-vim")
    op_id = nbi_client.ns_delete("ns1")
    nbi.state.ops.pop(op_id)  # OSM drops the operation together with the NS
    assert nbi_client.wait_op(op_id, interval=0.01, gone_is_done=True)["operationState"] == "COMPLETED"
    assert nbi.state.ns == []
    with pytest.raises(L2smError, match="NS instance 'ns1' not found"):
        nbi_client.ns_delete("ns1")


def test_unreachable_host_names_the_url():
    from osm_testdata import free_port

    url = f"http://127.0.0.1:{free_port()}/osm"
    with pytest.raises(L2smError, match=f"cannot reach OSM NBI at {url}"):
        connect_nbi(url).list_nsds()


def test_silent_server_times_out():
    with socket.socket() as s:  # accepts connections (backlog) but never answers
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        url = f"http://127.0.0.1:{s.getsockname()[1]}/osm"
        with pytest.raises(L2smError, match=r"did not answer within 0.3s") as err:
            connect_nbi(url, timeout=0.3).list_nsds()
    assert err.value.status == 504


@pytest.fixture
def tls_nbi():
    state = NbiState()
    server = make_server("127.0.0.1", 0, build_app(state), threaded=True, ssl_context="adhoc")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}/osm", state
    finally:
        server.shutdown()
        server.server_close()


def test_tls_self_signed_needs_insecure(tls_nbi):
    url, state = tls_nbi
    add_descriptor(state, NSD)
    with pytest.raises(L2smError, match=r"TLS error .*certificate is not trusted here \(give --insecure"):
        connect_nbi(url, password=state.password).list_nsds()
    assert [n["id"] for n in connect_nbi(url, password=state.password, insecure=True).list_nsds()] == ["demo_ns"]


def test_k8scluster_add_resolves_the_vim(nbi):
    body = {"name": "c1", "credentials": {"apiVersion": "v1"}, "k8s_version": "1.29", "vim_account": "k8s-vim",
            "nets": {"net1": None}, "namespace": "kube-system", "description": ""}
    cluster_id = client(nbi).k8scluster_add(body)
    (sent,) = nbi.state.bodies("POST", "/admin/v1/k8sclusters")
    assert sent == dict(body, vim_account="vim-0001")
    assert client(nbi).get_k8scluster("c1")["_id"] == cluster_id


def test_console_script_reports_unreachable_osm_in_one_line(tmp_path):
    import subprocess
    import sys
    from osm_testdata import PACKAGES, free_port

    url = f"http://127.0.0.1:{free_port()}/osm"
    creds = tmp_path / "kubeconfig"
    creds.write_text("apiVersion: v1\nkind: Config\n")
    done = subprocess.run([sys.executable, "-m", "osm_l2sm", "k8scluster-add", "edge", "--creds", str(creds),
                           "--version", "1.29", "--vim", "v", "--package", *PACKAGES, "--osm-host", url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == f"osm-l2sm: error: cannot reach OSM NBI at {url}: ConnectionError\n"
