"""Dataset layouts: how each dataset lies on disk, and how its labels, methods, videos and links are read.

Why: a manifest is only as safe as its groups, and groups come from knowing which videos a fake
was made from, which each dataset says in its own way (file names, folders, metadata files).
:data:`REGISTRY` holds one :class:`Layout` per way a dataset is laid out: its name, how it is
recognised, how its files are read (from a crop tree and, for datasets downloaded as videos,
from the download as it is) and where its official test list lives.  Adding a dataset is one
entry (and its name rules) in this module; :mod:`tdfake.datasets` turns a reading into a
manifest.

Crop trees keep ``REAL/`` and ``FAKE/`` class folders (matched case-insensitively) with crops
named ``{video}_frame{N}.jpg`` (as ``tdfake faces`` writes them); fakes directly under the fake
folder get method ``"fake"``, in subfolders the subfolder's name.  Read with a video lister,
each file is a video named by its id (``REAL/000.mp4``, ``FAKE/NeuralTextures/000_003.mp4``).

``ffpp`` (FaceForensics++)
    Crops: real ``000_frame12.jpg`` (video ``000``), fake ``000_003_frame40.jpg`` (video
    ``000_003``, target ``000``, source ``003``), actor videos ``01__kitchen_still_frame250.jpg``
    and DeepFakeDetection fakes ``01_02__kitchen_still__ABCD1234_frame9.jpg`` (linked to
    ``01__kitchen_still``); all videos of an actor and all fakes showing that actor form one
    group.  The download as its script lays it out: ``original_sequences/{youtube,actors}/<c>/
    videos/*.mp4`` (real) and ``manipulated_sequences/<Method>/<c>/videos/*.mp4`` (fake), read at
    one compression ``<c>`` (``raw``, ``c23``, ``c40``); the methods read bring the originals they
    were made from (``actors`` for DeepFakeDetection, ``youtube`` for the others).  Official test
    list: ``test.json`` (or ``splits/test.json``), ``[target, source]`` pairs.
``celebdf`` (Celeb-DF v1/v2)
    Real ``id0_0000`` (identity 0), fake ``id0_id16_0000`` (made on a video of identity 0, the
    target, with identity 16's face) and ``00170`` (YouTube-real), as crops ``{video}_frame{N}.jpg``
    or as downloaded: ``Celeb-real/``, ``Celeb-synthesis/``, ``YouTube-real/``.  A group is a
    target identity: every video of id0 and every fake made on an id0 video; YouTube-real videos
    stand alone.  Sources are not linked: nearly every identity lends its face to fakes of
    others, so linking them would make one group of the whole dataset.  Official test list:
    ``List_of_testing_videos.txt``, lines ``1 YouTube-real/00170.mp4`` (1 real, 0 fake).
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

Detection (:func:`detect_layout`, ``layout: auto``) never guesses: every layout looks at the
folder and exactly one must recognise it (a name layout when every file name follows its
names, a download by its top folders, ``kaggle_dfdc`` by its ``metadata.csv``, ``dfdc`` videos
by ``metadata.json``, ``folders`` when no image name numbers a video frame); otherwise the error
says what each layout saw and asks for ``--layout``.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import pandas as pd

from tdfake.constants import LABEL_NAMES
from tdfake.images import list_images

logger = logging.getLogger(__name__)

CLASS_FOLDERS = {name: label for label, name in LABEL_NAMES.items()}
KAGGLE_METADATA = "metadata.csv"
KAGGLE_COLUMNS = ("videoname", "label", "original")
KAGGLE_LABELS = {name.upper(): label for label, name in LABEL_NAMES.items()}

_FRAME = re.compile(r"^(?P<video>.+?)_frame(?P<frame>\d+)$")  # tdfake faces' crop names
_DFDC_NAME = re.compile(r"^(?P<video>.+)-(?P<frame>\d+)-(?P<face>\d+)$")

Lister = Callable[[Path], list[Path]]
"""What lists a folder's data files, sorted: :func:`tdfake.images.list_images`, or a video lister."""


# ------------------------------------------------------------------------------------ the data folder

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


@dataclass
class DataFolder:
    """A data folder as the layouts see it: where it is, which files count (images, or the videos
    ``list_videos`` finds) and the reading options; its class-folder listing is made once."""

    root: Path
    list_videos: Lister | None = None
    metadata: Path | None = None
    group_regex: str | None = None
    compression: str | None = None
    methods: tuple[str, ...] | None = None

    @property
    def videos(self) -> bool:
        return self.list_videos is not None

    def list_files(self, folder: Path) -> list[Path]:
        return (self.list_videos or list_images)(folder)

    @cached_property
    def class_listing(self) -> tuple[list[tuple[Path, int, str]], str]:
        """((relative path, label, method) of the files under the class folders, ""), or ([], why there are none)."""
        try:
            return _files(self.root, self.list_videos or list_images), ""
        except ValueError as err:
            return [], str(err)

    def files(self) -> list[tuple[Path, int, str]]:
        """The class folders' files; raises the reason when there are no class folders or no files."""
        files, error = self.class_listing
        if error:
            raise ValueError(error)
        return files

    def name_of(self, rel: Path) -> str | None:
        """The video id a file names: a video's stem, a crop's ``{video}`` of ``{video}_frame{N}``; else None."""
        if self.videos:
            return rel.stem
        match = _FRAME.match(rel.stem)
        return match["video"] if match else None


# ------------------------------------------------------------------------------------ the registry

class Evidence(NamedTuple):
    """What a layout made of a folder: whether it is this layout, and what it saw (for messages)."""

    fits: bool
    saw: str


class Reading(NamedTuple):
    """A layout's reading of a folder: (root, path, label, method, video) records, video links and the
    paths whose names it could not parse."""

    records: list[tuple]
    links: list[tuple[str, str]]
    unparsed: list[str]


class Source(NamedTuple):
    """One folder of a download's videos: its label, method and compression level (None where the dataset has
    none), and where ``tdfake faces`` puts its crops."""

    folder: Path
    label: int
    method: str
    compression: str | None = None

    @property
    def crops(self) -> str:
        return "REAL" if self.label == 0 else f"FAKE/{self.method}"


@dataclass(frozen=True)
class Download:
    """A dataset as its download lays it out: the top folders that mark it, and the video folders to read
    (given the folder's ``compression`` and ``methods``)."""

    markers: tuple[str, ...]
    sources: Callable[[DataFolder], list[Source]]

    def found(self, root: Path) -> list[str]:
        return [name for name in self.markers if (root / name).is_dir()]


@dataclass(frozen=True)
class OfficialList:
    """An official test list: where the download keeps it (relative paths, first found wins) and its reader
    (file -> {video id: label})."""

    files: tuple[str, ...]
    read: Callable[[Path], dict[str, int]]


@dataclass(frozen=True)
class Layout:
    """One dataset layout (see the module docstring).

    ``recognise(layout, folder)`` says whether a folder is this layout and what it saw;
    ``read(layout, folder)`` reads it.  The layouts that name their videos (FaceForensics++,
    Celeb-DF) share :func:`_recognise_by_names` and :func:`_read_by_names`: a file's video id
    (:meth:`DataFolder.name_of`) goes to ``video_links``, which gives the ids it links to, or None
    when the id is not this layout's; a folder is such a layout when every name parses, or when
    its ``download``'s top folders are there.  ``title`` and ``names`` (its names, by example) are
    for messages.
    """

    name: str
    title: str
    names: str
    recognise: Callable[[Layout, DataFolder], Evidence]
    read: Callable[[Layout, DataFolder], Reading]
    video_links: Callable[[str], list[str] | None] | None = None
    download: Download | None = None
    test_list: OfficialList | None = None


def examples(names: Sequence[str], n: int = 3) -> str:
    """`` (e.g. a, b, c)``: the first ``n`` names, for messages; "" when there are none."""
    return f" (e.g. {', '.join(names[:n])})" if names else ""


def _recognise_by_names(layout: Layout, data: DataFolder) -> Evidence:
    if layout.download is not None:
        found = layout.download.found(data.root)
        if found:
            return Evidence(True, f"a {layout.title} download ({', '.join(f'{name}/' for name in found)})")
    files, error = data.class_listing
    if error:
        return Evidence(False, error)
    links = layout.video_links
    assert links is not None  # a layout read by names has video_links (see Layout)
    odd = [rel.as_posix() for rel, _, _ in files
           if (video := data.name_of(rel)) is None or links(video) is None]
    kind = "video" if data.videos else "crop"
    saw = (f"{len(files) - len(odd)} of {len(files)} {kind} names follow its video ids ({layout.names})"
           f"{f'; {len(odd)} do not{examples(odd)}' if odd else ''}")
    return Evidence(not odd, saw)


def _download_files(layout: Layout, data: DataFolder) -> list[tuple[Path, int, str]]:
    """(relative path, label, method) of the videos in the download's folders (see :class:`Download`)."""
    if not data.videos:
        raise ValueError(f"{data.root}: a {layout.title} download holds videos, not face crops; crop them with "
                         f"`tdfake faces {data.root} CROPS` and read CROPS, or score the videos with "
                         f"`tdfake evaluate RUN --data {data.root}`")
    assert layout.download is not None  # only a layout with a download reads one
    files = []
    for source in layout.download.sources(data):
        videos = data.list_files(source.folder)
        if not videos:
            raise ValueError(f"{source.folder}: no videos in this folder of the {layout.title} download")
        files += [(video.relative_to(data.root), source.label, source.method) for video in videos]
    return files


def _read_by_names(layout: Layout, data: DataFolder) -> Reading:
    download = layout.download is not None and layout.download.found(data.root)
    files = _download_files(layout, data) if download else data.files()
    assert layout.video_links is not None  # a layout read by names has video_links (see Layout)
    records, unparsed = [], []
    links: list[tuple[str, str]] = []
    for rel, label, method in files:
        video = data.name_of(rel)
        linked = layout.video_links(video) if video is not None else None
        if linked is None:
            unparsed.append(rel.as_posix())
        video = video if video is not None else rel.as_posix()
        records.append((str(data.root), rel.as_posix(), label, method, video))
        links.extend((video, other) for other in linked or ())
    return Reading(records, links, unparsed)


# FaceForensics++ ---------------------------------------------------------------------------------------

_FFPP_REAL = re.compile(r"^\d+$")
_FFPP_PAIR = re.compile(r"^(?P<target>\d+)_(?P<source>\d+)$")
_DFD_REAL = re.compile(r"^(?P<actor>\d+)__(?P<scene>.+)$")
_DFD_FAKE = re.compile(r"^(?P<target>\d+)_(?P<source>\d+)__(?P<scene>.+)__(?P<hash>[A-Za-z0-9]+)$")
FFPP_ORIGINALS = "original_sequences"
FFPP_MANIPULATED = "manipulated_sequences"
FFPP_ORIGINAL_OF = {"DeepFakeDetection": "actors"}
"""The original videos a method was made from (the others: ``youtube``)."""
FFPP_MASKS = "masks"
"""A method's manipulation masks (``<Method>/masks/videos``): beside the compression levels, not one of them."""


def _actor(actor_id: str) -> str:
    """The link node of a DeepFakeDetection actor (sorts after every video id, so groups keep video names)."""
    return f"actor_{actor_id}"


def _ffpp_links(video: str) -> list[str] | None:
    """The videos (and actors) a FaceForensics++ video id links to; None when it is not one.

    A fake ``000_003`` links its target ``000`` and source ``003``.  DeepFakeDetection videos are
    linked through their actors: a real ``01__kitchen_still`` to actor 01, a fake
    ``01_02__kitchen_still__ABCD1234`` to actors 01 and 02 and to the real video it was made from.
    So every video of an actor, and every fake showing that actor, fall in one group and no actor
    sits in two splits (the actor's face is the shared identity).
    """
    if _FFPP_REAL.match(video):
        return []
    if pair := _FFPP_PAIR.match(video):
        return [pair["target"], pair["source"]]
    if dfd := _DFD_FAKE.match(video):
        return [f"{dfd['target']}__{dfd['scene']}", _actor(dfd["target"]), _actor(dfd["source"])]
    if actor := _DFD_REAL.match(video):
        return [_actor(actor["actor"])]
    return None


def _subfolders(folder: Path) -> dict[str, Path]:
    return {child.name: child for child in sorted(folder.iterdir()) if child.is_dir()} if folder.is_dir() else {}


def _pick_methods(present: dict[str, Path], wanted: Sequence[str] | None, where: Path) -> list[str]:
    """The methods to read: ``wanted`` (each must be present), else all present."""
    if wanted is None:
        return list(present)
    unknown = [m for m in wanted if m not in present]
    if unknown:
        raise ValueError(f"{where}: no {', '.join(unknown)} here; the methods downloaded are "
                         f"{', '.join(present) or 'none'}")
    return list(dict.fromkeys(wanted))


def _pick_compression(folders: Sequence[Path], wanted: str | None, root: Path) -> str:
    """The compression level (a subfolder holding ``videos/``) to read in every dataset folder of a download."""
    levels = {folder: sorted(c.name for c in folder.iterdir() if (c / "videos").is_dir() and c.name != FFPP_MASKS)
              for folder in folders}
    where = "; ".join(f"{folder.relative_to(root)}: {', '.join(found) or 'none'}" for folder, found in levels.items())
    if wanted is not None:
        lacking = [folder for folder, found in levels.items() if wanted not in found]
        if lacking:
            raise ValueError(f"{root}: no {wanted}/videos in {', '.join(str(f.relative_to(root)) for f in lacking)} "
                             f"(compressions there: {where}); download it or pick another with --compression")
        return wanted
    common = set.intersection(*(set(found) for found in levels.values()))
    if len(common) == 1:
        return common.pop()
    if not common:
        raise ValueError(f"{root}: no compression level is in every folder read ({where}); download the missing "
                         "ones or pick the methods with --methods")
    raise ValueError(f"{root}: several compression levels ({where}); pick one with --compression "
                     f"{' | '.join(sorted(common))}")


def _ffpp_sources(data: DataFolder) -> list[Source]:
    """The FaceForensics++ download's video folders: the methods picked, the originals they were made from."""
    root = data.root
    originals = _subfolders(root / FFPP_ORIGINALS)
    manipulated = _subfolders(root / FFPP_MANIPULATED)
    methods = _pick_methods(manipulated, data.methods, root / FFPP_MANIPULATED)
    needed = sorted({FFPP_ORIGINAL_OF.get(m, "youtube") for m in methods}) if methods else list(originals)
    missing = [name for name in needed if name not in originals]
    if missing:
        raise ValueError(f"{root}: no {FFPP_ORIGINALS}/{missing[0]}, the original videos of the methods read "
                         f"({', '.join(methods)}); download them (download-FaceForensics.py -d original) or pick "
                         "other methods with --methods")
    folders = [(originals[n], 0, LABEL_NAMES[0]) for n in needed] + [(manipulated[m], 1, m) for m in methods]
    if not folders:
        raise ValueError(f"{root}: no videos under {FFPP_ORIGINALS}/ or {FFPP_MANIPULATED}/; download them with "
                         "FaceForensics++'s download script")
    compression = _pick_compression([folder for folder, _, _ in folders], data.compression, root)
    return [Source(folder / compression / "videos", label, method, compression) for folder, label, method in folders]


def ffpp_pair_videos(path: Path) -> dict[str, int]:
    """Video id -> label of a FaceForensics++ split file (``train.json``, ``val.json``, ``test.json``).

    Each file lists ``[target, source]`` pairs; a pair names both real videos and both fakes
    (``target_source``, ``source_target``).
    """
    try:
        pairs = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err}); use the file from the FaceForensics++ repository") from err
    videos: dict[str, int] = {}
    for pair in pairs if isinstance(pairs, list) else [pairs]:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ValueError(f"{path}: expected a list of [target, source] pairs, found {pair!r}")
        t, s = (str(v) for v in pair)
        videos.update({t: 0, s: 0, f"{t}_{s}": 1, f"{s}_{t}": 1})
    return videos


# Celeb-DF ----------------------------------------------------------------------------------------------

_CELEB_REAL = re.compile(r"^id(?P<identity>\d+)_\d+$")
_CELEB_FAKE = re.compile(r"^id(?P<identity>\d+)_id\d+_\d+$")
_YOUTUBE_REAL = re.compile(r"^\d{5}$")
CELEBDF_FOLDERS = (("Celeb-real", 0, LABEL_NAMES[0]), ("YouTube-real", 0, LABEL_NAMES[0]),
                   ("Celeb-synthesis", 1, "Celeb-synthesis"))
"""The download's video folders: (folder, label, method)."""


def _celebdf_links(video: str) -> list[str] | None:
    """A Celeb-DF video's target identity (``id0_0000`` and ``id0_id16_0000``: ``id0``); ``[]`` for YouTube-real."""
    if match := _CELEB_REAL.match(video) or _CELEB_FAKE.match(video):
        return [f"id{match['identity']}"]
    return [] if _YOUTUBE_REAL.match(video) else None


def _celebdf_sources(data: DataFolder) -> list[Source]:
    if data.compression is not None:
        raise ValueError(f"{data.root}: Celeb-DF has no compression levels; leave out --compression")
    fakes = {method: data.root / folder for folder, label, method in CELEBDF_FOLDERS if label == 1}
    methods = _pick_methods({m: f for m, f in fakes.items() if f.is_dir()}, data.methods, data.root)
    return [Source(data.root / folder, label, method) for folder, label, method in CELEBDF_FOLDERS
            if (data.root / folder).is_dir() and (label == 0 or method in methods)]


def celebdf_test_videos(path: Path) -> dict[str, int]:
    """Video id -> label of Celeb-DF's ``List_of_testing_videos.txt`` (lines ``1 YouTube-real/00170.mp4``:
    1 real, 0 fake)."""
    videos: dict[str, int] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ("0", "1"):
            raise ValueError(f"{path}, line {number}: {line.strip()!r} is not '<1 real | 0 fake> <folder>/<video>'; "
                             "use the list as downloaded")
        videos[PurePosixPath(parts[1]).stem] = 1 - int(parts[0])
    return videos


# DFDC --------------------------------------------------------------------------------------------------

def _dfdc_video(stem: str) -> str | None:
    match = _DFDC_NAME.match(stem)
    return match["video"] if match else None


def _dfdc_json(data: DataFolder) -> Path:
    return Path(data.metadata) if data.metadata is not None else data.root / "metadata.json"


def _dfdc_links(data: DataFolder) -> dict[str, str]:
    """Fake video -> original video from DFDC's ``metadata.json`` (empty when there is none)."""
    path = _dfdc_json(data)
    if not path.is_file():
        if data.metadata is not None:
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


def _dfdc_recognise(layout: Layout, data: DataFolder) -> Evidence:
    files, error = data.class_listing
    if error:
        return Evidence(False, error)
    if data.videos:
        path = _dfdc_json(data)
        found = path.suffix.lower() == ".json" and path.is_file()
        return Evidence(found, f"{'a' if found else 'no'} DFDC metadata.json ({path.name})")
    odd = [rel.as_posix() for rel, _, _ in files if not _DFDC_NAME.match(rel.stem)]
    return Evidence(not odd, f"{len(files) - len(odd)} of {len(files)} crop names follow its names ({layout.names})"
                             f"{f'; {len(odd)} do not{examples(odd)}' if odd else ''}")


def _dfdc_read(layout: Layout, data: DataFolder) -> Reading:
    originals = _dfdc_links(data)
    records, links, unparsed = [], [], []
    for rel, label, method in data.files():
        video = rel.stem if data.videos else _dfdc_video(rel.stem)
        if video is None:
            unparsed.append(rel.as_posix())
            video = rel.as_posix()
        elif label == 1 and video in originals:
            links.append((video, originals[video]))
        records.append((str(data.root), rel.as_posix(), label, method, video))
    return Reading(records, links, unparsed)


# Kaggle's DFDC deepfake-faces --------------------------------------------------------------------------

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


def _kaggle_recognise(layout: Layout, data: DataFolder) -> Evidence:
    found = kaggle_metadata(data.root, data.metadata) is not None
    return Evidence(found, f"{'a' if found else 'no'} {KAGGLE_METADATA} with columns {', '.join(KAGGLE_COLUMNS)}")


def _kaggle_read(layout: Layout, data: DataFolder) -> Reading:
    """Records and fake → original links of the Kaggle layout, with a warning that counts (and names a
    few of) the image files without a metadata row and the rows without a file."""
    metadata_csv = kaggle_metadata(data.root, data.metadata)
    if metadata_csv is None:
        raise FileNotFoundError(f"{Path(data.metadata) if data.metadata else data.root / KAGGLE_METADATA}: no "
                                f"Kaggle metadata.csv with columns {', '.join(KAGGLE_COLUMNS)}")
    meta = read_kaggle_metadata(metadata_csv).set_index("video")
    files: dict[str, Path] = {}
    for image in data.list_files(data.root):
        rel = image.relative_to(data.root)
        if rel.stem in files:
            raise ValueError(f"{data.root}: two image files for video {rel.stem} ({files[rel.stem]}, {rel}); "
                             "keep one crop per video")
        files[rel.stem] = rel
    if not files:
        raise ValueError(f"{data.root}: no image files; the Kaggle layout keeps its crops in faces_224/<video>.jpg")
    records, links = [], []
    for video, rel in sorted(files.items(), key=lambda item: item[1].as_posix()):
        if video not in meta.index:
            continue
        label, original = int(meta.at[video, "label"]), meta.at[video, "original"]
        records.append((str(data.root), rel.as_posix(), label, "real" if label == 0 else "fake", video))
        if label == 1 and original:
            links.append((video, original))
    unlisted = sorted(rel.as_posix() for video, rel in files.items() if video not in meta.index)
    absent = sorted(set(meta.index) - set(files))
    if unlisted or absent:
        warnings.warn(
            f"{data.root}: {len(unlisted)} image files have no row in {metadata_csv.name} and are left out"
            f"{examples(unlisted)}; {len(absent)} rows of {metadata_csv.name} have no image file{examples(absent)}",
            stacklevel=3)
    if not records:
        raise ValueError(f"{data.root}: no image file matches a videoname of {metadata_csv}; "
                         "files must be named <videoname without .mp4>.jpg")
    return Reading(records, links, [])


# Unrelated images --------------------------------------------------------------------------------------

def _folders_recognise(layout: Layout, data: DataFolder) -> Evidence:
    files, error = data.class_listing
    if error:
        return Evidence(False, error)
    if data.videos:
        return Evidence(False, "videos, whose names cannot tell whether one was made from another")
    framed = [rel.as_posix() for rel, _, _ in files if frame_number(rel.name) is not None]
    if framed:
        return Evidence(False, f"{len(framed)} of {len(files)} image names number a video frame{examples(framed)}, "
                               "so they are not unrelated images")
    return Evidence(True, f"{len(files)} images, none named as a video frame")


def _folders_read(layout: Layout, data: DataFolder) -> Reading:
    pattern = re.compile(data.group_regex) if data.group_regex else None
    if pattern is not None and pattern.groups < 1:
        raise ValueError(f"group_regex={data.group_regex!r} needs a capture group, e.g. r'^(.+?)_\\d+$'")
    records, unparsed = [], []
    for rel, label, method in data.files():
        video = rel.as_posix()  # unrelated images: every file its own group
        if pattern is not None:
            match = pattern.search(rel.stem)
            if match:
                video = match.group(1)
            else:
                unparsed.append(video)
        records.append((str(data.root), rel.as_posix(), label, method, video))
    return Reading(records, [], unparsed)


REGISTRY: dict[str, Layout] = {layout.name: layout for layout in (
    Layout("ffpp", "FaceForensics++", "000, 000_003, 01__kitchen_still, 01_02__kitchen_still__ABCD1234",
           _recognise_by_names, _read_by_names, _ffpp_links,
           Download((FFPP_ORIGINALS, FFPP_MANIPULATED), _ffpp_sources),
           OfficialList(("test.json", "splits/test.json"), ffpp_pair_videos)),
    Layout("celebdf", "Celeb-DF", "id0_0000, id0_id16_0000, 00170",
           _recognise_by_names, _read_by_names, _celebdf_links,
           Download(tuple(folder for folder, _, _ in CELEBDF_FOLDERS), _celebdf_sources),
           OfficialList(("List_of_testing_videos.txt",), celebdf_test_videos)),
    Layout("dfdc", "DFDC", "{video}-{frame}-{face}.png", _dfdc_recognise, _dfdc_read),
    Layout("kaggle_dfdc", "Kaggle deepfake-faces", "faces_224/<video>.jpg + metadata.csv",
           _kaggle_recognise, _kaggle_read),
    Layout("folders", "unrelated images", "real/ and fake/ of any names", _folders_recognise, _folders_read),
)}
"""Every dataset layout, by name (see the module docstring)."""

LAYOUTS = ("auto", *REGISTRY)
"""The values of ``--layout`` and the config's ``layout``."""


def frame_number(path: str) -> int | None:
    """The frame number in a crop's file name (FF++ ``..._frame12``, DFDC ``{video}-{frame}-{face}``), else None.

    Used to take frames in time order when sampling a video (see :func:`tdfake.split.sample_per_class`).
    """
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    for pattern in (_FRAME, _DFDC_NAME):
        match = pattern.match(stem)
        if match:
            return int(match["frame"])
    return None


# ------------------------------------------------------------------------------------ detection

def detect(data: DataFolder) -> str:
    """The one layout that recognises ``data``; a ValueError saying what each layout saw otherwise."""
    seen = {name: layout.recognise(layout, data) for name, layout in REGISTRY.items()}
    fits = [name for name, evidence in seen.items() if evidence.fits]
    if len(fits) == 1:
        logger.info("%s: layout %s (%s)", data.root, fits[0], seen[fits[0]].saw)
        return fits[0]
    _, error = data.class_listing
    if not fits and error:
        raise ValueError(f"{error}; or a FaceForensics++ or Celeb-DF download as it is, or Kaggle's "
                         "deepfake-faces folder (faces_224/ and metadata.csv)")
    which = f"{' and '.join(fits)} all recognise it" if fits else "no layout recognises it"
    saw = "; ".join(f"{name}: {evidence.saw}" for name, evidence in seen.items())
    raise ValueError(f"{data.root}: {which}, so its videos cannot be grouped safely; name its layout with "
                     f"--layout NAME (config: layout: NAME), one of {', '.join(REGISTRY)}. What each saw: {saw}")


def detect_layout(data_dir: str | Path, metadata: str | Path | None = None,
                  list_videos: Lister | None = None) -> str:
    """The layout that recognises ``data_dir`` (its images, or the videos ``list_videos`` finds); raises a
    ValueError naming what each layout saw when none or several do (see the module docstring)."""
    return detect(DataFolder(Path(data_dir), list_videos, Path(metadata) if metadata else None))


def download_layout(root: str | Path) -> Layout | None:
    """The layout whose download ``root`` is (by its top folders), or None."""
    root = Path(root)
    found = [layout for layout in REGISTRY.values() if layout.download is not None and layout.download.found(root)]
    if len(found) > 1:
        raise ValueError(f"{root}: holds both a {found[0].title} and a {found[1].title} download; "
                         "pass each one's own folder")
    return found[0] if found else None


def download_sources(root: str | Path, compression: str | None = None,
                     methods: Sequence[str] | None = None) -> tuple[Layout, list[Source]]:
    """The download layout of ``root`` and its video folders to read (``compression`` and ``methods`` picked,
    see :class:`Download`)."""
    layout = download_layout(root)
    if layout is None:
        markers = [f"{m}/" for entry in REGISTRY.values() if entry.download for m in entry.download.markers]
        raise ValueError(f"{root}: not a dataset download (none of {', '.join(markers)}); pass the folder its "
                         "download script wrote")
    assert layout.download is not None  # download_layout found it by its download
    data = DataFolder(Path(root), compression=compression, methods=tuple(methods) if methods else None)
    return layout, layout.download.sources(data)


def official_test_list(data_dir: str | Path, layout: str = "auto", list_videos: Lister | None = None) -> Path | None:
    """The official test list the layout of ``data_dir`` keeps there (FF++ ``test.json``, Celeb-DF
    ``List_of_testing_videos.txt``), or None."""
    data_dir = Path(data_dir)
    name = detect(DataFolder(data_dir, list_videos)) if layout == "auto" else layout
    test_list = REGISTRY[name].test_list
    found = [data_dir / f for f in test_list.files if (data_dir / f).is_file()] if test_list else []
    return found[0] if found else None
