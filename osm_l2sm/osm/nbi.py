"""A small client of OSM's northbound interface (NBI): packages, NS instances, LCM operations, K8s clusters.

``connect_nbi`` returns an osmclient-backed client when osmclient is importable, else :class:`RestNbi`, which speaks
the documented SOL005 REST API itself. Both raise :class:`~osm_l2sm.errors.L2smError` with one readable line.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import requests
import yaml
from urllib3.exceptions import InsecureRequestWarning

from osm_l2sm.errors import L2smError
from osm_l2sm.processes import wait_until

from .nsconfig import osmclient_form

log = logging.getLogger(__name__)

DEFAULT_PORT = 9999
NS_DESCRIPTION = "default description"  # what osmclient sends as nsDescription (it has no option for it)
FINAL_OP_STATES = ("COMPLETED", "FAILED", "PARTIALLY_COMPLETED", "FAILED_TEMP", "ROLLED_BACK")

_STATUS_HINTS = {
    401: "authentication failed (check --user/--password/--project)",
    403: "not allowed",
    404: "not found",
    409: "conflict",
}


def nbi_base_url(host: str) -> str:
    """``host``, ``host:port`` or a full URL → the NBI base URL (``https://host:9999/osm`` by default)."""
    if "://" not in host:
        host = f"https://{host}"
    parts = urlsplit(host)
    if not parts.hostname:
        raise L2smError(f"bad OSM host {host!r}")
    netloc = parts.netloc if parts.port else f"{parts.netloc}:{DEFAULT_PORT}"
    path = parts.path.rstrip("/") or "/osm"
    return f"{parts.scheme}://{netloc}{path}"


def _error_detail(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip().splitlines()[0] if resp.text.strip() else ""
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("error") or body.get("message") or "")
    return ""


# what OpenSSL says when the other end answers a TLS hello with something that is not TLS (plain HTTP, mostly)
_NOT_TLS = ("wrong version number", "record layer failure", "unknown protocol", "packet length too long",
            "http request")


def tls_error_message(base: str, err: Exception, verify: bool) -> str:
    """One line naming the likely cause of a TLS failure: a plain-HTTP server, else the certificate check."""
    text = str(err).lower()
    if any(marker in text for marker in _NOT_TLS):
        parts = urlsplit(base)
        return (f"OSM NBI at {parts.netloc} does not speak TLS (it answered the TLS handshake with something else, "
                f"likely plain HTTP): use --osm-host http://{parts.netloc}{parts.path} if it serves HTTP")
    if "certificate" in text and verify:
        return (f"TLS error talking to OSM NBI at {base}: its certificate is not trusted here (give --insecure to "
                f"skip certificate checks, or REQUESTS_CA_BUNDLE=<CA file>)")
    reason = str(err).splitlines()[0] if str(err) else err.__class__.__name__
    return f"TLS error talking to OSM NBI at {base}: {reason[-200:]}"


class OperationTimeout(L2smError):
    """An LCM operation still running when the client stopped waiting (the operation itself goes on in OSM)."""


def find_by_name_or_id(items: list[dict], key: str, what: str) -> dict:
    for field_ in ("_id", "id", "name"):
        found = [i for i in items if i.get(field_) == key]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ids = ", ".join(str(i.get("_id") or i.get("id")) for i in found)
            raise L2smError(f"{what} {key!r} is ambiguous: {len(found)} match by {field_}; give the id ({ids})",
                            status=409)
    raise L2smError(f"{what} {key!r} not found in OSM", status=404)


def osmclient_config(config: dict | None, vim_id, wim_id) -> dict:
    """An ns-create config turned into NBI's ``ns_instantiate`` keys the way osmclient does it.

    NBI's schema has ``additionalProperties: false`` and wants ids: ``vnf[].vim_account`` becomes ``vimAccountId``,
    an old top-level ``vim-network-name`` list becomes ``vld``, the VIM names keying ``vld[].vim-network-name``
    become VIM ids, ``wim_account`` (NS or vld) becomes
    ``wimAccountId`` (``false`` and ``null`` pass as they are). ``vim_id``/``wim_id`` map a name or id to the id.
    """
    body = osmclient_form(config)
    for vnf in body.get("vnf") or []:
        if isinstance(vnf, dict) and vnf.get("vim_account"):
            vnf["vimAccountId"] = vim_id(vnf.pop("vim_account"))
    for vld in body.get("vld") or []:
        if not isinstance(vld, dict):
            continue
        names = vld.get("vim-network-name")
        if isinstance(names, dict):
            vld["vim-network-name"] = {vim_id(vim): net for vim, net in names.items()}
        if "wim_account" in vld:
            vld["wimAccountId"] = _wim_value(vld.pop("wim_account"), wim_id)
    if "wim_account" in body:
        body["wimAccountId"] = _wim_value(body.pop("wim_account"), wim_id)
    return body


def _wim_value(value, wim_id):
    return wim_id(value) if isinstance(value, str) else value


class RestNbi:
    """NBI over plain HTTP(S): token auth, bearer header, TLS verify switch, timeouts."""

    def __init__(self, host: str, user: str = "admin", password: str = "admin", project: str = "admin",
                 verify: bool = True, timeout: float = 30.0):
        self.base = nbi_base_url(host)
        self.user, self.password, self.project = user, password, project
        self.timeout = timeout
        self.verify = verify
        self.session = requests.Session()
        self._token: str | None = None

    # -- plumbing -----------------------------------------------------------------------------------------------
    def _authenticate(self) -> None:
        body = {"username": self.user, "password": self.password, "project_id": self.project}
        resp = self._send("POST", "/admin/v1/tokens", json=body, auth=False)
        token = resp.json().get("id") if resp.content else None
        if not token:
            raise L2smError(f"OSM NBI at {self.base} answered the token request without an id", status=502)
        self._token = token

    def _send(self, method: str, path: str, auth: bool = True, ok_404: bool = False, **kwargs) -> requests.Response:
        if auth and self._token is None:
            self._authenticate()
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        url = self.base + path
        try:
            with warnings.catch_warnings():
                if not self.verify:  # the user asked for --insecure; do not nag on every request
                    warnings.simplefilter("ignore", InsecureRequestWarning)
                # verify per request: a session-wide setting loses to REQUESTS_CA_BUNDLE from the environment
                resp = self.session.request(method, url, headers=headers, timeout=self.timeout,
                                            verify=self.verify, **kwargs)
        except requests.exceptions.SSLError as err:
            raise L2smError(tls_error_message(self.base, err, self.verify), status=502) from err
        except requests.exceptions.Timeout as err:
            raise L2smError(f"OSM NBI at {self.base} did not answer within {self.timeout:g}s", status=504) from err
        except requests.exceptions.RequestException as err:
            raise L2smError(f"cannot reach OSM NBI at {self.base}: {err.__class__.__name__}", status=502) from err
        if resp.status_code == 404 and ok_404:
            return resp
        if resp.status_code >= 400:
            detail = _error_detail(resp)
            hint = _STATUS_HINTS.get(resp.status_code, "server error" if resp.status_code >= 500 else "rejected")
            msg = f"OSM NBI {method} {path}: {resp.status_code} {hint}"
            raise L2smError(f"{msg}: {detail}" if detail else msg, status=resp.status_code)
        return resp

    def _json(self, method: str, path: str, **kwargs):
        resp = self._send(method, path, **kwargs)
        return resp.json() if resp.content else {}

    # -- packages ----------------------------------------------------------------------------------------------
    def list_nsds(self) -> list[dict]:
        return self._json("GET", "/nsd/v1/ns_descriptors")

    def list_vnfds(self, vnfd_id: str | None = None) -> list[dict]:
        params = {"id": vnfd_id} if vnfd_id else None
        return self._json("GET", "/vnfpkgm/v1/vnf_packages", params=params)

    def get_nsd(self, name_or_id: str) -> dict:
        return find_by_name_or_id(self.list_nsds(), name_or_id, "NSD")

    def get_vnfd(self, name_or_id: str) -> dict:
        return find_by_name_or_id(self.list_vnfds(name_or_id) or self.list_vnfds(), name_or_id, "VNFD")

    def nsd_text(self, name_or_id: str) -> str:
        """The NSD's descriptor YAML."""
        nsd = self.get_nsd(name_or_id)
        return self._send("GET", f"/nsd/v1/ns_descriptors/{nsd['_id']}/nsd",
                          headers={"Accept": "text/plain"}).text

    def vnfd_text(self, name_or_id: str) -> str:
        """The VNFD's descriptor YAML."""
        vnfd = self.get_vnfd(name_or_id)
        return self._send("GET", f"/vnfpkgm/v1/vnf_packages/{vnfd['_id']}/vnfd",
                          headers={"Accept": "text/plain"}).text

    def _onboard(self, path: str, package: Path) -> str:
        data = package.read_bytes()
        gz = package.name.endswith((".tar.gz", ".tgz"))
        headers = {"Content-Type": "application/gzip" if gz else "application/yaml",
                   "Content-Filename": package.name}
        return self._json("POST", path, data=data, headers=headers)["id"]

    def onboard_nsd(self, package: Path) -> str:
        """Upload an NS package (``.tar.gz`` or YAML); return its id."""
        return self._onboard("/nsd/v1/ns_descriptors_content", Path(package))

    def onboard_vnfd(self, package: Path) -> str:
        """Upload a VNF package (``.tar.gz`` or YAML); return its id."""
        return self._onboard("/vnfpkgm/v1/vnf_packages_content", Path(package))

    # -- NS lifecycle ------------------------------------------------------------------------------------------
    def list_vim_accounts(self) -> list[dict]:
        return self._json("GET", "/admin/v1/vim_accounts")

    def vim_account_id(self, name_or_id: str) -> str:
        return find_by_name_or_id(self.list_vim_accounts(), name_or_id, "VIM account")["_id"]

    def list_wim_accounts(self) -> list[dict]:
        return self._json("GET", "/admin/v1/wim_accounts")

    def wim_account_id(self, name_or_id: str) -> str:
        return find_by_name_or_id(self.list_wim_accounts(), name_or_id, "WIM account")["_id"]

    def list_ns(self) -> list[dict]:
        return self._json("GET", "/nslcm/v1/ns_instances_content")

    def get_ns(self, name_or_id: str) -> dict:
        return find_by_name_or_id(self.list_ns(), name_or_id, "NS instance")

    def ns_record(self, ns_id: str) -> dict:
        """The NS record (with its NSD and ``instantiate_params``) of the NS instance ``ns_id``."""
        try:
            return self._json("GET", f"/nslcm/v1/ns_instances_content/{ns_id}")
        except L2smError as err:
            if err.status == 404:
                raise L2smError(f"NS instance {ns_id} is unknown to OSM (NBI at {self.base})", status=404) from None
            raise

    def vnf_records(self, ns_id: str) -> list[dict]:
        """The VNF records of the NS instance ``ns_id`` (``member-vnf-index-ref``, ``vnfd-ref``, ``kdur``, ...)."""
        return self._json("GET", "/nslcm/v1/vnf_instances", params={"nsr-id-ref": ns_id})

    def ns_create_body(self, ns_name: str, nsd_name: str, vim_account: str, config: dict | None = None,
                       ssh_keys: list[str] | None = None) -> dict:
        """The body of ``POST ns_instances_content`` as osmclient builds it: names of VIM/WIM accounts become ids,
        ``nsDescription`` is osmclient's default, ``ssh_keys`` (the public keys' texts) only when given, then the
        config's keys."""
        body = {"nsdId": self.get_nsd(nsd_name)["_id"], "nsName": ns_name, "nsDescription": NS_DESCRIPTION,
                "vimAccountId": self.vim_account_id(vim_account)}
        if ssh_keys is not None:
            body["ssh_keys"] = list(ssh_keys)
        body.update(osmclient_config(config, self.vim_account_id, self.wim_account_id))
        return body

    def ns_create(self, ns_name: str, nsd_name: str, vim_account: str, config: dict | None = None,
                  ssh_keys: list[str] | None = None) -> tuple[str, str]:
        """Instantiate an NS; return ``(ns id, LCM operation id)``."""
        body = self.ns_create_body(ns_name, nsd_name, vim_account, config, ssh_keys)
        answer = self._json("POST", "/nslcm/v1/ns_instances_content", json=body)
        return answer["id"], answer.get("nslcmop_id", "")

    def ns_delete(self, name_or_id: str, force: bool = False, config: dict | None = None) -> str | None:
        """Terminate and delete an NS; return the LCM operation id (None when deleted at once). ``config``
        (``autoremove``, ``timeout_ns_terminate``, ``skip_terminate_primitives``, ...) goes in the query string and
        force as ``FORCE=True``, as osmclient sends them."""
        ns = self.get_ns(name_or_id)
        params = {str(k): str(v) for k, v in (config or {}).items()}
        if force:
            params["FORCE"] = "True"
        resp = self._send("DELETE", f"/nslcm/v1/ns_instances_content/{ns['_id']}", params=params or None)
        if resp.status_code == 202 and resp.content:
            answer = resp.json()
            return answer.get("_id") or answer.get("id") or answer.get("nslcmop_id")
        # NBI v19 answers 204 for an NS whose instantiation LCM never started, yet keeps its record
        if not force and any(n.get("_id") == ns["_id"] for n in self.list_ns()):
            state = (ns.get("_admin") or {}).get("nsState") or ns.get("nsState") or "unknown"
            raise L2smError(f"OSM kept NS instance {name_or_id!r} (nsState {state}: LCM never started it) although "
                            "NBI accepted the deletion; delete it with --force", status=409)
        return None

    def wait_op(self, op_id: str, timeout: float = 600.0, interval: float = 2.0, gone_is_done: bool = False) -> dict:
        """Poll ``ns_lcm_op_occs/<op_id>`` until a final state; raise unless COMPLETED.

        ``gone_is_done``: after a delete the operation disappears with its NS, which means it finished.
        """
        state = ""

        def final() -> dict | None:
            nonlocal state
            resp = self._send("GET", f"/nslcm/v1/ns_lcm_op_occs/{op_id}", ok_404=gone_is_done)
            if resp.status_code == 404:
                return {"operationState": "COMPLETED"}
            op = resp.json()
            state = op.get("operationState", "")
            if state not in FINAL_OP_STATES:
                return None
            if state != "COMPLETED":
                detail = op.get("detailed-status") or op.get("errorMessage") or ""
                raise L2smError(f"OSM operation {op_id} ({op.get('lcmOperationType', 'lcm')}) ended "
                                f"{state}" + (f": {detail}" if detail else ""), status=500)
            return op

        op = wait_until(final, timeout, interval)
        if op is None:
            raise OperationTimeout(f"OSM operation {op_id} still {state or 'pending'} after {timeout:g}s", status=504)
        return op

    # -- K8s clusters ------------------------------------------------------------------------------------------
    def list_k8sclusters(self) -> list[dict]:
        return self._json("GET", "/admin/v1/k8sclusters")

    def get_k8scluster(self, name_or_id: str) -> dict:
        return find_by_name_or_id(self.list_k8sclusters(), name_or_id, "K8s cluster")

    def k8scluster_body(self, body: dict) -> dict:
        """``body`` with its ``vim_account`` name resolved to the id NBI stores (what :meth:`k8scluster_add` sends)."""
        return dict(body, vim_account=self.vim_account_id(body["vim_account"]))

    def k8scluster_add(self, body: dict) -> str:
        """Register a K8s cluster (``body`` as NBI expects, ``vim_account`` may be a name); return its id."""
        return self._json("POST", "/admin/v1/k8sclusters", json=self.k8scluster_body(body))["id"]

    def wait_k8scluster(self, cluster_id: str, timeout: float = 600.0, interval: float = 2.0) -> dict:
        """Poll the K8s cluster until OSM's LCM has set it up (``_admin.operationalState`` ENABLED, as osmclient's
        ``--wait``); raise on ERROR or when still pending after ``timeout`` seconds."""
        last: dict = {}

        def enabled() -> dict | None:
            cluster = last["cluster"] = self._json("GET", f"/admin/v1/k8sclusters/{cluster_id}")
            admin = cluster.get("_admin") or {}
            state = last["state"] = admin.get("operationalState") or "unknown"
            if state == "ERROR":
                detail = admin.get("detailed-status") or ""
                raise L2smError(f"OSM could not set up K8s cluster {cluster.get('name')} ({cluster_id}): ERROR"
                                + (f": {str(detail).splitlines()[0]}" if detail else ""), status=500)
            return cluster if state == "ENABLED" else None

        cluster = wait_until(enabled, timeout, interval)
        if cluster is None:
            raise OperationTimeout(f"K8s cluster {last['cluster'].get('name')} ({cluster_id}) still {last['state']} "
                                   f"after {timeout:g}s (OSM's LCM sets it up; it stays registered)", status=504)
        return cluster


class OsmclientNbi(RestNbi):
    """osmclient for the lifecycle calls it offers, so its defaults (ports, auth, waiting) apply.

    Descriptor texts and look-ups reuse the REST calls, which osmclient's public API does not expose as text.
    """

    def __init__(self, host: str, user: str, password: str, project: str, verify: bool = True,
                 timeout: float = 30.0):
        super().__init__(host, user, password, project, verify, timeout)
        from osmclient import client as osmclient_client  # optional dependency

        # osmclient takes "host:port" and builds https://host:port/osm itself
        self.osm = osmclient_client.Client(host=urlsplit(self.base).netloc, sol005=True, user=user,
                                           password=password, project=project)

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # osmclient raises ClientException and friends
            raise L2smError(f"osmclient {what}: {str(err).splitlines()[0] if str(err) else err.__class__.__name__}",
                            status=getattr(err, "http_code", 500)) from err

    def ns_create(self, ns_name, nsd_name, vim_account, config=None, ssh_keys=None):
        config = dict(config or {}, **({"ssh_keys": list(ssh_keys)} if ssh_keys is not None else {}))
        ns_id = self._call("ns-create", self.osm.ns.create, nsd_name, ns_name, vim_account,
                           config=yaml.safe_dump(config), wait=False)
        ops = self._json("GET", "/nslcm/v1/ns_lcm_op_occs", params={"nsInstanceId": ns_id})
        return ns_id, (ops[-1]["_id"] if ops else "")

    def k8scluster_add(self, body):
        name = body["name"]
        self._call("k8scluster-add", self.osm.k8scluster.create, name, dict(body))
        return self.get_k8scluster(name)["_id"]


def connect_nbi(host: str, user: str = "admin", password: str = "admin", project: str = "admin",
                insecure: bool = False, timeout: float = 30.0, use_osmclient: bool | None = None) -> RestNbi:
    """The NBI client for ``host``: osmclient-backed when importable (or ``use_osmclient``), else plain REST."""
    if use_osmclient is None:
        try:
            import osmclient  # noqa: F401
            use_osmclient = True
        except ImportError:
            use_osmclient = False
    cls = OsmclientNbi if use_osmclient else RestNbi
    return cls(host, user, password, project, verify=not insecure, timeout=timeout)
