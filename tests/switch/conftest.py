from __future__ import annotations

import pytest

from l2sm_nodes import TwoNodes


@pytest.fixture
def two_nodes(require_root_ovs, tmp_path):
    """Two OVS nodes with tunnels and a running controller; torn down even when the test fails."""
    topo = TwoNodes(str(tmp_path))
    try:
        topo.start()
        yield topo
    finally:
        topo.close()
