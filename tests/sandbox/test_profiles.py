"""Sandbox profiles (what a KDU runs as a sandbox pod): the shipped ones load, a bad one is named by file and key."""
from __future__ import annotations

import pytest

from osm_l2sm import data
from osm_l2sm.errors import L2smError
from osm_l2sm.sandbox import load_profile


def test_shipped_profiles_give_their_variables_defaults():
    cache = load_profile(data.descriptors_dir() / "cdn_cache_knf", "cdn-cache")
    assert dict(cache.env) == {"FILE_NAME": "video.mp4", "RATE": "6M"}
    content = load_profile(data.descriptors_dir() / "content_server_knf", "content-server")
    assert dict(content.env) == {"FILE_NAME": "video.mp4", "FILE_SIZE_MIB": "64"}  # numbers become strings


@pytest.mark.parametrize("text, message", [
    ("env: [RATE]\n", "pkg/sandbox/k.yaml: env: must be a mapping of variable names to plain values"),
    ("env: {RATE: {a: 1}}\n", "pkg/sandbox/k.yaml: env: must be a mapping of variable names to plain values"),
    ("envs: {}\n", "pkg/sandbox/k.yaml: envs: unknown key"),
])
def test_a_bad_profile_is_named_by_file_and_key(tmp_path, text, message):
    (tmp_path / "pkg" / "sandbox").mkdir(parents=True)
    (tmp_path / "pkg" / "sandbox" / "k.yaml").write_text(text)
    with pytest.raises(L2smError) as err:
        load_profile(tmp_path / "pkg", "k")
    assert str(err.value).startswith(message)
