"""Manifests: one table row per face crop, with its label, manipulation method, video and group.

Why groups: the study split frames at random, so frames of one video (and a fake made from that
video) sat in train and test at once.  Here every row gets a ``group`` such that a split that
keeps groups whole cannot leak a video: a fake video links its target and source videos (and a
DFDC fake its original), and a group is a connected component of those links.

Columns (the shared contract): ``root`` (absolute data folder), ``path`` (POSIX path relative
to ``root``), ``label`` (0 real, 1 fake), ``method`` ("real", or the manipulation's name),
``video``, ``group``.  Rows are sorted by ``path``.

Layouts (class folders are matched case-insensitively: ``REAL``/``real``, ``FAKE``/``fake``):

``ffpp``
    The study's: ``REAL/*.jpg`` and ``FAKE/<Method>/*.jpg`` with FaceForensics++ names:
    real ``000_frame12.jpg`` (video ``000``), fake ``000_003_frame40.jpg`` (video ``000_003``,
    target ``000``, source ``003``), actor videos ``01__kitchen_still_frame250.jpg`` and
    DeepFakeDetection fakes ``01_02__kitchen_still__ABCD1234_frame9.jpg`` (linked to
    ``01__kitchen_still``); all videos of an actor and all fakes showing that actor form one
    group.
``dfdc``
    ``real/`` and ``fake/`` crops named ``{video}-{frame}-{face}.png``; with DFDC's
    ``metadata.json`` (in the data folder, or passed as ``metadata``) each fake video is linked
    to its ``original``.
``kaggle_dfdc``
    Kaggle's "deepfake-faces" download as it is: an image folder (``faces_224/<video>.jpg``)
    and ``metadata.csv`` with columns ``videoname``, ``label`` (REAL/FAKE) and ``original``.
    Labels come from the metadata (no class folders); each fake is linked to its original.
    Image files without a metadata row are left out, and metadata rows without an image file
    are ignored; both are counted in a warning that names a few of them.
``folders``
    ``real/`` and ``fake/`` of unrelated images: one group per file, or the first capture
    group of ``group_regex`` (matched against the file name without suffix) names the group.

Fakes directly under the fake folder get method ``"fake"``; in subfolders, the subfolder's
name.  Files whose names the layout cannot parse fall back to one group per file, with a
warning that counts them.

Videos in place of frames (``list_videos``, used by ``tdfake evaluate --data VIDEO_FOLDER``): each
row is a video file and its name without suffix is its video id (``REAL/000.mp4``,
``FAKE/NeuralTextures/000_003.mp4``, DFDC's ``abcdefgh.mp4``), linked as the layout links frames'
videos.  ``auto`` then picks ``kaggle_dfdc`` with a Kaggle ``metadata.csv``, ``dfdc`` with a
``metadata.json``, else ``ffpp``.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from tdfake.constants import LABEL_NAMES
from tdfake.images import list_images

COLUMNS = ["root", "path", "label", "method", "video", "group"]
LAYOUTS = ("auto", "ffpp", "dfdc", "kaggle_dfdc", "folders")
CLASS_FOLDERS = {name: label for label, name in LABEL_NAMES.items()}
KAGGLE_METADATA = "metadata.csv"
KAGGLE_COLUMNS = ("videoname", "label", "original")
KAGGLE_LABELS = {name.upper(): label for label, name in LABEL_NAMES.items()}

_FFPP_FRAME = re.compile(r"^(?P<video>.+?)_frame(?P<frame>\d+)$")
_FFPP_PAIR = re.compile(r"^(?P<target>\d+)_(?P<source>\d+)$")
_DFD_REAL = re.compile(r"^(?P<actor>\d+)__(?P<scene>.+)$")
_DFD_FAKE = re.compile(r"^(?P<target>\d+)_(?P<source>\d+)__(?P<scene>.+)__(?P<hash>[A-Za-z0-9]+)$")
_DFDC_NAME = re.compile(r"^(?P<video>.+)-(?P<frame>\d+)-(?P<face>\d+)$")


def class_folders(data_dir: Path) -> dict[int, Path]:
    """The real and fake folders directly under ``data_dir`` (case-insensitive names)."""
    found: dict[int, Path] = {}
    for child in sorted(data_dir.iterdir()):
        label = CLASS_FOLDERS.get(child.name.lower())
        if child.is_dir() and label is not None:
            if label in found:
                raise ValueError(f"{data_dir}: two folders for one class ({found[label].name}, {child.name}); "
                                 "merge them")
            found[label] = child
    missing = [name for name, label in CLASS_FOLDERS.items() if label not in found]
    if missing:
        raise ValueError(f"{data_dir}: no {' or '.join(missing)} folder; "
                         "expected REAL/ (or real/) and FAKE/ (or fake/) holding the face crops")
    return found


Lister = Callable[[Path], list[Path]]
"""What lists a folder's data files, sorted: :func:`tdfake.images.list_images`, or a video lister."""


def _files(data_dir: Path, lister: Lister = list_images) -> list[tuple[Path, int, str]]:
    """(relative path, label, method) of every image (or ``lister``'s file) under the class folders."""
    rows = []
    for label, folder in class_folders(data_dir).items():
        images = lister(folder)
        if not images:
            what = "images" if lister is list_images else "videos"
            raise ValueError(f"{folder}: no {what} in this class folder; add face crops (.jpg, .png, ...) or videos")
        for image in images:
            rel = image.relative_to(folder)
            method = LABEL_NAMES[label] if label == 0 or len(rel.parts) == 1 else rel.parts[0]
            rows.append((image.relative_to(data_dir), label, method))
    return rows


def _actor(actor_id: str) -> str:
    """The link node of a DeepFakeDetection actor (sorts after every video id, so groups keep video names)."""
    return f"actor_{actor_id}"


def _ffpp_video(stem: str, label: int) -> tuple[str | None, list[str]]:
    """Video id of a FaceForensics++ frame name and the videos it links to (None if unparsed).

    DeepFakeDetection videos are linked through their actors: a real ``01__kitchen_still`` to
    actor 01, a fake ``01_02__kitchen_still__ABCD1234`` to actors 01 and 02 and to the real
    video it was made from.  So every video of an actor, and every fake showing that actor,
    fall in one group and no actor sits in two splits (the actor's face is the shared identity).
    """
    match = _FFPP_FRAME.match(stem)
    if not match:
        return None, []
    return match["video"], _ffpp_links(match["video"], label)


def _ffpp_links(video: str, label: int) -> list[str]:
    """The videos (and actors) a FaceForensics++ video id links to (see :func:`_ffpp_video`)."""
    if label == 1:
        pair = _FFPP_PAIR.match(video)
        if pair:
            return [pair["target"], pair["source"]]
        dfd = _DFD_FAKE.match(video)
        if dfd:
            return [f"{dfd['target']}__{dfd['scene']}", _actor(dfd["target"]), _actor(dfd["source"])]
    actor = _DFD_REAL.match(video)
    return [_actor(actor["actor"])] if actor else []


def frame_number(path: str) -> int | None:
    """The frame number in a crop's file name (FF++ ``..._frame12``, DFDC ``{video}-{frame}-{face}``), else None.

    Used to take frames in time order when sampling a video (see :func:`tdfake.split.sample_per_class`).
    """
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    for pattern in (_FFPP_FRAME, _DFDC_NAME):
        match = pattern.match(stem)
        if match:
            return int(match["frame"])
    return None


def _dfdc_video(stem: str) -> str | None:
    match = _DFDC_NAME.match(stem)
    return match["video"] if match else None


def _dfdc_links(data_dir: Path, metadata: str | Path | None) -> dict[str, str]:
    """Fake video -> original video from DFDC's ``metadata.json`` (empty when there is none)."""
    path = Path(metadata) if metadata is not None else data_dir / "metadata.json"
    if not path.is_file():
        if metadata is not None:
            raise FileNotFoundError(f"{path}: metadata file not found; pass DFDC's metadata.json or leave it out")
        return {}
    try:
        entries = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err}); use DFDC's metadata.json as downloaded") from err
    links = {}
    for name, entry in entries.items():
        original = entry.get("original") if isinstance(entry, dict) else None
        if original:
            links[Path(name).stem] = Path(original).stem
    return links


def kaggle_metadata(data_dir: Path, metadata: str | Path | None = None) -> Path | None:
    """The Kaggle layout's ``metadata.csv`` (``metadata``, else the one in ``data_dir``) when it
    has the columns videoname, label and original; ``None`` otherwise."""
    path = Path(metadata) if metadata is not None else data_dir / KAGGLE_METADATA
    if path.suffix.lower() != ".csv" or not path.is_file():
        return None
    header = pd.read_csv(path, nrows=0).columns.str.strip().str.lower()
    return path if set(KAGGLE_COLUMNS) <= set(header) else None


def read_kaggle_metadata(path: Path) -> pd.DataFrame:
    """``metadata.csv`` as (video, label 0/1, original video or ""), video ids without ``.mp4``."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.columns = table.columns.str.strip().str.lower()
    missing = [c for c in KAGGLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; the Kaggle deepfake-faces metadata.csv has "
                         f"{', '.join(KAGGLE_COLUMNS)}")
    labels = table["label"].str.strip().str.upper()
    bad = sorted(set(labels) - set(KAGGLE_LABELS))
    if bad:
        raise ValueError(f"{path}: label values {bad[:5]} are neither REAL nor FAKE; fix or drop those rows")
    video = table["videoname"].str.strip().map(lambda name: Path(name).stem)
    duplicated = sorted(set(video[video.duplicated()]))
    if duplicated:
        raise ValueError(f"{path}: videos listed more than once ({', '.join(duplicated[:5])}); keep one row each")
    original = table["original"].str.strip().map(lambda name: Path(name).stem if name else "")
    return pd.DataFrame({"video": video, "label": labels.map(KAGGLE_LABELS), "original": original})


def _kaggle_dfdc_rows(data_dir: Path, metadata_csv: Path, lister: Lister = list_images,
                      ) -> tuple[list[tuple], list[tuple[str, str]]]:
    """Manifest records and fake → original links of the Kaggle layout, with a warning that counts
    (and names a few of) the image files without a metadata row and the rows without a file."""
    meta = read_kaggle_metadata(metadata_csv).set_index("video")
    files: dict[str, Path] = {}
    for image in lister(data_dir):
        rel = image.relative_to(data_dir)
        if rel.stem in files:
            raise ValueError(f"{data_dir}: two image files for video {rel.stem} ({files[rel.stem]}, {rel}); "
                             "keep one crop per video")
        files[rel.stem] = rel
    if not files:
        raise ValueError(f"{data_dir}: no image files; the Kaggle layout keeps its crops in faces_224/<video>.jpg")
    records, links = [], []
    for video, rel in sorted(files.items(), key=lambda item: item[1].as_posix()):
        if video not in meta.index:
            continue
        label, original = int(meta.at[video, "label"]), meta.at[video, "original"]
        records.append((str(data_dir), rel.as_posix(), label, "real" if label == 0 else "fake", video))
        if label == 1 and original:
            links.append((video, original))
    unlisted = sorted(rel.as_posix() for video, rel in files.items() if video not in meta.index)
    absent = sorted(set(meta.index) - set(files))
    if unlisted or absent:
        warnings.warn(
            f"{data_dir}: {len(unlisted)} image files have no row in {metadata_csv.name} and are left out"
            f"{_examples(unlisted)}; {len(absent)} rows of {metadata_csv.name} have no image file{_examples(absent)}",
            stacklevel=3)
    if not records:
        raise ValueError(f"{data_dir}: no image file matches a videoname of {metadata_csv}; "
                         "files must be named <videoname without .mp4>.jpg")
    return records, links


def _examples(names: list[str], n: int = 3) -> str:
    return f" (e.g. {', '.join(names[:n])})" if names else ""


def detect_layout(data_dir: str | Path, metadata: str | Path | None = None, videos: bool = False) -> str:
    """``kaggle_dfdc`` when a Kaggle ``metadata.csv`` is there, else ``ffpp``, ``dfdc`` or
    ``folders``: whichever name pattern most files follow.  For ``videos`` (file name = video id,
    no frame pattern to go by): ``dfdc`` when DFDC's ``metadata.json`` is there, else ``ffpp``."""
    data_dir = Path(data_dir)
    if kaggle_metadata(data_dir, metadata) is not None:
        return "kaggle_dfdc"
    if videos:
        json_file = Path(metadata) if metadata is not None else data_dir / "metadata.json"
        return "dfdc" if json_file.suffix.lower() == ".json" and json_file.is_file() else "ffpp"
    stems = [rel.stem for rel, _, _ in _files(data_dir)]
    ffpp = sum(bool(_FFPP_FRAME.match(s)) for s in stems)
    dfdc = sum(bool(_DFDC_NAME.match(s)) for s in stems)
    if max(ffpp, dfdc) * 2 <= len(stems):
        return "folders"
    return "ffpp" if ffpp >= dfdc else "dfdc"


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
                   list_videos: Lister | None = None) -> pd.DataFrame:
    """The manifest of a data folder (see the module docstring for layouts and columns).

    ``group_regex`` (folders layout) names each file's group by its first capture group;
    ``metadata`` is DFDC's ``metadata.json`` (or the Kaggle layout's ``metadata.csv``) when it is
    not in ``data_dir``.  ``list_videos``: rows are the video files it lists (sorted) instead of
    images, each named by its video id (see the module docstring).
    """
    data_dir = Path(data_dir).resolve()
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir}: no such data folder")
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r}: choose one of {', '.join(LAYOUTS)}")
    videos = list_videos is not None
    lister: Lister = list_videos if list_videos is not None else list_images
    if layout == "auto":
        layout = detect_layout(data_dir, metadata, videos)
    if layout == "kaggle_dfdc":
        metadata_csv = kaggle_metadata(data_dir, metadata)
        if metadata_csv is None:
            raise FileNotFoundError(f"{Path(metadata) if metadata else data_dir / KAGGLE_METADATA}: no Kaggle "
                                    f"metadata.csv with columns {', '.join(KAGGLE_COLUMNS)}")
        records, links = _kaggle_dfdc_rows(data_dir, metadata_csv, lister)
        return _with_groups(records, links)
    pattern = re.compile(group_regex) if group_regex else None
    if pattern is not None and pattern.groups < 1:
        raise ValueError(f"group_regex={group_regex!r} needs a capture group, e.g. r'^(.+?)_\\d+$'")
    dfdc_links = _dfdc_links(data_dir, metadata) if layout == "dfdc" else {}

    records, links, unparsed = [], [], 0
    for rel, label, method in _files(data_dir, lister):
        stem = rel.stem
        video: str | None = None
        linked: list[str] = []
        if layout == "ffpp":
            video, linked = (stem, _ffpp_links(stem, label)) if videos else _ffpp_video(stem, label)
        elif layout == "dfdc":
            video = stem if videos else _dfdc_video(stem)
            if video is not None and label == 1 and video in dfdc_links:
                linked = [dfdc_links[video]]
        elif pattern is not None:
            match = pattern.search(stem)
            video = match.group(1) if match else None
        else:
            video = rel.as_posix()  # unrelated images: every file its own group, no warning
        if video is None:
            unparsed += 1
            video = rel.as_posix()
        records.append((str(data_dir), rel.as_posix(), label, method, video))
        links.extend((video, other) for other in linked)
    if unparsed:
        what = f"group_regex {group_regex!r}" if layout == "folders" else f"the {layout} naming scheme"
        warnings.warn(f"{data_dir}: {unparsed} of {len(records)} file names do not follow {what}; "
                      "each of them is its own group", stacklevel=2)
    return _with_groups(records, links)


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
