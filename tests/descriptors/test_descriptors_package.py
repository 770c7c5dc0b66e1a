"""Loading packages in their three forms, and building onboardable .tar.gz packages."""
from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from osm_l2sm.descriptors import DescriptorError, build_package, load_descriptor_text, load_package, plan_ns

from cdn_package_copies import DESCRIPTORS, PACKAGES


def test_folder_package_exposes_kind_id_source_and_chart(cdn_packages):
    router = next(p for p in cdn_packages if p.id == "router_firewall_knf")
    assert (router.kind, router.source) == ("vnfd", "router_firewall_knf/router_firewall_vnfd.yaml")
    assert (router.chart_path("router-firewall") / "Chart.yaml").is_file()
    assert router.chart_path("no-such-kdu") is None
    nsd = next(p for p in cdn_packages if p.kind == "nsd")
    assert (nsd.id, nsd.source) == ("cdn_ns", "cdn_ns/cdn_nsd.yaml")


def test_unknown_files_in_a_package_are_ignored(pkg_copy):
    folder = pkg_copy.root / "cdn_cache_knf"
    (folder / "extras").mkdir()
    (folder / "extras" / "cdn-cache.yaml").write_text("run: [sh, start.sh]\n")
    (folder / "notes.yaml").write_text("owner: video team\n")
    (folder / "README.md").write_text("cache\n")
    assert load_package(folder).id == "cdn_cache_knf"


def test_a_bare_descriptor_yaml_loads_without_a_root():
    pkg = load_package(DESCRIPTORS / "cdn_ns" / "cdn_nsd.yaml")
    assert (pkg.kind, pkg.id, pkg.root, pkg.source) == ("nsd", "cdn_ns", None, "cdn_ns/cdn_nsd.yaml")


def test_descriptor_text_from_the_nbi_without_its_wrapper_is_normalised():
    text = (DESCRIPTORS / "content_server_knf" / "content_server_vnfd.yaml").read_text()
    import yaml
    bare = yaml.safe_dump(yaml.safe_load(text)["vnfd"])
    pkg = load_descriptor_text(bare, "nbi:content_server_knf")
    assert (pkg.kind, pkg.id) == ("vnfd", "content_server_knf")
    assert pkg.descriptor["vnfd"]["kdu"][0]["name"] == "content-server"
    assert pkg.chart_path("content-server") is None


@pytest.mark.parametrize("text, message", [
    ("- a\n- b\n", "nbi: (top): expected a mapping with a 'vnfd' or 'nsd' key"),
    ("vnfd-catalog: {vnfd: []}\n", "nbi: (top): the pre-SOL006 '*-catalog' format is not supported; use SOL006"),
    ("nsd: {nsd: [{id: a}, {id: b}]}\n", "nbi: nsd.nsd: one NSD per package, found 2"),
    ("vnfd: {product-name: x}\n", "nbi: vnfd.id: missing or not a string"),
])
def test_descriptor_text_that_is_no_descriptor(text, message):
    with pytest.raises(DescriptorError) as err:
        load_descriptor_text(text, "nbi")
    assert str(err.value) == message


def test_folder_without_a_descriptor(tmp_path):
    (tmp_path / "empty_knf").mkdir()
    (tmp_path / "empty_knf" / "values.yaml").write_text("a: 1\n")
    with pytest.raises(DescriptorError, match=r"^empty_knf: \(top\): no descriptor YAML"):
        load_package(tmp_path / "empty_knf")


def test_build_writes_checksums_that_verify_and_dereferences_charts(tmp_path):
    out = build_package(DESCRIPTORS / "router_firewall_knf", tmp_path)
    assert out == tmp_path / "router_firewall_knf.tar.gz"
    with tarfile.open(out) as tar:
        everything = tar.getmembers()
        folders = {m.name for m in everything if m.isdir()}
        members = {m.name: m for m in everything if not m.isdir()}
        assert all(name.startswith("router_firewall_knf/") for name in members)
        assert all(m.isfile() for m in members.values())  # no symlink survives
        # every folder has its entry, before its files (OSM's mongo storage makes folders only from these)
        assert {str(Path(name).parent) for name in members} <= folders
        assert [m.name for m in everything][:1] == ["router_firewall_knf"]
        chart = "router_firewall_knf/helm-chart-v3s/router-firewall/Chart.yaml"
        assert chart in members
        lines = tar.extractfile("router_firewall_knf/checksums.txt").read().decode().splitlines()
        listed = {}
        for line in lines:
            digest, name = line.split("  ", 1)
            listed[name] = digest
        for name, member in members.items():
            rel = name.split("/", 1)[1]
            if rel != "checksums.txt":
                assert listed.pop(rel) == hashlib.md5(tar.extractfile(member).read()).hexdigest()
        assert listed == {}


def test_build_is_reproducible(tmp_path):
    first = build_package(DESCRIPTORS / "cdn_ns", tmp_path / "a").read_bytes()
    second = build_package(DESCRIPTORS / "cdn_ns", tmp_path / "b").read_bytes()
    assert first == second


def test_built_packages_load_again_and_plan_the_same(tmp_path, cdn_packages):
    archives = [build_package(DESCRIPTORS / name, tmp_path) for name in PACKAGES]
    loaded = [load_package(a) for a in archives]
    assert [p.source for p in loaded] == [p.source for p in cdn_packages]
    for pkg in loaded:
        if pkg.kind == "vnfd":
            kdu = pkg.descriptor["vnfd"]["kdu"][0]["name"]
            assert (pkg.chart_path(kdu) / "templates" / "deployment.yaml").is_file()
    planned = plan_ns(loaded, "vod").to_dict()
    expected = plan_ns(cdn_packages, "vod").to_dict()
    for kdu in planned["kdus"] + expected["kdus"]:
        kdu.pop("chart")
    assert planned == expected


def test_archive_with_two_top_folders_is_refused(tmp_path):
    archive = tmp_path / "two.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("a/x.yaml", "b/y.yaml"):
            data = b"vnfd: {id: a}\n"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(DescriptorError, match="one top folder named like the package"):
        load_package(archive)


@pytest.mark.parametrize("name, link", [("a/../../escape.yaml", None), ("a/charts", "../../../etc")])
def test_archive_leading_out_of_its_folder_is_refused_and_writes_nothing_outside(tmp_path, name, link):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        if link:
            info.type, info.linkname = tarfile.SYMTYPE, link
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(DescriptorError, match=r"^evil.tar.gz: \(top\): cannot read the package archive: "):
        load_package(archive)
    assert not (tmp_path.parent / "escape.yaml").exists()


def test_build_refuses_a_broken_descriptor(pkg_copy, tmp_path):
    pkg_copy.edit("cdn_cache_knf", lambda d: d["vnfd"]["kdu"][0].pop("name"))
    with pytest.raises(DescriptorError, match=r"^cdn_cache_knf/cdn_cache_vnfd.yaml: vnfd.kdu\[0\].name: required"):
        build_package(pkg_copy.root / "cdn_cache_knf", tmp_path / "out")
    assert not (tmp_path / "out" / "cdn_cache_knf.tar.gz").exists()


def test_the_cdn_packages_bundle_their_charts_where_osm_lcm_looks(cdn_packages):
    # LCM v19 uses a bundled KDU chart only at <package>/helm-chart-v3s/<chart>
    for pkg in (p for p in cdn_packages if p.kind == "vnfd"):
        chart = pkg.descriptor["vnfd"]["kdu"][0]["helm-chart"]
        assert pkg.chart_path(pkg.descriptor["vnfd"]["kdu"][0]["name"]) == pkg.root / "helm-chart-v3s" / chart
        assert not (pkg.root / "helm-charts").exists()


def test_a_legacy_helm_charts_folder_is_read_with_a_warning(pkg_copy, caplog):
    folder = pkg_copy.root / "cdn_cache_knf"
    (folder / "helm-chart-v3s").rename(folder / "helm-charts")
    pkg = load_package(folder)
    with caplog.at_level("WARNING"):
        assert pkg.chart_path("cdn-cache") == folder / "helm-charts" / "cdn-cache"
    assert ("cdn_cache_knf/cdn_cache_vnfd.yaml: chart 'cdn-cache' is under helm-charts/, where OSM's LCM does not "
            "look for KDU charts; move it to helm-chart-v3s/") in caplog.text


def test_build_moves_a_legacy_helm_charts_folder_to_helm_chart_v3s(pkg_copy, tmp_path):
    folder = pkg_copy.root / "cdn_cache_knf"
    (folder / "helm-chart-v3s").rename(folder / "helm-charts")
    out = build_package(folder, tmp_path / "out")
    with tarfile.open(out) as tar:
        names = tar.getnames()
        checksums = tar.extractfile("cdn_cache_knf/checksums.txt").read().decode()
    assert "cdn_cache_knf/helm-chart-v3s/cdn-cache/Chart.yaml" in names
    assert not [n for n in names if "/helm-charts/" in n]
    assert "  helm-chart-v3s/cdn-cache/Chart.yaml\n" in checksums and "helm-charts/" not in checksums
    assert load_package(out).chart_path("cdn-cache").parent.name == "helm-chart-v3s"
