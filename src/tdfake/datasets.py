"""Manifests: one table row per face crop (or video), with its label, manipulation method, video and group.

Why groups: the study split frames at random, so frames of one video (and a fake made from that
video) sat in train and test at once.  Here every row gets a ``group`` such that a split that
keeps groups whole cannot leak a video: a fake video links the videos it was made from (and the
identities it shows, where a dataset names them), and a group is a connected component of those
links.

Columns (the shared contract): ``root`` (absolute data folder), ``path`` (POSIX path relative
to ``root``), ``label`` (0 real, 1 fake), ``method`` ("real", or the manipulation's name),
``video``, ``group``.  Rows are sorted by ``path``.

How each dataset is laid out, recognised and read (``ffpp``, ``celebdf``, ``dfdc``,
``kaggle_dfdc``, ``folders``; ``auto`` recognises one or says why it cannot) is
:mod:`tdfake.dataset_layouts`'.  Files whose names the layout cannot parse link to no other
video (a file without a frame number is its own group), with a warning that counts them.

Videos in place of frames (``list_videos``, used by ``tdfake evaluate --data VIDEO_FOLDER``): each
row is a video file and its name without suffix is its video id (``REAL/000.mp4``,
``FAKE/NeuralTextures/000_003.mp4``, DFDC's ``abcdefgh.mp4``, a FaceForensics++ or Celeb-DF
download's videos), linked as the layout links frames' videos; ``test_list`` keeps the videos
of an official test list.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tdfake.constants import LABEL_NAMES
from tdfake.dataset_layouts import LAYOUTS, REGISTRY, DataFolder, Layout, Lister, detect, examples, official_test_list

logger = logging.getLogger(__name__)

COLUMNS = ["root", "path", "label", "method", "video", "group"]


def _components(videos: list[str], links: list[tuple[str, str]]) -> dict[str, str]:
    """Group id per video: connected components of the links, named by their smallest video id."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes = sorted(set(videos) | {v for link in links for v in link})
    index = {v: i for i, v in enumerate(nodes)}
    rows = [index[a] for a, _ in links]
    cols = [index[b] for _, b in links]
    graph = coo_matrix((np.ones(len(links)), (rows, cols)), shape=(len(nodes), len(nodes)))
    _, component = connected_components(graph, directed=False)
    name: dict[int, str] = {}
    for v in nodes:  # sorted, so the first node seen is the smallest
        name.setdefault(component[index[v]], v)
    return {v: name[component[index[v]]] for v in nodes}


def build_manifest(data_dir, layout: str = "auto", group_regex: str | None = None, metadata=None,
                   list_videos: Lister | None = None, compression: str | None = None,
                   methods: Sequence[str] | None = None, test_list: bool | str | Path = False) -> pd.DataFrame:
    """The manifest of a data folder (see the module docstring for layouts and columns).

    ``group_regex`` (folders layout) names each file's group by its first capture group;
    ``metadata`` is DFDC's ``metadata.json`` (or the Kaggle layout's ``metadata.csv``) when it is
    not in ``data_dir``.  ``list_videos``: rows are the video files it lists (sorted) instead of
    images, each named by its video id (see the module docstring); ``compression`` and
    ``methods`` pick from a dataset download.  ``test_list``: keep only the videos of an
    official test list, that file, or (True) the one the layout keeps in ``data_dir`` when it is
    there; groups are found on every file first.
    """
    data_dir = Path(data_dir).resolve()
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir}: no such data folder")
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r}: choose one of {', '.join(LAYOUTS)}")
    data = DataFolder(data_dir, list_videos, Path(metadata) if metadata else None, group_regex,
                      compression, tuple(methods) if methods else None)
    entry = REGISTRY[detect(data) if layout == "auto" else layout]
    if (compression is not None or methods) and not (entry.download and entry.download.found(data_dir)):
        raise ValueError(f"{data_dir}: compression and methods pick from a FaceForensics++ or Celeb-DF download; "
                         f"this folder is read as {entry.name}, which has none to pick")
    reading = entry.read(entry, data)
    if reading.unparsed:
        what = f"group_regex {group_regex!r}" if entry.name == "folders" else f"the {entry.name} naming scheme"
        warnings.warn(f"{data_dir}: {len(reading.unparsed)} of {len(reading.records)} file names do not follow "
                      f"{what}{examples(reading.unparsed)}; they link to no other video (a file without a frame "
                      "number is its own group)", stacklevel=2)
    manifest = _with_groups(reading.records, reading.links)
    listed: str | Path | None = official_test_list(data_dir, entry.name) if test_list is True else test_list or None
    if test_list is True and listed is None:
        logger.info("%s: no official test list; every video is kept", data_dir)
    return _on_test_list(manifest, entry, Path(listed)) if listed else manifest


def _on_test_list(manifest: pd.DataFrame, layout: Layout, path: Path) -> pd.DataFrame:
    """The manifest's rows whose video is on the test list ``path`` (read by the layout's reader); its labels
    must agree with the folders', and videos it lists that are not there are counted in a warning."""
    if layout.test_list is None:
        raise ValueError(f"{path}: the {layout.name} layout has no official test list format; leave out the test list")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such test list")
    listed = layout.test_list.read(path)
    on_list = manifest["video"].isin(listed)
    disagree = sorted(set(manifest.loc[on_list & (manifest["video"].map(listed) != manifest["label"]), "video"]))
    if disagree:
        raise ValueError(f"{path}: its labels disagree with the class folders for videos {', '.join(disagree[:5])}; "
                         "use the list made for this dataset")
    if not on_list.any():
        raise ValueError(f"{path}: none of its {len(listed)} videos is in {manifest['root'].iat[0]}; "
                         "use the list of this dataset, or score every video")
    absent = sorted(set(listed) - set(manifest["video"]))
    if absent:
        warnings.warn(f"{path}: {len(absent)} of its {len(listed)} videos are not in the data{examples(absent)}; "
                      "the others are kept", stacklevel=3)
    kept = manifest[on_list].reset_index(drop=True)
    logger.info("%s: %d of %d videos are on the test list", path, kept["video"].nunique(), manifest["video"].nunique())
    return kept


def _with_groups(records: list[tuple], links: list[tuple[str, str]]) -> pd.DataFrame:
    """The manifest of (root, path, label, method, video) records: groups from the links, sorted by path."""
    frame = pd.DataFrame.from_records(records, columns=COLUMNS[:-1])
    groups = _components(frame["video"].tolist(), links)
    frame["group"] = frame["video"].map(groups)
    return frame.sort_values("path", kind="stable").reset_index(drop=True)


def read_manifest(path) -> pd.DataFrame:
    """Read a manifest or split CSV, keeping video and group ids as strings (``000`` stays ``000``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such manifest; make one with `tdfake manifest DATA -o {path}`")
    frame = pd.read_csv(path, dtype={"video": str, "group": str, "path": str, "root": str, "method": str})
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {COLUMNS}")
    return frame


def summary(manifest: pd.DataFrame) -> pd.DataFrame:
    """Images and groups per class and method (the table ``tdfake manifest`` prints)."""
    table = manifest.assign(cls=manifest["label"].map(LABEL_NAMES)).groupby(["cls", "method"]).agg(
        images=("path", "size"), videos=("video", "nunique"), groups=("group", "nunique"))
    table.index.names = ["class", "method"]
    return table
