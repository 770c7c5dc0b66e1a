"""The management-VL opt-in reaches OSM mode: a user's NS whose only virtual link is its management network gets no
L2S-M network, unless the ns-create config says ``additionalParamsForNs: {l2sm_wire_mgmt: true}`` (which NBI keeps
in the NS record, where the operator reads it)."""
from __future__ import annotations

import pytest

from osm_l2sm.osm.nbi import RestNbi
from osm_l2sm.osm.records import KDU_NAME_LABEL, NS_ID_LABEL, VNF_ID_LABEL, NsPlans
from osm_real_kit import start_nbi, stop_nbi
from real_packages import NsPackage, corpus_dir, ensure_vim, instantiate, onboard

pytestmark = pytest.mark.osm_real


@pytest.fixture(scope="module")
def ldap_nbi(osm_tier, tmp_path_factory):
    """Real NBI with DucHuySET's openldap NS (one KNF, one VL: its management network) onboarded."""
    root = corpus_dir() / "pkgs/DucHuySET__indiv"
    nbi = start_nbi(osm_tier, tmp_path_factory.mktemp("nbi-ldap"))
    try:
        ensure_vim(nbi)
        refused = onboard(nbi, NsPackage(root / "openldap_ns", [root / "openldap_knf"], "DucHuySET__indiv/openldap_ns"))
        assert refused is None, refused
        yield nbi
    finally:
        stop_nbi(nbi)


@pytest.mark.parametrize("config, wired", [({}, False), ({"additionalParamsForNs": {"l2sm_wire_mgmt": True}}, True)],
                         ids=["default", "opted-in"])
def test_a_management_vl_is_wired_in_osm_mode_only_when_the_ns_config_opts_in(ldap_nbi, config, wired):
    instance = instantiate(ldap_nbi, "default", config=config)
    (member,) = instance.members
    kdu = NsPlans(RestNbi(ldap_nbi.url)).kdu_networks({
        NS_ID_LABEL: instance.ns_id, VNF_ID_LABEL: member["vnf_id"], KDU_NAME_LABEL: member["kdus"][0]})
    assert [n.vld for n in kdu.networks] == (["mgmtnet"] if wired else [])

