"""A study folder without its checkpoints and images: what its results are made of, small enough to keep.

A confirmatory study of 20 ImageNet-initialised runs outlives the machine that trains it (each
run's ``best.keras`` and ``last.keras`` are 80 MB apiece; its images are remade from the data).
:func:`archive_study` copies what every number of its results is computed from: the study's
manifest and split, and for each *evaluated* run its config, split, run.json, history, the
predictions and reports on its own test split and on every extra test set, and the provenance
records, leaving out checkpoints, TensorBoard logs and images.  Each archived run gets an
``archive.json`` (:data:`tdfake.layout.ARCHIVE_RECORD`) naming what was left out and the
checkpoint's fingerprint.

An archive names no folder of the machine that made it: every place the config names (the data,
the test sets, the weights file, the output folders) is written as a placeholder such as
``${data_dir}`` or ``${test_sets.dfdc_test}``.  :func:`restore_study` fills them in with another
config's places, so the study continues wherever its data lie; the archived runs then count as
finished: ``tdfake run`` checks their training settings against the config, reuses their
recorded reports and trains only the runs that are missing (see :func:`tdfake.study.run_arm`).
An archived run cannot be scored on anything new: that needs its checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from tdfake import layout, provenance
from tdfake.config import Config
from tdfake.datasets import read_manifest
from tdfake.test_sets import rows_fingerprint

logger = logging.getLogger(__name__)

LEFT_OUT = ("*.keras", layout.LAST_RANDOM_STATE, layout.LOGS_DIR, layout.IMAGES_DIR)
"""What an archive does not hold: checkpoints (with the last one's dropout state), TensorBoard logs and images
(remade from the data)."""

STUDY_FILES = (layout.MANIFEST_FILE, layout.SPLIT_FILE, "split.provenance.json", "manifest.provenance.json")

TEXT_SUFFIXES = (".csv", ".json", ".md", ".yaml")
"""The files whose text may name a place; the others are copied as they are."""

CONFIGURED_FORM = (layout.CONFIG_FILE, provenance.record_path("", "training").name)
"""Files holding the config's settings as given (a relative path or a link stays so); every other file
names the folder it resolves to."""

PLACEHOLDER = re.compile(r"\$\{([\w.-]+)\}")

LEGACY_ROWS_COLUMNS = ("root", "path", "label", "group")
"""What a test-set report's record fingerprinted before it left the set's folder out (confirmatory part 1)."""


def place_settings(cfg: Config) -> dict[str, str]:
    """The config's settings that name a place on a machine: setting → value as configured."""
    places = {key: getattr(cfg, key) for key in ("data_dir", "demo_dir", "weights", "out_dir", "graphs_dir")}
    places.update({f"test_sets.{name}": folder for name, folder in cfg.test_sets.items()})
    return {key: str(value) for key, value in places.items() if value is not None}


def _place_forms(configs: list[Config]) -> list[tuple[str, str]]:
    """(text, placeholder) for every way the configs' places can be written: as given when absolute, and
    resolved when the place exists; longest first, so a folder inside another is replaced first."""
    forms: dict[str, str] = {}
    for cfg in configs:
        for key, value in place_settings(cfg).items():
            if os.path.isabs(value):
                forms.setdefault(value, key)
            if Path(value).exists():
                forms.setdefault(str(Path(value).resolve()), key)
    return sorted(((text, f"${{{key}}}") for text, key in forms.items()), key=lambda pair: -len(pair[0]))


def _copy_text(source: Path, target: Path, replace) -> None:
    """Copy ``source`` to ``target`` with ``replace`` applied to the text of a text file; keep its times."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix in TEXT_SUFFIXES:
        target.write_bytes(replace(source.read_bytes().decode(), source).encode())  # line endings kept
        shutil.copystat(source, target)
    else:
        shutil.copy2(source, target)


def _copy_study_files(source_dir: Path, target_dir: Path, replace) -> None:
    """Copy a study's manifest, split and test-set manifests (with their records), ``replace`` applied."""
    sources = [source_dir / name for name in STUDY_FILES if (source_dir / name).is_file()]
    sources += sorted((source_dir / layout.TEST_SETS_DIR).glob("*/manifest*"))
    for source in sources:
        _copy_text(source, target_dir / source.relative_to(source_dir), replace)


def _copy_run(run_dir: Path, target: Path, replace, ignore=None) -> None:
    """Copy a run folder (less what ``ignore`` leaves out), ``replace`` applied to its text files."""
    shutil.copytree(run_dir, target, ignore=ignore, dirs_exist_ok=True,
                    copy_function=lambda source, copy: _copy_text(Path(source), Path(copy), replace))


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


def _rows_without_folder(out_dir: Path, run_dir: Path) -> None:
    """Rewrite the run's test-set report records made before rows were fingerprinted without their folder,
    after checking that they were made on the rows of the set's manifest in ``out_dir``."""
    for manifest in sorted((out_dir / layout.TEST_SETS_DIR).glob(f"*/{layout.MANIFEST_FILE}")):
        record_file = provenance.record_path(layout.test_set_report_dir(run_dir, manifest.parent.name), "report")
        record = provenance.read_record(record_file)
        if not record:
            continue
        rows = read_manifest(manifest)
        if record["params"].get("rows") == provenance.table_fingerprint(rows, LEGACY_ROWS_COLUMNS):
            record["params"]["rows"] = rows_fingerprint(rows)
            record_file.write_text(json.dumps(record, indent=2) + "\n")


def archive_study(out_dir: os.PathLike | str, dest: os.PathLike | str) -> list[Path]:
    """Copy the evaluated runs of study folder ``out_dir`` into ``dest`` without checkpoints, logs or images,
    every place the runs' configs name written as its placeholder.

    Returns the archived run folders (under ``dest``).  Files already in ``dest`` are replaced, so
    archiving again after more runs finished brings the archive up to date.
    """
    out_dir, dest = Path(out_dir), Path(dest)
    if not out_dir.is_dir():
        raise FileNotFoundError(f"{out_dir}: no study folder here; pass the out_dir of a `tdfake run`")
    runs = evaluated_runs(out_dir)
    forms = _place_forms([Config.from_yaml(run_dir / layout.CONFIG_FILE) for run_dir in runs])

    def with_placeholders(text: str, _source: Path) -> str:
        for place, placeholder in forms:
            text = text.replace(place, placeholder)
        return text

    _copy_study_files(out_dir, dest, with_placeholders)
    archived = []
    for run_dir in runs:
        target = dest / run_dir.relative_to(out_dir)
        _copy_run(run_dir, target, with_placeholders, ignore=shutil.ignore_patterns(*LEFT_OUT))
        _rows_without_folder(out_dir, target)
        if not layout.is_archived(run_dir):  # an archived run's own archive.json is already copied
            checkpoint = run_dir / layout.BEST_CHECKPOINT
            record = {
                "left_out": list(LEFT_OUT),
                "best_checkpoint": provenance.file_fingerprint([checkpoint], root=run_dir),
                "best_checkpoint_bytes": checkpoint.stat().st_size,
                "archived_from": str(run_dir.relative_to(out_dir)),
                "archived_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            (target / layout.ARCHIVE_RECORD).write_text(json.dumps(record, indent=2) + "\n")
        archived.append(target)
    logger.info("tdfake archive: %d evaluated runs of %s in %s", len(archived), out_dir, dest)
    return archived


def restore_study(archive: os.PathLike | str, cfg: Config) -> list[Path]:
    """Copy archive ``archive`` into ``cfg.out_dir``, each placeholder filled in with ``cfg``'s place.

    Returns the restored run folders.  A run already trained in ``cfg.out_dir`` (it holds its
    checkpoint) is left as it is.  Raises, naming the setting to pass, when the archive names a
    place ``cfg`` does not set.
    """
    archive, out_dir = Path(archive), Path(cfg.out_dir)
    runs = sorted(record.parent for record in archive.glob(f"**/{layout.ARCHIVE_RECORD}"))
    if not runs:
        raise FileNotFoundError(f"{archive}: no archived runs here (no {layout.ARCHIVE_RECORD}); "
                                "pass the DEST folder of a `tdfake archive`")
    configured = place_settings(cfg)
    resolved = {key: str(Path(value).resolve()) for key, value in configured.items()}

    def with_places(text: str, source: Path) -> str:
        places = configured if source.name in CONFIGURED_FORM else resolved

        def fill(match: re.Match) -> str:
            if match[1] not in places:
                raise ValueError(f"{source}: names {match[0]}, which the config does not set; "
                                 f"pass --set {match[1]}=PATH (where it lies on this machine)")
            return places[match[1]]

        return PLACEHOLDER.sub(fill, text)

    _copy_study_files(archive, out_dir, with_places)
    restored = []
    for run_dir in runs:
        target = out_dir / run_dir.relative_to(archive)
        if layout.is_run(target):
            logger.info("%s: a trained run is here already; kept instead of its archive", target)
            continue
        _copy_run(run_dir, target, with_places)
        restored.append(target)
    logger.info("tdfake restore: %d archived runs of %s in %s", len(restored), archive, out_dir)
    return restored
