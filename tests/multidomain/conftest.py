"""A sandbox of its own for each multi-domain test module, driven through the `osm-l2sm` CLI."""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile

from osm_l2sm.sandbox import Sandbox


@contextlib.contextmanager
def cli_sandbox(prefix: str):
    """Yields ``run(*args, check=True)``, the CLI bound to a fresh sandbox name and state dir; always torn down."""
    name = prefix + secrets.token_hex(2)
    state_dir = tempfile.mkdtemp(prefix=f"l2sm-{name}-")
    env = dict(os.environ, OSM_L2SM_SANDBOX=name, OSM_L2SM_STATE_DIR=state_dir)

    def run(*args, check=True):
        done = subprocess.run(["osm-l2sm", *args], env=env, text=True, capture_output=True, timeout=120)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    run.name = name
    run.sandbox = Sandbox(name, state_dir)
    try:
        yield run
    finally:
        run("sandbox", "down", check=False)
        shutil.rmtree(state_dir, ignore_errors=True)
