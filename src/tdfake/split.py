"""The train / validation / test splitter: grouped, stratified by label, seeded, order-independent.

Why: the study split 20,000 frames at random (frames of one video in train and test) from
unsorted directory listings (a different sample on every file system).  ``split_manifest``
keeps every group (see :mod:`tdfake.datasets`) inside one split by default, hits the target
fractions within each class, and gives the same answer for the same seed whatever the order of
the input rows.  ``by="frame"`` reproduces the study's leaky frame-level split for comparison.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from tdfake.constants import LABEL_NAMES, SEED, SPLIT_FRACTIONS
from tdfake.dataset_layouts import ffpp_pair_videos, frame_number

SPLITS = ("train", "val", "test")
TOLERANCE = 0.01  # largest acceptable gap between a class's split fraction and its target


def _check_fractions(fractions) -> np.ndarray:
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or (f < 0).any() or abs(f.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions={tuple(fractions)}: "
                         "give three non-negative numbers (train, val, test) summing to 1")
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


def _quotas(sizes: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """An even share of ``total`` per video: small videos give what they lack to the others.

    The share is the largest level ``L`` with ``sum(min(size, L)) <= total`` (water filling);
    the few rows left over go one each to seeded random videos that still have frames to give.
    """
    order = np.sort(sizes)
    level, left = 0, total
    for i, size in enumerate(order):
        share = left // (len(order) - i)
        if size > share:
            level = share
            break
        left -= size
    else:
        return sizes.copy()
    quotas = np.minimum(sizes, level)
    spare = np.flatnonzero(sizes > level)
    extra = total - int(quotas.sum())
    quotas[spare[rng.permutation(spare.size)[:extra]]] += 1
    return quotas


def _spread(n: int, k: int, offset: float) -> np.ndarray:
    """``k`` of ``n`` positions evenly spaced over ``range(n)``, shifted by ``offset`` in [0, 1) of a step."""
    return np.floor((np.arange(k) + offset) * n / k).astype(np.int64)


def sample_per_class(manifest: pd.DataFrame, per_class: int, seed: int = SEED) -> pd.DataFrame:
    """``per_class`` rows of each class, drawn from *every* video, seeded and independent of row order.

    Why: a sample of whole groups keeps a third of the videos when a class is sampled to a
    third of its frames, so a grouped split would lose identity diversity along with the leak,
    and a group-vs-frame comparison would mix the two.  Here each video of a class gets an even
    share (videos with fewer frames keep all theirs and the rest goes to the others, see
    :func:`_quotas`), and its share is spread evenly over the video's length, in frame order
    (the frame number in the file name, see :func:`tdfake.datasets.frame_number`; the sorted
    path where the name has none), starting at a seeded offset.  Both split modes sample this
    way, so they differ only in how the same rows are split.  A class with no more than
    ``per_class`` rows keeps all, with a warning.  Videos are the ``video`` column (``group``
    when there is none).
    """
    if per_class < 1:
        raise ValueError(f"per_class={per_class}: give a positive number of images per class, or None for all")
    frame = _sorted(manifest)
    unit = "video" if "video" in frame.columns else "group"
    number = frame["path"].map(frame_number)
    frame_order = np.lexsort((frame["path"].to_numpy(), number.fillna(-1).to_numpy(), number.isna().to_numpy()))
    labels = frame["label"].to_numpy()
    keep = np.zeros(len(frame), dtype=bool)
    for label in sorted(np.unique(labels)):
        rows = frame_order[labels[frame_order] == label]
        if len(rows) <= per_class:
            warnings.warn(f"per_class={per_class}: class {label} has only {len(rows)} images; keeping them all",
                          stacklevel=2)
            keep[rows] = True
            continue
        rng = np.random.default_rng([seed, 1, int(label)])
        members = pd.Series(rows).groupby(frame[unit].to_numpy()[rows], sort=True).agg(list)
        sizes = members.map(len).to_numpy()
        quotas = _quotas(sizes, per_class, rng)
        offsets = rng.random(len(members))
        for video_rows, quota, offset in zip(members, quotas, offsets):
            if quota:
                keep[np.asarray(video_rows)[_spread(len(video_rows), int(quota), offset)]] = True
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
    """Whole groups to splits, each to the split it fills least (relative to that split's target).

    Groups go largest first (seeded random order among equal sizes).  A group goes to the split
    whose fill, after taking it, is lowest: the group's frames per class over that split's
    target for the class, averaged over the group's frames.  So the splits fill at the same
    pace, and each receives the same mix of group kinds: with real/fake pairs and lone videos,
    the pairs are spread over train, validation and test at the fractions instead of all
    landing in train (minimising the squared gap to the targets would put each pair where the
    gap is largest, i.e. in train until train is full).
    """
    labels = np.unique(frame["label"].to_numpy())
    counts = pd.crosstab(frame["group"], frame["label"]).reindex(columns=labels, fill_value=0)
    order = _group_order(frame, seed, 2)
    counts = counts.loc[order]
    sizes = counts.sum(axis=1).to_numpy()
    counts = counts.iloc[np.argsort(-sizes, kind="stable")]
    totals = np.maximum(counts.sum(axis=0).to_numpy(dtype=float), 1.0)
    target = f[:, None] * totals[None, :]
    with np.errstate(divide="ignore"):
        inverse_target = np.where(target > 0, 1.0 / target, np.inf)
    current = np.zeros_like(target)
    assigned = {}
    for group, c in zip(counts.index, counts.to_numpy(dtype=float)):
        present = c > 0
        fill = ((current + c)[:, present] * inverse_target[:, present] * c[present]).sum(axis=1) / c.sum()
        best = int(np.argmin(fill))
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
            raise FileNotFoundError(f"{path}: missing; "
                                    "--official needs FaceForensics++'s train.json, val.json, test.json")
        for video in ffpp_pair_videos(path):
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
    frame = sample_per_class(manifest, per_class, seed) if per_class else _sorted(manifest)
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
    return float(gaps.loc[s, label]), (f"class {label} in {s} "
                                       f"({100 * table.loc[s, label]:.1f} % vs {100 * f[SPLITS.index(s)]:.1f} %)")


def split_summary(split: pd.DataFrame) -> pd.DataFrame:
    """Frames, videos and groups per split and class (the table ``tdfake split`` prints).

    Columns are ``(class, count)`` pairs: ``real`` and ``fake`` each with ``frames``, ``videos``
    and ``groups`` (groups holding frames of that class), then ``all`` with the same three; a
    group holding a real video and fakes made from it counts once under ``all``.  Rows are the
    splits, then ``total``.  Videos are the ``video`` column (``group`` when there is none).
    """
    unit = "video" if "video" in split.columns else "group"
    parts = {s: split[split["split"] == s] for s in SPLITS if (split["split"] == s).any()}
    parts["total"] = split
    rows = {}
    for name, part in parts.items():
        row = {}
        classes = [(name, part[part["label"] == label]) for label, name in LABEL_NAMES.items()]
        for cls, rows_of in (*classes, ("all", part)):
            row[(cls, "frames")] = len(rows_of)
            row[(cls, "videos")] = rows_of[unit].nunique()
            row[(cls, "groups")] = rows_of["group"].nunique()
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.index.name = "split"
    return table
