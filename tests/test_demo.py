"""The demo dataset: counts, sizes, layout, names that group, determinism, idempotency, the CLI."""

import json

import numpy as np
import pytest

from tdfake.cli import main
from tdfake.datasets import build_manifest
from tdfake.demo import MARKER, METHOD, make_demo_data
from tdfake.images import list_images, read_rgb
from tdfake.split import split_manifest


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_data(tmp_path_factory.mktemp("demo") / "d", n_per_class=12, size=128, seed=0, frames_per_video=3)


def test_counts_sizes_and_layout(demo):
    real, fake = list_images(demo / "REAL"), list_images(demo / "FAKE")
    assert len(real) == len(fake) == 12
    assert all(p.parent == demo / "FAKE" / METHOD for p in fake)
    for path in real[:3] + fake[:3]:
        assert read_rgb(path).shape == (128, 128, 3)
    assert json.loads((demo / MARKER).read_text())["params"]["n_per_class"] == 12


def test_names_parse_into_multi_frame_linked_groups(demo):
    m = build_manifest(demo)
    assert (m["label"] == 0).sum() == (m["label"] == 1).sum() == 12
    assert m["video"].value_counts().eq(3).all()  # 3 frames per video
    assert m["group"].nunique() == 2  # videos paired (000, 001) and (002, 003)
    fakes = m[m["label"] == 1].set_index("path")
    assert fakes.loc[f"FAKE/{METHOD}/000_001_frame10.jpg", "group"] == "000"
    assert set(m.loc[m["group"] == "000", "video"]) == {"000", "001", "000_001", "001_000"}
    s = split_manifest(m, fractions=(0.5, 0.0, 0.5), seed=0)
    assert (s.groupby("group")["split"].nunique() == 1).all()


def test_fakes_differ_from_their_real_frame_inside_the_face(demo):
    real = read_rgb(demo / "REAL" / "000_frame0.jpg").astype(float)
    fake = read_rgb(demo / "FAKE" / METHOD / "000_001_frame0.jpg").astype(float)
    diff = np.abs(real - fake).mean(axis=2)
    centre, corner = diff[48:80, 48:80].mean(), diff[:16, :16].mean()
    assert centre > 5 and corner < 2  # manipulated face, untouched surroundings


def test_deterministic_byte_identical_and_idempotent(tmp_path, demo):
    again = make_demo_data(tmp_path / "d", n_per_class=12, size=128, seed=0, frames_per_video=3)
    for a, b in zip(list_images(demo), list_images(again), strict=True):
        assert a.relative_to(demo) == b.relative_to(again) and a.read_bytes() == b.read_bytes()
    stamp = (again / "REAL" / "000_frame0.jpg").stat().st_mtime_ns
    assert make_demo_data(again, n_per_class=12, size=128, seed=0, frames_per_video=3) == again
    assert (again / "REAL" / "000_frame0.jpg").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="another folder"):
        make_demo_data(again, n_per_class=12, size=128, seed=1, frames_per_video=3)


def test_rejects_small_size(tmp_path):
    with pytest.raises(ValueError, match="at least 128"):
        make_demo_data(tmp_path, size=64)


def test_cli_demo_data(tmp_path, capsys):
    assert main(["demo-data", str(tmp_path / "d"), "--n-per-class", "4", "--size", "128", "--seed", "2"]) == 0
    assert "8 images" in capsys.readouterr().out
    assert len(list_images(tmp_path / "d")) == 8


def test_unpaired_fakes_take_a_donor_outside_the_set_one_group_per_video(tmp_path):
    demo = make_demo_data(tmp_path / "d", n_per_class=12, size=128, seed=0, frames_per_video=3, paired=False)
    m = build_manifest(demo)
    assert m["group"].nunique() == 4  # 4 real videos, each grouped with its fake only
    assert set(m.loc[m["group"] == "000", "video"]) == {"000", "000_004"}
    real_videos = set(m.loc[m["label"] == 0, "video"])
    donors = {v.split("_")[1] for v in m.loc[m["label"] == 1, "video"]}
    assert not donors & real_videos
