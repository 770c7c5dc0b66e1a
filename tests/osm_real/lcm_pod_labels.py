"""Run with the LCM tier's Python (3.10) and LCM's sources on PYTHONPATH: the pod labels OSM's LCM puts on a KDU.

Reads ``{"nsr": {...}, "vnfrs": [...], "kdu_instance": ..., "member_vnf_index": ..., "kdu_name": ...}`` on stdin,
fills an in-memory database as LCM's deploy_kdus has it when it installs the KDU (the records NBI made, plus the
``_admin.deployed.K8s`` entry of the KDU), and prints the dict of LCM's own ``K8sHelmBaseConnector._labels_dict``
(what its podLabels post-renderer writes with kustomize ``commonLabels``) as JSON.
"""
import asyncio
import json
import logging
import shutil
import sys

from osm_common.dbmemory import DbMemory
from osm_lcm.n2vc.k8s_helm3_conn import K8sHelm3Connector


class Fs:
    path = "/storage/"


def main() -> None:
    given = json.load(sys.stdin)
    nsr = dict(given["nsr"])
    nsr.setdefault("_admin", {})["deployed"] = {"K8s": [{
        "kdu-instance": given["kdu_instance"], "kdu-name": given["kdu_name"],
        "member-vnf-index": given["member_vnf_index"]}]}
    db = DbMemory()
    db.create("nsrs", nsr)
    for vnfr in given["vnfrs"]:
        db.create("vnfrs", vnfr)
    tool = shutil.which("true")  # the connector checks that kubectl and helm exist; neither runs here
    connector = K8sHelm3Connector(fs=Fs(), db=db, kubectl_command=tool, helm_command=tool,
                                  log=logging.getLogger("lcm"))
    labels = asyncio.run(connector._labels_dict({"filter": {"_id": nsr["_id"]}}, given["kdu_instance"]))
    print(json.dumps(labels))


if __name__ == "__main__":
    main()
