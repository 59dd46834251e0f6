"""The splitter: group integrity, fraction tolerance, determinism, row-order independence, sampling."""

import json

import numpy as np
import pandas as pd
import pytest

from tdfake.cli import main
from tdfake.datasets import read_manifest
from tdfake.split import (
    SPLITS,
    fraction_gap,
    sample_per_class,
    split_manifest,
    split_summary,
)


def ffpp_manifest(n_videos=400, frames=5, methods=("NeuralTextures",)):
    """FaceForensics++-like rows: videos paired (0,1), (2,3), ...; each fake links its pair."""
    rows = []
    for v in range(n_videos):
        partner = v + 1 if v % 2 == 0 else v - 1
        pair_group = f"{min(v, partner):03d}"
        for f in range(frames):
            rows.append(("/d", f"REAL/{v:03d}_frame{f}.jpg", 0, "real", f"{v:03d}", pair_group))
            for m in methods:
                rows.append(("/d", f"FAKE/{m}/{v:03d}_{partner:03d}_frame{f}.jpg", 1, m, f"{v:03d}_{partner:03d}",
                             pair_group))
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


def test_linked_pairs_and_lone_videos_are_spread_over_the_splits_alike():
    # DFDC-like: 1,000 real/fake pairs (a fake and the real video it was made from) and 1,000 lone
    # videos per class; each kind of group must reach every split at the fractions, not only train
    rows = []
    for g in range(1000):
        rows += [("/d", f"real/p{g}.jpg", 0, "real", f"p{g}", f"p{g}"),
                 ("/d", f"fake/p{g}.jpg", 1, "x", f"p{g}x", f"p{g}")]
    for g in range(1000):
        rows += [("/d", f"real/r{g}.jpg", 0, "real", f"r{g}", f"r{g}"),
                 ("/d", f"fake/f{g}.jpg", 1, "x", f"f{g}", f"f{g}")]
    s = split_manifest(pd.DataFrame(rows, columns=["root", "path", "label", "method", "video", "group"]), seed=4)
    paired = s["group"].str.startswith("p")
    for kind in (paired, ~paired):
        shares = s[kind]["split"].value_counts(normalize=True)
        for split, target in zip(SPLITS, (0.81, 0.09, 0.10)):
            assert shares[split] == pytest.approx(target, abs=0.01), (split, shares.to_dict())
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


def ffpp_pool(seed=0):
    """The FF++-named pool of the issue: 208 real videos, 204 fakes from 102 linked pairs, 20-40 frames each.

    Video and group ids are what :func:`tdfake.datasets.build_manifest` gives such names (a pair
    ``a``, ``b`` with fakes ``a_b`` and ``b_a`` is one group named by its smaller id).
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(208)
    pairs = [(int(order[2 * i]), int(order[2 * i + 1])) for i in range(102)]
    group = {f"{v:03d}": f"{v:03d}" for v in range(208)}
    fakes = []
    for a, b in pairs:
        name = f"{min(a, b):03d}"
        group[f"{a:03d}"] = group[f"{b:03d}"] = name
        fakes += [(f"{a:03d}_{b:03d}", name), (f"{b:03d}_{a:03d}", name)]
    rows = []
    for label, folder, videos in ((0, "REAL", [(v, group[v]) for v in sorted(group)]),
                                  (1, "FAKE/NeuralTextures", fakes)):
        for video, g in videos:
            for k in range(int(rng.integers(20, 41))):
                rows.append(("/d", f"{folder}/{video}_frame{10 * k}.jpg", label,
                             "real" if label == 0 else "NeuralTextures", video, g))
    return pd.DataFrame(rows, columns=["root", "path", "label", "method", "video", "group"])


def test_per_class_samples_every_video_then_splits_by_group():
    m = ffpp_pool()
    s = split_manifest(m, per_class=2000, seed=7)
    assert s["label"].value_counts().tolist() == [2000, 2000]
    for label in (0, 1):
        used = s.loc[s["label"] == label, "video"].nunique()
        assert used >= 0.9 * m.loc[m["label"] == label, "video"].nunique()
    fractions = pd.crosstab(s["split"], s["label"], normalize="columns")
    for split, target in zip(SPLITS, (0.81, 0.09, 0.10)):
        assert np.allclose(fractions.loc[split], target, atol=0.015)
    assert (s.groupby("group")["split"].nunique() == 1).all()
    pd.testing.assert_frame_equal(s, split_manifest(m.sample(frac=1.0, random_state=3), per_class=2000, seed=7))
    assert not s["path"].equals(split_manifest(m, per_class=2000, seed=8)["path"])


def test_per_class_shares_evenly_and_spreads_frames_over_each_video():
    rows = [("/d", f"REAL/{v}_frame{k}.jpg", 0, "real", v, v) for v, n in (("a", 3), ("b", 40), ("c", 40))
            for k in range(n)]
    rows += [("/d", f"FAKE/x/f{i}.jpg", 1, "x", f"f{i}", f"f{i}") for i in range(5)]
    m = pd.DataFrame(rows, columns=["root", "path", "label", "method", "video", "group"])
    with pytest.warns(UserWarning, match="class 1 has only 5 images"):
        s = sample_per_class(m, 23, seed=0)
    real = s[s["label"] == 0]
    assert real["video"].value_counts().to_dict() == {"b": 10, "c": 10, "a": 3}  # a short video gives its rest away
    frames = sorted(real.loc[real["video"] == "b", "path"].str.extract(r"frame(\d+)")[0].astype(int))
    assert np.diff(frames).tolist() == [4] * 9  # frame order from the name (frame10 after frame9), evenly spaced
    assert (s["label"] == 1).sum() == 5


def test_frame_mode_splits_the_same_sample():
    m = ffpp_pool()
    grouped = split_manifest(m, per_class=333, seed=1)
    frame = split_manifest(m, per_class=333, by="frame", seed=1)
    assert frame["label"].value_counts().tolist() == [333, 333]
    assert frame["path"].tolist() == grouped["path"].tolist()
    with pytest.warns(UserWarning, match="keeping them all"):
        assert len(split_manifest(m, per_class=10**6)) == len(m)


def test_official_lists(tmp_path):
    m = ffpp_manifest(10, frames=2)
    lists = {"train": [["000", "001"], ["002", "003"], ["004", "005"]], "val": [["006", "007"]],
             "test": [["008", "009"]]}
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
    assert "train" in out and "frames" in out and "videos" in out and "groups" in out and "total" in out
    s = read_manifest(tmp_path / "split.csv")
    assert s["group"].iloc[0] == "000"
    expected = split_manifest(m, seed=5)
    assert s["split"].tolist() == expected["split"].tolist()
    summary = split_summary(s)
    assert summary.loc["total", ("all", "groups")] == 100
    assert summary.loc["total", ("real", "videos")] == 200 and summary.loc["total", ("fake", "frames")] == 600
    assert summary.loc[list(SPLITS), ("all", "frames")].sum() == len(s)
    assert summary.loc["test", ("real", "frames")] == ((s["split"] == "test") & (s["label"] == 0)).sum()
