"""A study folder without its checkpoints and images: what its results are made of, small enough to keep.

A confirmatory study of 20 ImageNet-initialised runs outlives the machine that trains it (each
run's ``best.keras`` and ``last.keras`` are 80 MB apiece; its images are remade from the data).
:func:`archive_study` copies what every number of its results is computed from: the study's
manifest and split, and for each *evaluated* run its config, split, run.json, history, the
predictions and reports on its own test split and on every extra test set, and the provenance
records, leaving out checkpoints, TensorBoard logs and images.  Each archived run gets an
``archive.json`` (:data:`tdfake.layout.ARCHIVE_RECORD`) naming what was left out and the
checkpoint's fingerprint.

Copied back into a study folder (``cp -r ARCHIVE/. OUT/``), the archived runs count as finished:
``tdfake run`` checks their training settings against the config, reuses their recorded reports
and trains only the runs that are missing (see :func:`tdfake.study.run_arm`).  An archived run
cannot be scored on anything new: that needs its checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from tdfake import layout, provenance

logger = logging.getLogger(__name__)

LEFT_OUT = ("*.keras", layout.LOGS_DIR, layout.IMAGES_DIR)
"""What an archive does not hold: checkpoints, TensorBoard logs and images (remade from the data)."""

STUDY_FILES = (layout.MANIFEST_FILE, layout.SPLIT_FILE, "split.provenance.json", "manifest.provenance.json")


def evaluated_runs(out_dir: os.PathLike | str) -> list[Path]:
    """The run folders of a study (any training seed) that hold a finished run, or an archived one, evaluated on
    its own test split and on every test set of the study (``OUT/test_sets/<name>/manifest.csv``).

    A run still being scored on a test set is not taken: its archive could not stand for it.
    """
    out_dir = Path(out_dir)
    sets = sorted(m.parent.name for m in (out_dir / layout.TEST_SETS_DIR).glob(f"*/{layout.MANIFEST_FILE}"))
    found = []
    for config in sorted(out_dir.glob(f"**/{layout.CONFIG_FILE}")):
        run_dir = config.parent
        if not (layout.is_run(run_dir) or layout.is_archived(run_dir)):
            continue
        reports = [run_dir / layout.REPORT_JSON,
                   *(layout.test_set_report_dir(run_dir, name) / layout.REPORT_JSON for name in sets)]
        missing = [str(r.relative_to(run_dir)) for r in reports if not r.is_file()]
        if missing:
            logger.info("%s: not archived: no %s yet", run_dir, ", ".join(missing))
            continue
        found.append(run_dir)
    return found


def archive_study(out_dir: os.PathLike | str, dest: os.PathLike | str) -> list[Path]:
    """Copy the evaluated runs of study folder ``out_dir`` into ``dest`` without checkpoints, logs or images.

    Returns the archived run folders (under ``dest``).  Files already in ``dest`` are replaced, so
    archiving again after more runs finished brings the archive up to date.
    """
    out_dir, dest = Path(out_dir), Path(dest)
    if not out_dir.is_dir():
        raise FileNotFoundError(f"{out_dir}: no study folder here; pass the out_dir of a `tdfake run`")
    dest.mkdir(parents=True, exist_ok=True)
    for name in STUDY_FILES:
        if (out_dir / name).is_file():
            shutil.copy2(out_dir / name, dest / name)
    for manifest in sorted((out_dir / layout.TEST_SETS_DIR).glob("*/manifest*")):
        target = dest / manifest.relative_to(out_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(manifest, target)
    archived = []
    for run_dir in evaluated_runs(out_dir):
        target = dest / run_dir.relative_to(out_dir)
        shutil.copytree(run_dir, target, ignore=shutil.ignore_patterns(*LEFT_OUT), dirs_exist_ok=True)
        if not layout.is_archived(run_dir):  # an archived run's own archive.json is already copied
            checkpoint = run_dir / layout.BEST_CHECKPOINT
            record = {
                "left_out": list(LEFT_OUT),
                "best_checkpoint": provenance.file_fingerprint([checkpoint], root=run_dir),
                "best_checkpoint_bytes": checkpoint.stat().st_size,
                "archived_from": str(run_dir.resolve()),
                "archived_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            (target / layout.ARCHIVE_RECORD).write_text(json.dumps(record, indent=2) + "\n")
        archived.append(target)
    logger.info("tdfake archive: %d evaluated runs of %s in %s", len(archived), out_dir, dest)
    return archived
