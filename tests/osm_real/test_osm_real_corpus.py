"""Real users' OSM packages through OSM IM, NBI v19 onboarding, `osm-l2sm validate` and `osm-l2sm plan`.

The corpus (``real-osm-packages/`` beside the OSM kit) holds KNF packages, their NSDs, VM-only and mixed ones and a
legacy one. For every package the table printed at the end of the run gives OSM IM's verdict (the kit's
``osm-im-validate``), NBI's (``nbi-onboard --clean``: a fresh catalogue, the NSD with the VNFDs of its folder), ours,
and for an NSD the plan: its networks and the virtual links left to the cluster or to OSM's RO, with why.
"""
from __future__ import annotations

import subprocess

import pytest

from osm_l2sm.descriptors import DescriptorError, plan_ns, validate_all
from osm_l2sm.descriptors.errors import STRICTER

from real_corpus import as_nbi_serves, as_nbi_serves_packages, members, read_corpus, table
from real_packages import corpus_dir
from tests.descriptors.cdn_package_copies import PACKAGES, PackageCopy, mixed_ns

pytestmark = pytest.mark.osm_real

TABLE: list[tuple] = []
HEAD = ("package", "class", "OSM IM", "NBI v19", "osm-l2sm validate", "plan: networks / not wired")


@pytest.fixture(scope="module")
def corpus(osm_tier):
    return read_corpus(corpus_dir())


def osm_im_verdicts(osm_tier, entries) -> dict[str, str]:
    """OSM IM's verdict per package: PASS or its first problem (one run of the kit's osm-im-validate)."""
    done = subprocess.run([str(osm_tier["python"]), str(osm_tier["kit"] / "osm-im-validate"),
                           *(str(e.path) for e in entries)], capture_output=True, text=True, timeout=600,
                          check=False)
    verdicts = {}
    for line in done.stdout.splitlines():
        for e in entries:
            if line.startswith(str(e.path)) and e.dest not in verdicts:
                verdicts[e.dest] = line[len(str(e.path)):].split(": ", 1)[-1]
    return verdicts


def nbi_verdict(nbi, entry, group) -> tuple[bool, str]:
    """NBI's verdict on the package itself (its VNFDs onboarded first, into an empty catalogue): nbi-onboard's last
    line (NS packages go last, and an NSD's group has only the NSD)."""
    done = nbi.onboard(*(e.path for e in group), entry.path, clean=True)
    lines = done.stdout.strip().splitlines()
    line = lines[-1] if lines else f"no answer: {done.stderr.strip()[-200:]}"
    accepted = " HTTP 20" in line
    return accepted, "onboarded" if accepted else line.split(" HTTP ", 1)[-1][:90]


def plan_cell(plan) -> str:
    nets = ", ".join(n.vld for n in plan.networks) or "none"
    skipped = "; ".join(f"{u.vld}: {u.reason.split(':')[0]}" for u in plan.not_wired) or "-"
    return f"{len(plan.networks)} ({nets}) / {skipped}"


def planned(entry, group, wrong: list) -> str:
    """The plan cell of an NSD that NBI onboards: `osm-l2sm plan` of the package folders, and the plan the
    operator's OSM mode makes from the descriptors as NBI serves them (whatever `validate` said: it must plan)."""
    try:
        served = plan_ns(as_nbi_serves([entry] + group), "corpus")
    except DescriptorError as err:
        wrong.append(f"{entry.dest}: NBI onboards it, the OSM mode's planner refuses it: {err}")
        return f"OSM mode refuses: {err.path}: {err.problem}"
    mgmt = [vl["id"] for vl in entry.package.body.get("virtual-link-desc", []) if vl.get("mgmt-network") is True]
    wired = [n.vld for n in served.networks if n.vld in mgmt]
    if wired:
        wrong.append(f"{entry.dest}: management VLs {wired} planned as L2S-M networks")
    try:
        plan_ns([entry.package] + [e.package for e in group], "corpus")
        cli = ""
    except DescriptorError as err:  # refused for the package folder alone (a chart missing), said so
        cli = " (osm-l2sm plan of the folders: refused, stricter)" if STRICTER in str(err) else f" ({err.problem})"
    return plan_cell(served) + cli


def test_real_packages_validate_and_plan_as_osm_onboards_them(osm_tier, corpus, catalogue_nbi):
    im = osm_im_verdicts(osm_tier, corpus)
    wrong: list[str] = []
    for entry in corpus:
        group = members(entry, corpus)
        accepted, nbi = nbi_verdict(catalogue_nbi, entry, group)
        if entry.package is None:
            ours = [entry.load_error]
        else:
            ours = [str(e) for e in validate_all([entry.package] + [e.package for e in group])]
        verdict = "ok" if not ours else ("stricter: " if all(STRICTER in m for m in ours) else "refused: ") + \
            ours[0].split(": ", 1)[-1].split(f" ({STRICTER}")[0]
        if accepted and ours and not all(STRICTER in m for m in ours):
            wrong.append(f"{entry.dest}: NBI onboards it, osm-l2sm refuses without saying it is stricter: {ours}")
        plan = planned(entry, group, wrong) if accepted and entry.package.kind == "nsd" else "-"
        TABLE.append((entry.dest.removeprefix("pkgs/"), entry.cls, im.get(entry.dest, "?"), nbi, verdict, plan))
    assert not wrong, "\n".join(wrong)


def test_a_mixed_ns_nbi_onboards_is_planned_for_its_knfs(catalogue_nbi, tmp_path):
    """The CDN with a VM member on its content VL: NBI onboards it, osm-l2sm validates it and plans the KNFs on the
    cache VL, leaving the content VL (the VM side is RO's) and the VM's own VL alone."""
    copy = PackageCopy(tmp_path / "pkgs")
    packages = mixed_ns(copy)
    done = catalogue_nbi.onboard(copy.root / "vm_vnf", *(copy.root / name for name in PACKAGES), clean=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert validate_all(packages) == []
    plan = plan_ns(as_nbi_serves_packages(packages), "mixed")
    assert [n.vld for n in plan.networks] == ["cache-vl"]
    assert [(u.vld, u.reason) for u in plan.not_wired] == [
        ("content-vl", "not wired by osm-l2sm (the VM side is RO's)"), ("vm-vl", "joins VM members only (RO's)")]


def table_lines() -> list[str]:
    return table(TABLE, HEAD, width=44) if TABLE else []
