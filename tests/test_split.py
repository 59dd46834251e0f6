"""The splitter: group integrity, fraction tolerance, determinism, row-order independence, sampling."""

import json

import numpy as np
import pandas as pd
import pytest

from tdfake.cli import main
from tdfake.datasets import read_manifest
from tdfake.split import SPLITS, fraction_gap, split_manifest, split_summary


def ffpp_manifest(n_videos=400, frames=5, methods=("NeuralTextures",)):
    """FaceForensics++-like rows: videos paired (0,1), (2,3), ...; each fake links its pair."""
    rows = []
    for v in range(n_videos):
        partner = v + 1 if v % 2 == 0 else v - 1
        pair_group = f"{min(v, partner):03d}"
        for f in range(frames):
            rows.append(("/d", f"REAL/{v:03d}_frame{f}.jpg", 0, "real", f"{v:03d}", pair_group))
            for m in methods:
                rows.append(("/d", f"FAKE/{m}/{v:03d}_{partner:03d}_frame{f}.jpg", 1, m, f"{v:03d}_{partner:03d}", pair_group))
    return pd.DataFrame(rows, columns=["root", "path", "label", "method", "video", "group"])


def test_grouped_split_keeps_linked_videos_together_and_hits_fractions():
    m = ffpp_manifest()
    s = split_manifest(m, seed=3)
    assert len(s) == len(m) and set(s["split"]) == set(SPLITS)
    assert (s.groupby("group")["split"].nunique() == 1).all()
    # a real video and every fake made from it sit in one split
    videos = s.assign(real_video=s["video"].str.split("_").str[0]).groupby("real_video")["split"].nunique()
    assert (videos == 1).all()
    fractions = pd.crosstab(s["split"], s["label"], normalize="columns")
    for split, target in zip(SPLITS, (0.81, 0.09, 0.10)):
        assert np.allclose(fractions.loc[split], target, atol=0.01)
    assert fraction_gap(s, (0.81, 0.09, 0.10))[0] <= 0.01


def test_unbalanced_groups_still_within_tolerance():
    rng = np.random.default_rng(0)
    rows = []
    for g in range(600):
        for i in range(int(rng.integers(1, 12))):
            rows.append(("/d", f"REAL/{g}_{i}.jpg", 0, "real", str(g), str(g)))
        for i in range(int(rng.integers(0, 20))):
            rows.append(("/d", f"FAKE/x/{g}_{i}.jpg", 1, "x", f"{g}x", str(g)))
    s = split_manifest(pd.DataFrame(rows, columns=["root", "path", "label", "method", "video", "group"]))
    assert fraction_gap(s, (0.81, 0.09, 0.10))[0] <= 0.01


def test_deterministic_and_independent_of_row_order():
    m = ffpp_manifest(100)
    a = split_manifest(m, seed=7)
    b = split_manifest(m.sample(frac=1.0, random_state=1).reset_index(drop=True), seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert not split_manifest(m, seed=8)["split"].equals(a["split"])
    f1 = split_manifest(m, by="frame", seed=7)
    f2 = split_manifest(m.iloc[::-1], by="frame", seed=7)
    pd.testing.assert_frame_equal(f1, f2)


def test_frame_split_is_stratified_and_leaks_groups():
    m = ffpp_manifest(100)
    s = split_manifest(m, by="frame")
    counts = pd.crosstab(s["split"], s["label"])
    assert counts.loc["train"].tolist() == [405, 405] and counts.loc["test"].tolist() == [50, 50]
    assert (s.groupby("group")["split"].nunique() > 1).any()


def test_large_groups_warn_but_stay_whole():
    m = ffpp_manifest(n_videos=6, frames=10)
    with pytest.warns(UserWarning, match="percentage points off"):
        s = split_manifest(m)
    assert (s.groupby("group")["split"].nunique() == 1).all()


def test_per_class_takes_whole_groups_seeded():
    m = ffpp_manifest(400, frames=5)
    s = split_manifest(m, per_class=1000, seed=1)
    assert s["label"].value_counts().tolist() == [1000, 1000]
    full = m.groupby("group").size()
    taken = s.groupby("group").size()
    assert (taken == full[taken.index]).all()  # whole groups only
    pd.testing.assert_frame_equal(s, split_manifest(m.iloc[::-1], per_class=1000, seed=1))
    frame = split_manifest(m, per_class=333, by="frame", seed=1)
    assert frame["label"].value_counts().tolist() == [333, 333]
    with pytest.warns(UserWarning, match="keeping them all"):
        assert len(split_manifest(m, per_class=10**6)) == len(m)


def test_official_lists(tmp_path):
    m = ffpp_manifest(10, frames=2)
    lists = {"train": [["000", "001"], ["002", "003"], ["004", "005"]], "val": [["006", "007"]], "test": [["008", "009"]]}
    for name, pairs in lists.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(pairs))
    s = split_manifest(m, official=tmp_path).set_index("path")
    assert s.loc["REAL/007_frame1.jpg", "split"] == "val"
    assert s.loc["FAKE/NeuralTextures/009_008_frame0.jpg", "split"] == "test"
    assert (s["split"] == "train").sum() == 24
    (tmp_path / "test.json").write_text(json.dumps([["008", "010"]]))
    with pytest.warns(UserWarning, match="left out"):
        assert len(split_manifest(m, official=tmp_path)) == 34  # 009, 009_008, 008_009 out
    (tmp_path / "val.json").unlink()
    with pytest.raises(FileNotFoundError, match="val.json"):
        split_manifest(m, official=tmp_path)


def test_bad_arguments():
    m = ffpp_manifest(10)
    with pytest.raises(ValueError, match="summing to 1"):
        split_manifest(m, fractions=(0.8, 0.1, 0.2))
    with pytest.raises(ValueError, match="by='x'"):
        split_manifest(m, by="x")
    with pytest.raises(ValueError, match="twice"):
        split_manifest(pd.concat([m, m.iloc[:1]]))


def test_cli_split(tmp_path, capsys):
    m = ffpp_manifest(200, frames=3)
    m.to_csv(tmp_path / "manifest.csv", index=False)
    assert main(["split", str(tmp_path / "manifest.csv"), "-o", str(tmp_path / "split.csv"), "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "groups" in out and "total" in out
    s = read_manifest(tmp_path / "split.csv")
    assert s["group"].iloc[0] == "000"
    expected = split_manifest(m, seed=5)
    assert s["split"].tolist() == expected["split"].tolist()
    assert split_summary(s).loc["total", "groups"] == 100
