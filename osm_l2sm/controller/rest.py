"""The controller's northbound REST API (docs/controller-api.md), a Flask app over :class:`Controller`."""
from __future__ import annotations

import hmac
import json
import os
import logging
import time
import uuid

from flask import Flask, Response, g, jsonify, request
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask
from werkzeug.exceptions import HTTPException

from osm_l2sm.errors import L2smError
from osm_l2sm.protocol import REST_PREFIX as API

from .core import Controller

LOG = logging.getLogger(__name__)
MAX_BODY = 1 << 20  # bytes; the largest real body (a switch with a tunnel to every peer) is a few kB per 100 peers
MAX_DEPTH = 8       # nesting of objects and arrays; real bodies have 3
PAGE_MAX = 1000     # networks in one page of GET /networks?limit=
NEXT_HEADER = "X-Next-After"  # on a page that is not the last: the ``after`` of the next page


def _depth(data) -> int:
    """How deeply ``data`` nests (a scalar is 0), without recursion: a deep value must not exhaust the stack."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        value, level = todo.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        todo.extend((child, level + 1) for child in children)
    return deepest


def _body() -> dict:
    """The request's JSON object; 400 for anything else (413 above MAX_BODY comes from the server and Flask)."""
    raw = request.get_data(cache=False)
    try:
        data = json.loads(raw)
    except RecursionError:  # the C decoder gives up at the interpreter's recursion limit
        raise L2smError(f"body nests deeper than {MAX_DEPTH} levels", 400) from None
    except ValueError as err:  # not UTF-8 or not JSON
        raise L2smError(f"body is not JSON: {err}", 400) from None
    if not isinstance(data, dict):
        raise L2smError("body must be a JSON object", 400)
    if _depth(data) > MAX_DEPTH:
        raise L2smError(f"body nests deeper than {MAX_DEPTH} levels", 400)
    return data


def _network_page(state, args) -> Response:
    """GET /networks?limit=N&after=NAME: at most N networks (1..PAGE_MAX, default PAGE_MAX) whose names sort after
    NAME, in name order; when more follow, the NEXT_HEADER header holds the name to pass as ``after``."""
    raw = args.get("limit", str(PAGE_MAX))
    if not raw.isdigit() or not 1 <= int(raw) <= PAGE_MAX:
        raise L2smError(f"limit must be a number from 1 to {PAGE_MAX} (got {raw!r})", 400)
    limit, after = int(raw), args.get("after", "")
    names = sorted(n for n in list(state.networks) if n > after)
    parts = []
    for name in names[:limit]:
        try:
            parts.append(state.network_json(name))
        except KeyError:
            pass  # deleted while we read
    resp = Response("[" + ",".join(parts) + "]", mimetype="application/json")
    if len(names) > limit:
        resp.headers[NEXT_HEADER] = names[limit - 1]
    return resp


def _field(data: dict, key: str, required: bool = True):
    if required and key not in data:
        raise L2smError(f"missing field {key!r}", 400)
    return data.get(key)


class JsonErrorTask(ErrorTask):
    """waitress's own answers (413 above MAX_BODY, a malformed request) in the API's shape: {"error": ...}."""

    def execute(self):
        err = self.request.error
        body = json.dumps({"error": f"{err.reason}: {err.body}"}).encode()
        self.status = f"{err.code} {err.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    """The connection class the controller's waitress server uses (``server.channel_class``)."""
    error_task_class = JsonErrorTask


def create_app(controller: Controller, token: str | None = None) -> Flask:
    app = Flask("osm_l2sm.controller")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY  # also when the app runs under another server
    state = controller.state
    instance = uuid.uuid4().hex  # a node or operator seeing another one announces what it owns again

    @app.before_request
    def start_clock():
        g.start = time.perf_counter()

    @app.before_request
    def authenticate():
        if not token or request.path == "/healthz":
            return None
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise L2smError("missing or wrong bearer token", 401)
        return None

    @app.after_request
    def count(response):
        controller.metrics.rest_requests.labels(code=str(response.status_code)).inc()
        if "start" in g:  # the time the controller spent on the request, apart from the network and the client
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - g.start) * 1000:.2f}"
        return response

    @app.errorhandler(L2smError)
    def l2sm_error(err):
        return jsonify(error=str(err)), err.status

    @app.errorhandler(HTTPException)
    def http_error(err):
        return jsonify(error=f"{err.name}: {err.description}"), err.code

    @app.errorhandler(Exception)
    def unexpected(err):
        LOG.exception("request %s %s failed", request.method, request.path)
        return jsonify(error=f"internal error: {err}"), 500

    @app.get("/healthz")
    def healthz():
        # pid: lets a starter tell its own process from another; instance: changes with every start
        return jsonify(status="ok", pid=os.getpid(), instance=instance)

    @app.get("/metrics")
    def metrics():
        return Response(controller.metrics.text(), mimetype="text/plain; version=0.0.4")

    @app.get(f"{API}/networks")
    def list_networks():
        if "limit" not in request.args and "after" not in request.args:
            return Response(state.list_networks_json(), mimetype="application/json")
        return _network_page(state, request.args)

    @app.post(f"{API}/networks")
    def create_network():
        data = _body()
        view, created = controller.create_network(_field(data, "name"), data.get("cidr"), data.get("description"),
                                                  data.get("interdomain"), data.get("id"))
        return jsonify(view), 201 if created else 200

    @app.get(f"{API}/networks/<name>")
    def get_network(name):
        if name not in state.networks:
            raise L2smError(f"no network named {name}", 404)
        try:
            return Response(state.network_json(name), mimetype="application/json")
        except KeyError:
            raise L2smError(f"no network named {name}", 404) from None

    @app.delete(f"{API}/networks/<name>")
    def delete_network(name):
        controller.delete_network(name)
        return "", 204

    @app.get(f"{API}/ports")
    def list_ports():
        return jsonify(state.list_ports())

    @app.post(f"{API}/ports")
    def attach_port():
        data = _body()
        view, changed = controller.attach_port(_field(data, "network"), _field(data, "switch"),
                                               _field(data, "interface"), data.get("mac"), data.get("ips"))
        return jsonify(view), 201 if changed else 200

    @app.delete(f"{API}/ports/<switch>/<interface>")
    def detach_port(switch, interface):
        controller.detach_port(switch, interface)
        return "", 204

    @app.get(f"{API}/switches")
    def list_switches():
        return jsonify(state.list_switches())

    @app.put(f"{API}/switches/<name>")
    def register_switch(name):
        data = _body()
        return jsonify(controller.register_switch(name, _field(data, "dpid"), data.get("tunnels", {}),
                                                     data.get("domain_links", {})))

    @app.post(f"{API}/switches/<name>/sweep")
    def sweep_switch(name):
        return jsonify(swept=controller.sweep_switch(name))

    @app.delete(f"{API}/switches/<name>")
    def unregister_switch(name):
        controller.unregister_switch(name)
        return "", 204

    @app.get(f"{API}/sync")
    def sync():
        wait = request.args.get("wait", "0")
        try:
            seconds = float(wait)
            if not 0 <= seconds <= 60:
                raise ValueError(wait)
        except ValueError:
            raise L2smError(f"wait must be a number of seconds from 0 to 60 (got {wait!r})", 400) from None
        synced = controller.wait_synced(seconds)
        return jsonify(synced=synced, switches=controller.progress())

    @app.get(f"{API}/topology")
    def topology():
        return jsonify(state.topology())

    return app
