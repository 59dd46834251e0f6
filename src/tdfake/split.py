"""The train / validation / test splitter: grouped, stratified by label, seeded, order-independent.

Why: the study split 20,000 frames at random (frames of one video in train and test) from
unsorted directory listings (a different sample on every file system).  ``split_manifest``
keeps every group (see :mod:`tdfake.datasets`) inside one split by default, hits the target
fractions within each class, and gives the same answer for the same seed whatever the order of
the input rows.  ``by="frame"`` reproduces the study's leaky frame-level split for comparison.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from tdfake.constants import LABEL_NAMES, SEED, SPLIT_FRACTIONS

SPLITS = ("train", "val", "test")
TOLERANCE = 0.01  # largest acceptable gap between a class's split fraction and its target


def _check_fractions(fractions) -> np.ndarray:
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or (f < 0).any() or abs(f.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions={tuple(fractions)}: give three non-negative numbers (train, val, test) summing to 1")
    return f


def _sorted(manifest: pd.DataFrame) -> pd.DataFrame:
    """Rows in a canonical order (by root, path) with string ids, so the input's order never matters."""
    missing = [c for c in ("path", "label", "group") if c not in manifest.columns]
    if missing:
        raise ValueError(f"manifest lacks columns {missing}; build it with tdfake.datasets.build_manifest")
    frame = manifest.drop(columns=["split"], errors="ignore").copy()
    for column in ("video", "group"):
        if column in frame.columns:
            frame[column] = frame[column].astype(str)
    keys = [c for c in ("root", "path") if c in frame.columns]
    if frame.duplicated(keys).any():
        raise ValueError("manifest lists some images twice; drop the duplicate rows")
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def _group_order(frame: pd.DataFrame, seed: int, salt: int) -> list[str]:
    """The sorted group ids in one seeded random order."""
    groups = sorted(frame["group"].unique())
    return [groups[i] for i in np.random.default_rng([seed, salt]).permutation(len(groups))]


def sample_per_class(manifest: pd.DataFrame, per_class: int, by: str = "group", seed: int = SEED) -> pd.DataFrame:
    """At most ``per_class`` rows of each class, seeded, from the sorted rows.

    Grouped (``by="group"``): groups are visited in one seeded order (the same for both
    classes, so linked real and fake videos tend to be drawn together) and a group's rows of a
    class are taken whole while they fit, so the count is exactly ``per_class`` unless no
    combination of whole groups reaches it.  A class with fewer rows keeps all, with a warning.
    """
    frame = _sorted(manifest)
    labels = frame["label"].to_numpy()
    keep = np.zeros(len(frame), dtype=bool)
    order = _group_order(frame, seed, 1)
    for label in sorted(np.unique(labels)):
        rows = np.flatnonzero(labels == label)
        if len(rows) <= per_class:
            warnings.warn(f"per_class={per_class}: class {label} has only {len(rows)} images; keeping them all",
                          stacklevel=2)
            keep[rows] = True
        elif by == "frame":
            pick = np.random.default_rng([seed, 1, int(label)]).permutation(len(rows))[:per_class]
            keep[rows[pick]] = True
        else:
            members = frame.iloc[rows].groupby("group").indices
            taken = 0
            for group in order:
                size = len(members.get(group, ()))
                if size and taken + size <= per_class:
                    keep[rows[members[group]]] = True
                    taken += size
                    if taken == per_class:
                        break
    return frame[keep].reset_index(drop=True)


def _frame_split(frame: pd.DataFrame, f: np.ndarray, seed: int) -> np.ndarray:
    """The study's split: rows shuffled within each class and cut at the fractions (leaks videos)."""
    split = np.empty(len(frame), dtype=object)
    labels = frame["label"].to_numpy()
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        rows = rows[np.random.default_rng([seed, 2, int(label)]).permutation(len(rows))]
        n_train, n_val = int(round(f[0] * len(rows))), int(round(f[1] * len(rows)))
        split[rows[:n_train]] = "train"
        split[rows[n_train:n_train + n_val]] = "val"
        split[rows[n_train + n_val:]] = "test"
    return split


def _group_split(frame: pd.DataFrame, f: np.ndarray, seed: int) -> np.ndarray:
    """Whole groups to splits, greedily keeping each class's fractions on target.

    Groups go largest first (seeded random order among equal sizes); each goes to the split
    where it most reduces the squared gap between the per-class counts and their targets.
    """
    labels = np.unique(frame["label"].to_numpy())
    counts = pd.crosstab(frame["group"], frame["label"]).reindex(columns=labels, fill_value=0)
    order = _group_order(frame, seed, 2)
    counts = counts.loc[order]
    sizes = counts.sum(axis=1).to_numpy()
    counts = counts.iloc[np.argsort(-sizes, kind="stable")]
    totals = np.maximum(counts.sum(axis=0).to_numpy(dtype=float), 1.0)
    target = f[:, None] * totals[None, :]
    current = np.zeros_like(target)
    assigned = {}
    for group, c in zip(counts.index, counts.to_numpy(dtype=float)):
        cost = (((current + c - target) ** 2 - (current - target) ** 2) / totals ** 2).sum(axis=1)
        cost[f == 0] = np.inf
        best = int(np.argmin(cost))
        current[best] += c
        assigned[group] = SPLITS[best]
    return frame["group"].map(assigned).to_numpy(dtype=object)


def official_videos(directory) -> dict[str, str]:
    """Video id -> split from FaceForensics++'s ``train.json`` / ``val.json`` / ``test.json``.

    Each file lists ``[target, source]`` pairs; a pair puts both real videos and both fake
    videos (``target_source``, ``source_target``) in that split.
    """
    directory = Path(directory)
    videos: dict[str, str] = {}
    for name in SPLITS:
        path = directory / f"{name}.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; --official needs FaceForensics++'s train.json, val.json, test.json")
        try:
            pairs = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err}); use the file from the FaceForensics++ repository") from err
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ValueError(f"{path}: expected a list of [target, source] pairs, found {pair!r}")
            t, s = (str(v) for v in pair)
            for video in (t, s, f"{t}_{s}", f"{s}_{t}"):
                if videos.setdefault(video, name) != name:
                    raise ValueError(f"{path}: video {video} is also in {videos[video]}.json")
    return videos


def split_manifest(manifest: pd.DataFrame, fractions=SPLIT_FRACTIONS, by: str = "group", seed: int = SEED,
                   per_class: int | None = None, official=None) -> pd.DataFrame:
    """The manifest's rows (sampled when ``per_class`` is set) with a ``split`` column.

    ``by="group"`` (default): no group in two splits, each class split at ``fractions``.  When
    groups are small relative to the data, every class's fractions land within 1 percentage
    point of the target.  When some groups are too large for that (few videos, or one video
    holding a big share of a class), groups are still never broken: the fractions come out as
    close as whole groups allow and a warning gives the largest gap.  ``by="frame"``: the
    study's leaky split (each class shuffled and cut, frames of a video anywhere).
    ``official``: a folder with FaceForensics++'s split files (see :func:`official_videos`);
    ``fractions`` and ``by`` are then unused, and rows whose video is in no file are dropped
    with a warning.  The result is sorted by path and depends only on the rows and ``seed``.
    """
    f = _check_fractions(fractions)
    if by not in ("group", "frame"):
        raise ValueError(f"by={by!r}: choose 'group' (no video in two splits) or 'frame' (the study's leaky split)")
    frame = sample_per_class(manifest, per_class, by, seed) if per_class else _sorted(manifest)
    if frame.empty:
        raise ValueError("the manifest has no rows to split")
    if official is not None:
        if "video" not in frame.columns:
            raise ValueError("official splits need the manifest's video column")
        split = frame["video"].map(official_videos(official))
        if split.isna().any():
            warnings.warn(f"{int(split.isna().sum())} of {len(frame)} images belong to videos in none of the "
                          f"official split files in {official}; they are left out", stacklevel=2)
        frame = frame.assign(split=split)[split.notna()].reset_index(drop=True)
    elif by == "frame":
        frame = frame.assign(split=_frame_split(frame, f, seed))
    else:
        frame = frame.assign(split=_group_split(frame, f, seed))
        gap, where = fraction_gap(frame, f)
        if gap > TOLERANCE + 1e-9:
            warnings.warn(f"grouped split: {where} is {100 * gap:.1f} percentage points off its target, because "
                          "groups are large relative to the data (few videos, or linked videos forming big groups); "
                          "groups were kept whole. Use more videos, or by='frame' for the study's leaky split.",
                          stacklevel=2)
    return frame


def fraction_gap(split: pd.DataFrame, fractions) -> tuple[float, str]:
    """The largest gap between a class's split fraction and its target, and where it is."""
    f = _check_fractions(fractions)
    table = pd.crosstab(split["split"], split["label"], normalize="columns").reindex(list(SPLITS), fill_value=0.0)
    gaps = (table.sub(f, axis=0)).abs()
    s, label = gaps.stack().idxmax()
    return float(gaps.loc[s, label]), f"class {label} in {s} ({100 * table.loc[s, label]:.1f} % vs {100 * f[SPLITS.index(s)]:.1f} %)"


def split_summary(split: pd.DataFrame) -> pd.DataFrame:
    """Images per split x class, plus the number of groups per split (the table ``tdfake split`` prints)."""
    table = pd.crosstab(split["split"], split["label"].map(LABEL_NAMES))
    table = table.reindex(index=[s for s in SPLITS if s in table.index], columns=list(LABEL_NAMES.values()), fill_value=0)
    table["groups"] = split.groupby("split")["group"].nunique()
    table.loc["total"] = [*(table[name].sum() for name in LABEL_NAMES.values()), split["group"].nunique()]
    table.columns.name = None
    return table
