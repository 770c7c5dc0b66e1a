"""The package as a fresh install sees it: every module imports, setup.cfg declares exactly the third-party
distributions the code imports, and (in CI) the package under test is the installed one. CI runs this in a new
virtual environment holding only what the package declares, so an undeclared import fails there even when a
developer's machine happens to have it."""
from __future__ import annotations

import ast
import importlib
import importlib.metadata
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import osm_l2sm

# Imported only when present, inside `try: ... except ImportError` or a function: OSM's own packages, which exist
# where OSM runs (RO's plugin base, osmclient) and are not on PyPI.
OPTIONAL = {"osm_ro_plugin", "osmclient"}


def _modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(osm_l2sm.__path__, prefix="osm_l2sm.")]


def test_every_module_of_the_package_imports():
    names = _modules()
    assert {"osm_l2sm.controller.metrics", "osm_l2sm.k8s.operator", "osm_l2sm.cni.daemon"} <= set(names)
    for name in names:
        if name.endswith(".__main__"):
            continue  # entry scripts: importing one runs the program (their imports are checked below)
        importlib.import_module(name)


def _imported_top_levels() -> set[str]:
    found = set()
    for path in Path(osm_l2sm.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "osm_l2sm"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_setup_cfg_declares_exactly_the_distributions_the_code_imports():
    providers = importlib.metadata.packages_distributions()
    imported = _imported_top_levels()
    unknown = sorted(m for m in imported - OPTIONAL if m not in providers)
    assert not unknown, f"imported but not installed by any distribution: {unknown}"
    needed = {_normal(d) for m in imported - OPTIONAL for d in providers[m]}
    requires = importlib.metadata.requires("osm-l2sm") or []
    declared = {_normal(re.match(r"[A-Za-z0-9_.-]+", r).group()) for r in requires if "extra ==" not in r}
    assert needed - declared == set(), "imported, not declared in setup.cfg install_requires"
    assert declared - needed == set(), "declared in setup.cfg install_requires, never imported"


@pytest.mark.skipif(os.environ.get("OSM_L2SM_EXPECT_INSTALLED") != "1",
                    reason="set by .ci/run, which installs the package into a fresh venv")
def test_the_package_under_test_is_the_installed_one_not_the_checkout():
    repo = Path(__file__).resolve().parents[2]
    assert not Path(osm_l2sm.__file__).resolve().is_relative_to(repo), osm_l2sm.__file__
    # what the tests' subprocesses run: `python -m osm_l2sm` from the checkout, and `osm-l2sm` on PATH
    shown = subprocess.run([sys.executable, "-c", "import osm_l2sm; print(osm_l2sm.__file__)"], cwd=repo,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert not Path(shown).resolve().is_relative_to(repo), f"`python -m` in the checkout imports {shown}"
    assert Path(shutil.which("osm-l2sm")).parent == Path(sys.executable).parent
