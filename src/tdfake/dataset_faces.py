"""A dataset download's videos → the crop tree the manifest reads: ``OUT/REAL/`` and ``OUT/FAKE/<Method>/``.

Why: FaceForensics++ and Celeb-DF arrive as videos in their own folder trees
(``original_sequences/youtube/c40/videos/000.mp4``, ``Celeb-synthesis/id0_id16_0000.mp4``), while
training reads face crops under class folders.  :func:`extract_download` crops, in one call, every
video folder the layout names (:func:`tdfake.datasets.download_sources`: one compression, the
methods picked and the originals they were made from) into ``OUT/REAL`` or ``OUT/FAKE/<Method>``
with :func:`tdfake.faces.extract_faces`, one detector for all, so crops are named
``{video}_frame{N}.jpg`` as the layout's names expect.

Resuming: each class folder keeps ``extract_faces``' ledger (``faces.json``: the parameters and the
finished videos, so a rerun skips finished videos and redoes a half-done one) and its
``skipped.csv``; ``OUT/download.json`` records the layout and compression, so crops of another
compression never mix into the tree; ``OUT/skipped.csv`` gathers the skipped videos and frames,
each video named by its path in the download.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from tdfake.dataset_layouts import Source, download_sources
from tdfake.faces import (
    CROP_MARGIN,
    CROP_SIZE,
    DETECT_SIZE,
    MIN_CONFIDENCE,
    SKIPPED,
    FaceDetector,
    FaceSummary,
    extract_faces,
)
from tdfake.images import write_atomic

logger = logging.getLogger(__name__)

RECORD = "download.json"


def extract_download(root, out, compression: str | None = None, methods: Sequence[str] | None = None,
                     every: int = 10, margin: float = CROP_MARGIN, size: int = CROP_SIZE,
                     min_confidence: float = MIN_CONFIDENCE, detect_size: int | None = DETECT_SIZE,
                     detector: FaceDetector | None = None, progress: bool = True) -> FaceSummary:
    """Crop the faces of the download at ``root`` into ``out`` (see the module docstring); the summed summary."""
    root, out = Path(root), Path(out)
    layout, sources = download_sources(root, compression, methods)
    _check_record(out, {"layout": layout.name, "compression": sources[0].compression if sources else None})
    detector = detector or FaceDetector(min_confidence, detect_size)
    total = FaceSummary()
    for source in sources:
        logger.info("%s -> %s", source.folder, out / source.crops)
        done = extract_faces(source.folder, out / source.crops, every=every, margin=margin, size=size,
                             min_confidence=min_confidence, detect_size=detector.detect_size, detector=detector,
                             progress=progress)
        for name in ("written", "existing", "skipped", "resumed", "seconds"):
            setattr(total, name, getattr(total, name) + getattr(done, name))
    _gather_skipped(root, out, sources)
    return total


def _check_record(out: Path, record: dict) -> None:
    """Refuse crops of another dataset or compression in ``out``; write ``download.json`` otherwise."""
    path = out / RECORD
    if path.is_file():
        earlier = json.loads(path.read_text())
        if earlier != record:
            raise ValueError(f"{out} holds crops of {earlier}, not {record}; use another output folder")
        return
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(record, indent=1) + "\n").encode())


def _gather_skipped(root: Path, out: Path, sources: list[Source]) -> None:
    """``OUT/skipped.csv``: every class folder's skipped videos and frames, each named by its path in the download."""
    tables = []
    for source in sources:
        table = pd.read_csv(out / source.crops / SKIPPED, dtype=str, keep_default_na=False)
        on_disk = [(source.folder / name).is_file() for name in table["source"]]  # its videos, not its neighbours'
        mine = table[pd.Series(on_disk, index=table.index, dtype=bool)]
        folder = source.folder.relative_to(root).as_posix()
        tables.append(mine.assign(source=folder + "/" + mine["source"]))
    gathered = pd.concat(tables, ignore_index=True).sort_values("source", kind="stable")
    write_atomic(out / SKIPPED, gathered.to_csv(index=False).encode())
