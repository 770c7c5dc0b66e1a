"""A test double of OSM's NBI, built from its documented endpoints (shared reference osm.md §4), served on a real
socket. It keeps what it was sent so tests can assert request bodies, and can be told to fail."""
from __future__ import annotations

import itertools
import threading
import uuid
from dataclasses import dataclass, field

import yaml
from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server


@dataclass
class NbiState:
    user: str = "admin"
    password: str = "secret"
    nsds: list = field(default_factory=list)  # {"_id", "id", "name", "text"}
    vnfds: list = field(default_factory=list)
    vim_accounts: list = field(default_factory=lambda: [{"_id": "vim-0001", "name": "k8s-vim"}])
    ns: list = field(default_factory=list)
    ops: dict = field(default_factory=dict)  # op id -> {"states": [...], "ns": id}
    k8sclusters: list = field(default_factory=list)
    calls: list = field(default_factory=list)  # (method, path, json or raw body, headers)
    tokens: set = field(default_factory=set)
    ns_create_status: int = 201  # set to 500 to make ns-create fail
    op_outcome: str = "COMPLETED"  # final state of LCM operations

    def bodies(self, method: str, path_end: str) -> list:
        return [body for m, p, body, _ in self.calls if m == method and p.endswith(path_end)]


def _descriptor_id(text: str) -> tuple[str, str]:
    doc = yaml.safe_load(text)
    if "nsd" in doc:
        nsd = doc["nsd"]["nsd"][0]
        return "nsd", nsd["id"]
    return "vnfd", doc["vnfd"]["id"]


def add_descriptor(state: NbiState, text: str) -> str:
    kind, desc_id = _descriptor_id(text)
    record = {"_id": str(uuid.uuid4()), "id": desc_id, "name": desc_id, "text": text}
    (state.nsds if kind == "nsd" else state.vnfds).append(record)
    return record["_id"]


def build_app(state: NbiState) -> Flask:
    app = Flask("nbi-double")
    op_ids = (f"op-{n}" for n in itertools.count(1))

    def error(code: int, detail: str):
        return jsonify({"code": code, "status": code, "detail": detail}), code

    @app.before_request
    def record_and_authorise():
        body = request.get_json(silent=True) if request.is_json else request.get_data()
        state.calls.append((request.method, request.path, body, dict(request.headers)))
        if request.path == "/osm/admin/v1/tokens":
            return None
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in state.tokens:
            return error(401, "Needed a token or Authorization http header")
        return None

    @app.post("/osm/admin/v1/tokens")
    def tokens():
        body = request.get_json()
        if body.get("username") != state.user or body.get("password") != state.password:
            return error(401, "Invalid username or password")
        token = uuid.uuid4().hex
        state.tokens.add(token)
        return jsonify({"id": token, "project_id": body.get("project_id")}), 200

    def listing(items, keep=("_id", "id", "name")):
        wanted = request.args.get("id")
        return jsonify([{k: i[k] for k in keep if k in i} for i in items if not wanted or i["id"] == wanted])

    def text_of(items, _id):
        found = [i for i in items if i["_id"] == _id]
        if not found:
            return error(404, f"Not found any descriptor with _id '{_id}'")
        return Response(found[0]["text"], mimetype="text/plain")

    @app.get("/osm/nsd/v1/ns_descriptors")
    def nsd_list():
        return listing(state.nsds)

    @app.get("/osm/nsd/v1/ns_descriptors/<_id>/nsd")
    def nsd_text(_id):
        return text_of(state.nsds, _id)

    @app.get("/osm/vnfpkgm/v1/vnf_packages")
    def vnfd_list():
        return listing(state.vnfds)

    @app.get("/osm/vnfpkgm/v1/vnf_packages/<_id>/vnfd")
    def vnfd_text(_id):
        return text_of(state.vnfds, _id)

    @app.post("/osm/nsd/v1/ns_descriptors_content")
    @app.post("/osm/vnfpkgm/v1/vnf_packages_content")
    def onboard():
        try:
            return jsonify({"id": add_descriptor(state, request.get_data(as_text=True))}), 201
        except (yaml.YAMLError, KeyError, TypeError):
            return error(422, "descriptor not understood")

    @app.get("/osm/admin/v1/vim_accounts")
    def vims():
        return jsonify(state.vim_accounts)

    @app.get("/osm/nslcm/v1/ns_instances_content")
    def ns_list():
        return jsonify(state.ns)

    def new_op(ns_id: str, op_type: str) -> str:
        op_id = next(op_ids)
        state.ops[op_id] = {"states": ["PROCESSING", state.op_outcome], "ns": ns_id, "type": op_type}
        return op_id

    @app.post("/osm/nslcm/v1/ns_instances_content")
    def ns_create():
        body = request.get_json()
        missing = [k for k in ("nsName", "nsdId", "vimAccountId") if k not in body]
        if missing:
            return error(422, f"missing {missing}")
        if state.ns_create_status >= 400:
            return error(state.ns_create_status, "internal error in LCM")
        if not any(n["_id"] == body["nsdId"] for n in state.nsds):
            return error(404, f"nsd {body['nsdId']} not found")
        if any(n["name"] == body["nsName"] for n in state.ns):
            return error(409, f"NS {body['nsName']} already exists")
        ns_id = str(uuid.uuid4())
        state.ns.append({"_id": ns_id, "name": body["nsName"], "nsd-id": body["nsdId"],
                         "instantiate_params": body})
        return jsonify({"id": ns_id, "nslcmop_id": new_op(ns_id, "instantiate")}), 201

    @app.delete("/osm/nslcm/v1/ns_instances_content/<ns_id>")
    def ns_delete(ns_id):
        if not any(n["_id"] == ns_id for n in state.ns):
            return error(404, f"NS {ns_id} not found")
        state.ns = [n for n in state.ns if n["_id"] != ns_id]
        return jsonify({"_id": new_op(ns_id, "terminate")}), 202

    @app.get("/osm/nslcm/v1/ns_lcm_op_occs/<op_id>")
    def op(op_id):
        if op_id not in state.ops:
            return error(404, f"operation {op_id} not found")
        record = state.ops[op_id]
        current = record["states"].pop(0) if len(record["states"]) > 1 else record["states"][0]
        return jsonify({"_id": op_id, "operationState": current, "lcmOperationType": record["type"],
                        "detailed-status": "helm install failed" if current == "FAILED" else "",
                        "nsInstanceId": record["ns"]})

    @app.get("/osm/admin/v1/k8sclusters")
    def clusters():
        return jsonify(state.k8sclusters)

    @app.post("/osm/admin/v1/k8sclusters")
    def cluster_add():
        body = request.get_json()
        if any(c["name"] == body["name"] for c in state.k8sclusters):
            return error(409, f"name '{body['name']}' already exists for k8sclusters")
        record = dict(body, _id=str(uuid.uuid4()))
        state.k8sclusters.append(record)
        return jsonify({"id": record["_id"], "op_id": next(op_ids)}), 202

    return app


class NbiDouble:
    """The double on 127.0.0.1:<free port>, served from a thread; ``url`` is the NBI base (…/osm)."""

    def __init__(self, state: NbiState | None = None):
        self.state = state or NbiState()
        self.server = make_server("127.0.0.1", 0, build_app(self.state), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/osm"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "NbiDouble":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
