"""The plan is typed end to end: a KDU's interfaces and routes are fields of the model, its Helm values are rendered
from them in one place (osm_l2sm/model/helm.py), and no box reads them back out of those values (a box that did
would see the user's additionalParams merged over the plan, or break when a chart's values change shape)."""
from __future__ import annotations

import re
from pathlib import Path

import osm_l2sm

PACKAGE = Path(osm_l2sm.__file__).parent
RENDERER = PACKAGE / "model" / "helm.py"
# a read of the plan's part of a KDU's Helm values: values["l2sm"], values.get("podAnnotations"), ...
READS = re.compile(r"""values"?\)?(\.get\(|\[)\s*["'](l2sm|podAnnotations|podLabels)["']""")


def test_no_box_reads_the_plan_out_of_helm_values():
    readers = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
               for path in sorted(PACKAGE.rglob("*.py")) if path != RENDERER
               for number, line in enumerate(path.read_text().splitlines(), start=1) if READS.search(line)]
    assert readers == []
