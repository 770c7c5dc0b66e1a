"""Broken copies of the CDN packages, one edit each: the error names the file and the YAML path."""
from __future__ import annotations

import pytest

from broken_cases import BROKEN, GOOD, cpd

from osm_l2sm.descriptors import DescriptorError, validate, validate_all
from osm_l2sm.descriptors.errors import STRICTER


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_copy_is_reported_with_file_and_path(pkg_copy, case):
    package, edit, message = BROKEN[case]
    pkg_copy.edit(package, edit)
    with pytest.raises(DescriptorError) as err:
        validate(pkg_copy.load())
    # where OSM's NBI accepts the edit, the message adds why osm-l2sm is stricter (checked against real NBI in
    # tests/osm_real); the problem itself reads the same
    assert str(err.value).split(f" ({STRICTER}: ")[0] == message
    assert "\n" not in str(err.value)


# whether OSM's NBI v19 accepts the edit (measured: tests/osm_real runs every case through NBI), so whether the
# message osm-l2sm gives first says it is stricter
OSM_ACCEPTS = {"cidr not a subnet": True, "virtual-link-profile without virtual-link-desc-id": True, "helm v2": True,
               "helm-version OSM does not know": False, "misspelt k8s-cluster-net": False,
               "boolean OSM does not read": False, "address is not an address": False}


@pytest.mark.parametrize("case", sorted(OSM_ACCEPTS))
def test_the_first_message_says_stricter_exactly_when_osm_accepts(pkg_copy, case):
    package, edit, _ = BROKEN[case]
    pkg_copy.edit(package, edit)
    first = str(validate_all(pkg_copy.load())[0])
    assert (STRICTER in first) is OSM_ACCEPTS[case], first


def test_a_stricter_rule_says_so_and_why(pkg_copy):
    pkg_copy.edit("cdn_cache_knf", lambda d: d["vnfd"].pop("product-name"))
    assert [str(e) for e in validate_all(pkg_copy.load())] == [
        "cdn_cache_knf/cdn_cache_vnfd.yaml: vnfd.product-name: required but missing (stricter than OSM, whose NBI "
        "accepts it: SOL006 makes a VNFD's product-name mandatory)"]


@pytest.mark.parametrize("case", sorted(GOOD))
def test_edits_osm_accepts_validate(pkg_copy, case):
    package, edit = GOOD[case]
    pkg_copy.edit(package, edit)
    assert validate_all(pkg_copy.load()) == []


def test_unbroken_copy_validates(pkg_copy):
    assert validate_all(pkg_copy.load()) == []


def test_validate_all_lists_every_problem(pkg_copy):
    pkg_copy.edit("cdn_ns", lambda d: (cpd(d, 0).update({"ip-address": "10.0.9.9"}),
                                       cpd(d, 2).update({"ip-address": "10.0.9.9"})))
    messages = [str(e) for e in validate_all(pkg_copy.load())]
    assert len(messages) == 2
    assert all("is outside the link's subnet" in m for m in messages)


def test_yaml_syntax_error_names_the_file_and_line(pkg_copy):
    path = pkg_copy.path("cdn_cache_knf")
    path.write_text(path.read_text().replace("  kdu:", "  kdu: [unclosed"))
    from osm_l2sm.descriptors import load_package
    with pytest.raises(DescriptorError, match=r"^cdn_cache_knf/cdn_cache_vnfd.yaml: line \d+: not valid YAML"):
        load_package(path.parent)


def test_an_enum_given_a_list_is_refused_plainly(pkg_copy):
    pkg_copy.edit("router_firewall_knf", lambda d: d["vnfd"]["kdu"][0].update({"helm-version": ["v3"]}))
    assert [str(e) for e in validate_all(pkg_copy.load())] == [
        "router_firewall_knf/router_firewall_vnfd.yaml: vnfd.kdu[0].helm-version: ['v3'] is not one of 'v3'"]
