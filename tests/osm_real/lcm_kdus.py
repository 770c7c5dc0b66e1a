"""Run with the LCM tier's Python (3.10) and LCM's sources on PYTHONPATH: an NS's KDUs installed or uninstalled by
OSM LCM's own ``K8sHelm3Connector``, called as ``NsLcm.deploy_kdus`` / ``_install_kdu`` and termination call it.

stdin (JSON):
- ``{"op": "install", "storage": ..., "kubeconfig": ..., "nsr": {...}, "vnfrs": [...], "vnfds": [...],
  "atomic": bool, "timeout": s}``: ``storage`` is the package store NBI wrote (LCM shares it with NBI; here an
  ``osm_common`` FsLocal on it), ``kubeconfig`` the cluster's credentials (LCM gets them from the k8scluster
  record), the records are those real NBI made. Prints ``{"kdus": [{"member-vnf-index", "kdu-name",
  "kdu-instance", "namespace", "kdu-model", "k8scluster-uuid"}]}``.
- ``{"op": "uninstall", "storage": ..., "kdus": [<as printed by install>]}``.

What LCM does around these calls and is not repeated: repository synchronisation (bundled charts need none), the
status loop's writes beyond the in-memory NS record, services and execution environments.
"""
import asyncio
import json
import logging
import shutil
import sys

from osm_common.dbmemory import DbMemory
from osm_common.fslocal import FsLocal
from osm_lcm.data_utils.dict_utils import parse_yaml_strings
from osm_lcm.n2vc.k8s_helm3_conn import K8sHelm3Connector

CLUSTER_TYPE = "helm-chart-v3"  # what deploy_kdus uses for every helm-chart KDU


def connector(storage: str, db: DbMemory) -> K8sHelm3Connector:
    fs = FsLocal()
    fs.fs_connect({"path": storage})
    return K8sHelm3Connector(fs=fs, db=db, kubectl_command=shutil.which("kubectl"), helm_command=shutil.which("helm"),
                             log=logging.getLogger("lcm"))


def kdu_model(fs: FsLocal, vnfd: dict, chart: str) -> str:
    """The chart as deploy_kdus resolves it: the bundled ``<folder>/<pkg-dir>/helm-chart-v3s/<chart>`` when it
    exists, else the name as given (a repository chart)."""
    storage = vnfd["_admin"]["storage"]
    if storage["pkg-dir"]:
        filename = f"{storage['folder']}/{storage['pkg-dir']}/{CLUSTER_TYPE}s/{chart}"
    else:
        filename = f"{storage['folder']}/Scripts/{CLUSTER_TYPE}s/{chart}"
    if fs.file_exists(filename, mode="file") or fs.file_exists(filename, mode="dir"):
        return fs.path + filename
    return chart


async def install(given: dict) -> list[dict]:
    db = DbMemory()
    nsr = dict(given["nsr"])
    nsr.setdefault("_admin", {})["deployed"] = {"K8s": []}
    db.create("nsrs", nsr)
    for vnfr in given["vnfrs"]:
        db.create("vnfrs", vnfr)
        for kdur in vnfr.get("kdur") or []:  # NsLcm.instantiate: NBI stores them JSON-encoded
            if kdur.get("additionalParams"):
                kdur["additionalParams"] = json.loads(kdur["additionalParams"])
    helm = connector(given["storage"], db)
    vnfds = {v["_id"]: v for v in given["vnfds"]}
    clusters, deployed = {}, []
    for vnfr in given["vnfrs"]:
        for kdur in vnfr.get("kdur") or []:
            cluster_id = kdur["k8s-cluster"]["id"]
            if cluster_id not in clusters:  # deploy_kdus' _get_cluster_id: a cluster not initialised for helm v3 yet
                clusters[cluster_id], _ = await helm.init_env(given["kubeconfig"], reuse_cluster_uuid=cluster_id)
            info = {"kdu-instance": None, "k8scluster-uuid": clusters[cluster_id],
                    "k8scluster-type": CLUSTER_TYPE, "member-vnf-index": vnfr["member-vnf-index-ref"],
                    "kdu-name": kdur["kdu-name"],
                    "kdu-model": kdu_model(helm.fs, vnfds[vnfr["vnfd-id"]], kdur["helm-chart"]),
                    "namespace": kdur.get("k8s-namespace"), "kdu-deployment-name": kdur.get("kdu-deployment-name")}
            index = len(deployed)
            db_dict = {"collection": "nsrs", "filter": {"_id": nsr["_id"]}, "path": f"_admin.deployed.K8s.{index}"}
            db.set_one("nsrs", {"_id": nsr["_id"]}, {db_dict["path"]: info})
            # _install_kdu
            info["kdu-instance"] = info["kdu-deployment-name"] or helm.generate_kdu_instance_name(
                db_dict=db_dict, kdu_model=info["kdu-model"], kdu_name=info["kdu-name"])
            db.set_one("nsrs", {"_id": nsr["_id"]}, {db_dict["path"] + ".kdu-instance": info["kdu-instance"]})
            await helm.install(cluster_uuid=info["k8scluster-uuid"], kdu_model=info["kdu-model"],
                               atomic=given["atomic"], params=parse_yaml_strings(kdur.get("additionalParams")),
                               db_dict=db_dict, timeout=given["timeout"], kdu_name=info["kdu-name"],
                               namespace=info["namespace"], kdu_instance=info["kdu-instance"])
            deployed.append(info)
    return deployed


async def uninstall(given: dict) -> None:
    helm = connector(given["storage"], DbMemory())
    for kdu in given["kdus"]:
        await helm.uninstall(kdu["k8scluster-uuid"], kdu["kdu-instance"])


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    given = json.load(sys.stdin)
    if given["op"] == "install":
        print(json.dumps({"kdus": asyncio.run(install(given))}))
    else:
        asyncio.run(uninstall(given))


if __name__ == "__main__":
    main()
