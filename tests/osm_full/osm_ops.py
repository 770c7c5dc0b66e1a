"""What the full-OSM tests do with the real osmclient: run it, read an NS record, wait for an NS state."""
from __future__ import annotations

import yaml

from osmclient_kit import run_osm
from tests.polling import wait_for

VIM = "dummy-vim"
READY_TIMEOUT = 900  # seconds: three charts, --atomic, on a busy two-core machine


def osm(env: dict, *args: str, ok: bool = True):
    """``osm ARGS`` against this OSM (``env``: ``osm_script`` and ``front``); must succeed unless ``ok`` is False."""
    done = run_osm(env["osm_script"], env["front"], *args)
    if ok:
        assert done.returncode == 0, f"osm {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


def ns_record(env: dict, name: str) -> dict | None:
    """``osm ns-show NAME --literal``: NBI's NS record, None when there is none."""
    done = osm(env, "ns-show", name, "--literal", ok=False)
    return yaml.safe_load(done.stdout) if done.returncode == 0 else None


def wait_state(env: dict, name: str, want: str, timeout: float = READY_TIMEOUT) -> dict:
    """The NS record once its ``nsState`` is ``want`` (fails at once on BROKEN when that is not wanted)."""
    def state():
        record = ns_record(env, name) or {}
        if record.get("nsState") == "BROKEN" and want != "BROKEN":
            raise AssertionError(f"NS {name} BROKEN: {record.get('errorDescription')} {record.get('errorDetail')}")
        return record if record.get("nsState") == want else None
    return wait_for(state, f"NS {name} {want}", timeout=timeout, interval=5)
