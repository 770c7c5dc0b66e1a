"""`osm-l2sm validate` and OSM release 19's NBI onboarding agree on every broken-descriptor case.

Each case edits a copy of the CDN packages (tests/descriptors/broken_cases.py); the copies go through our validation
and through real NBI (the OSM kit's ``nbi-onboard --clean``: a fresh catalogue, VNF packages first). Where NBI
refuses, we refuse, and the first message (what `osm-l2sm validate` prints) does not claim NBI accepts it; where NBI
accepts, we accept or every message says we are stricter. The table is printed at the end of the run.
"""
from __future__ import annotations

import pytest

from osm_l2sm.descriptors import validate_all
from osm_l2sm.descriptors.errors import STRICTER
from tests.descriptors.broken_cases import BROKEN, GOOD
from tests.descriptors.cdn_package_copies import PACKAGES, PackageCopy

pytestmark = pytest.mark.osm_real

CASES = {**{name: (pkg, edit) for name, (pkg, edit, _) in BROKEN.items()}, **GOOD}
TABLE: list[tuple[str, str, str, str]] = []  # case, ours, NBI, agreement


def nbi_verdict(nbi, root) -> tuple[bool, str]:
    done = nbi.onboard(*(root / name for name in PACKAGES), clean=True)
    refused = [line for line in done.stdout.splitlines() if " HTTP 20" not in line]
    # an NSD refused only because its (refused) VNFD is missing echoes the first refusal
    return done.returncode == 0, (refused[0].split(": ", 1)[1] if refused else "accepted")


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_agrees_with_real_nbi(catalogue_nbi, tmp_path, case):
    package, edit = CASES[case]
    copy = PackageCopy(tmp_path / "pkgs")
    copy.edit(package, edit)
    ours = [str(e) for e in validate_all(copy.load())]
    accepted, detail = nbi_verdict(catalogue_nbi, copy.root)
    if not accepted:
        agreement = ("DISAGREE: only NBI refuses" if not ours else
                     "DISAGREE: NBI refuses, the note says it accepts" if STRICTER in ours[0] else "agree: both refuse")
    elif not ours:
        agreement = "agree: both accept"
    elif all(STRICTER in m for m in ours):
        agreement = "stricter, said so"
    else:
        agreement = "DISAGREE: only osm-l2sm refuses, not said"
    TABLE.append((case, ours[0].split(": ", 2)[-1] if ours else "accepted", detail, agreement))
    assert not agreement.startswith("DISAGREE"), f"{agreement}; ours: {ours}; NBI: {detail}"
    if case in BROKEN:
        assert ours and ours[0].split(f" ({STRICTER}: ")[0] == BROKEN[case][2]


def table_lines() -> list[str]:
    if not TABLE:
        return []
    widths = [min(60, max(len(row[i]) for row in TABLE)) for i in range(4)]
    head = ("case", "osm-l2sm validate", "OSM NBI v19 onboarding", "verdict")
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    for row in sorted(TABLE):
        lines.append("  ".join(c[:w].ljust(w) for c, w in zip(row, widths)).rstrip())
    return lines
