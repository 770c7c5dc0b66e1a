"""The REST server under hostile clients: oversized and deeply nested bodies, a client that sends nothing, more
connections than workers, and bodies of the wrong shape on every route. None of it is a 500 or stops the controller."""
from __future__ import annotations

import concurrent.futures
import socket

import pytest
import requests

from osm_l2sm.controller.rest import MAX_BODY, MAX_DEPTH
from tests.controllers import running_controller

WORKERS = 2
READ_TIMEOUT = 2  # seconds of silence after which the server closes a connection


@pytest.fixture(scope="module")
def controller(tmp_path_factory):
    folder = tmp_path_factory.mktemp("limits")
    with running_controller(folder, options=("--rest-threads", str(WORKERS), "--rest-timeout", str(READ_TIMEOUT))) \
            as proc:
        yield proc


def memory_kb(pid: int, key: str) -> int:
    """VmRSS (now) or VmHWM (peak so far) of a process, in kB."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key + ":"))


def address(controller) -> tuple[str, int]:
    host, port = controller.rest_listen.rsplit(":", 1)
    return host, int(port)


def post(controller, path: str, data: bytes, **kw) -> requests.Response:
    return requests.post(controller.url + path, data=data, timeout=60, **kw)


def assert_answers(controller) -> None:
    assert controller.running
    assert requests.get(controller.url + "/api/v1/networks", timeout=10).status_code == 200


def test_a_50_mb_body_is_413_and_never_read_into_memory(controller):
    peak_before = memory_kb(controller.pid, "VmHWM")
    big = b'{"name": "' + b"a" * (50 << 20) + b'"}'
    resp = post(controller, "/api/v1/networks", big)
    assert resp.status_code == 413
    assert post(controller, "/api/v1/networks", b"[" + b"{}," * (10 << 20) + b"{}]").status_code == 413

    def chunks():  # no Content-Length: the server counts as it reads
        for _ in range(50):
            yield b"[" + b"{}," * (1 << 18)
    assert post(controller, "/api/v1/ports", chunks()).status_code == 413
    # a parsed 31 MB body of [{},...] took the controller from 56 to 884 MB; refused unread it costs about nothing
    assert memory_kb(controller.pid, "VmHWM") - peak_before < 20 * 1024
    assert_answers(controller)


def test_a_too_large_body_is_refused_in_the_apis_error_shape(controller):
    """The server's own 413 (before the app sees the request) is JSON like every other error of the API."""
    resp = post(controller, "/api/v1/networks", b'{"name": "' + b"a" * (2 * MAX_BODY) + b'"}')
    assert resp.status_code == 413
    assert resp.headers["Content-Type"] == "application/json"
    assert "max_body" in resp.json()["error"]
    not_found = requests.get(controller.url + "/api/v1/networks/nothing", timeout=10)
    assert set(resp.json()) == set(not_found.json()) == {"error"}


def test_a_body_just_under_the_limit_is_read(controller):
    body = b'{"name": "near-limit", "pad": "' + b"x" * (MAX_BODY - 100) + b'"}'
    assert len(body) <= MAX_BODY
    resp = post(controller, "/api/v1/networks", body)
    assert resp.status_code == 201, resp.text
    requests.delete(controller.url + "/api/v1/networks/near-limit", timeout=10)


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,                          # past the interpreter's recursion limit
    b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
    b'{"name": "n", "cidr": ' + b"[" * 900 + b"]" * 900 + b"}",  # parses, but too deep to handle
    b'{"name": "n", "x": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}",
])
@pytest.mark.parametrize("method,path", [("POST", "/api/v1/networks"), ("POST", "/api/v1/ports"),
                                         ("PUT", "/api/v1/switches/s1")])
def test_deeply_nested_bodies_are_400(controller, body, method, path):
    resp = requests.request(method, controller.url + path, data=body, timeout=30)
    assert resp.status_code == 400, resp.text
    assert "nests deeper" in resp.json()["error"]
    assert_answers(controller)


def test_a_client_that_sends_nothing_is_dropped_while_others_are_served(controller):
    silent = socket.create_connection(address(controller))
    halfway = socket.create_connection(address(controller))
    halfway.sendall(b"POST /api/v1/networks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    try:
        for _ in range(3 * WORKERS):  # the silent ones hold no worker
            assert_answers(controller)
        for sock in (silent, halfway):
            sock.settimeout(10 * READ_TIMEOUT)  # a bound for the test, not the behaviour under test
            assert sock.recv(1024) == b"", "the server closes a silent connection"
    finally:
        silent.close()
        halfway.close()
    assert_answers(controller)


def test_more_concurrent_clients_than_workers_are_all_served(controller):
    held = [socket.create_connection(address(controller)) for _ in range(5 * WORKERS)]  # idle connections on top

    def one(i: int) -> tuple[int, int]:
        made = requests.post(controller.url + "/api/v1/networks", json={"name": f"busy{i}"}, timeout=60)
        listed = requests.get(controller.url + "/api/v1/networks", timeout=60)
        return made.status_code, listed.status_code

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=20 * WORKERS) as pool:
            answers = list(pool.map(one, range(20 * WORKERS)))
    finally:
        for sock in held:
            sock.close()
    assert answers == [(201, 200)] * (20 * WORKERS)
    names = {n["name"] for n in requests.get(controller.url + "/api/v1/networks", timeout=10).json()}
    assert {f"busy{i}" for i in range(20 * WORKERS)} <= names


WRONG = [None, 1, 1.5, True, "", [], [1], {}, {"a": 1}, "\ud800", "a" * 300, -1, 2 ** 70]


def test_fields_of_the_wrong_type_are_400_on_every_route(controller):
    url = controller.url + "/api/v1"
    requests.post(f"{url}/networks", json={"name": "typed", "cidr": "10.9.0.0/24"}, timeout=10)
    cases = []
    for key in ("name", "cidr", "description", "interdomain"):
        cases += [("POST", "/networks", {"name": "n1", key: v}) for v in WRONG if key != "name" or v is not None]
    cases += [("POST", "/networks", {"name": "n1", "interdomain": {"tag": v}}) for v in WRONG]
    port = {"network": "typed", "switch": "s1", "interface": "v1", "mac": "02:00:00:00:00:01"}
    for key in ("network", "switch", "interface", "mac", "ips"):
        cases += [("POST", "/ports", dict(port, **{key: v})) for v in WRONG if v is not None]
    cases += [("POST", "/ports", dict(port, ips=[v])) for v in WRONG]
    for key in ("dpid", "tunnels", "domain_links"):
        cases += [("PUT", "/switches/s1", {"dpid": "00000000000000a1", "tunnels": {}, key: v})
                  for v in WRONG + [{"p": None}, {"p": []}, {"": "v"}] if key == "dpid" or v not in (None, {}, [])]
    statuses = {}
    for method, path, body in cases:
        resp = requests.request(method, url + path, json=body, timeout=10)
        statuses.setdefault(resp.status_code, []).append((method, path, body))
        if resp.status_code < 400:  # accepted (an update or a harmless value): undo for the next case
            requests.delete(url + ("/networks/n1" if path == "/networks" else "/ports/s1/v1" if path == "/ports"
                                   else "/switches/s1"), timeout=10)
    assert set(statuses) <= {200, 201, 400}, {k: v[:3] for k, v in statuses.items() if k not in (200, 201, 400)}
    assert len(statuses.get(400, ())) > len(cases) * 3 // 4
    for path in ("/networks/%ff", "/networks/" + "a" * 5000, "/ports/a/%00", "/switches/%ff%fe", "/sync?wait=nan"):
        for method in ("GET", "DELETE", "PUT", "POST"):
            assert requests.request(method, url + path, json={}, timeout=10).status_code < 500, (method, path)
    assert_answers(controller)
