"""Turn a folder of face crops into the study's ``OR/``, ``TK/``, ``TK_diff/`` (or any image kind's) trees.

Every image under ``src`` (any nesting, e.g. ``REAL/`` and ``FAKE/NeuralTextures/``) becomes
``out/<folder>/<same relative path>`` for each requested :class:`~tdfake.transforms.ImageSpec` (an
image kind with its parameters, made by :mod:`tdfake.transforms`; the folder is the kind's name,
or the kind and its parameters when an arm gives its own, e.g. ``TK_rank-5-5-3``).  The run is
built for large sets:

* **resumable** — an image whose outputs all exist is not even decoded, so a rerun finishes fast;
  a kind added later (``CP``) is computed only where it is missing;
* **safe to interrupt** — every file is written atomically (:func:`tdfake.images.write_rgb`);
* **reproducible** — the transforms are seeded and the encoders fixed, so the same input gives
  byte-identical files; BLAS runs single-threaded during the run so results never depend on how
  many workers were used;
* **parallel** — ``workers`` threads share the images.  Threads, not processes: decoding and
  encoding (OpenCV), the products and factorisations (NumPy's BLAS/LAPACK) release the GIL, so
  threads use the cores as well as processes do (``bench/bench_workers.py`` measures both), and
  they need nothing from the caller, whereas a spawned process pool re-imports the caller's main
  module and dies in a script without an ``if __name__ == "__main__":`` guard or in ``python -``.
  ``shard=(i, n)`` keeps the images whose index in the sorted listing is ``i`` modulo ``n``, so
  an array job of ``n`` tasks covers the set exactly once;
* **forgiving** — grayscale, RGBA and 16-bit inputs are converted by :func:`tdfake.images.read_rgb`;
  corrupt or non-image files, and images a kind cannot use (smaller than the Tucker rank, whose
  "reconstruction" would be the image itself), are skipped for every kind and listed (path relative to
  ``src``, reason) in ``out/skipped.csv``
  (``out/skipped-shard-I-of-N.csv`` for a shard, so concurrent shards never overwrite each other),
  rewritten on each run.

**Provenance**: each folder's parameters (source folder, format, size; the kind's parameters and
implementation, :meth:`~tdfake.transforms.ImageSpec.record`) and a fingerprint of the source files
are recorded in ``out/<folder>.provenance.json`` (see :mod:`tdfake.provenance`).  A later call whose
parameters differ never keeps the old images: it raises, naming the fields, or with
``replace_changed=True`` clears ``out/<folder>/`` and makes it anew.  A folder without a record (an
older tdfake) counts as made with unknown parameters.

``OR`` is the original as RGB: the file's bytes are copied when it is stored as 8-bit 3-channel
and neither ``size`` nor ``image_format`` asks for a change (so no JPEG is re-compressed);
otherwise the converted image is encoded anew.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from tdfake import images, provenance
from tdfake.transforms import ORIGINAL, ImageSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreationSummary:
    """What one run did, counted in source images."""

    written: int  # images with at least one output written by this run
    existing: int  # images whose outputs were all there already
    skipped: int  # bad images, listed in the skipped CSV
    seconds: float
    skipped_csv: Path

    def line(self) -> str:
        return (
            f"{self.written} written, {self.existing} existing, {self.skipped} skipped"
            f"{f' (see {self.skipped_csv})' if self.skipped else ''}, {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class _Job:
    source: Path
    relpath: str
    targets: dict[ImageSpec, Path]  # spec -> output path, only the missing ones


def create_images(
    src: os.PathLike | str,
    out: os.PathLike | str,
    specs: Sequence[ImageSpec],
    workers: int = 1,
    shard: tuple[int, int] = (0, 1),
    image_format: str | None = None,
    size: int | None = None,
    progress: bool = True,
    paths: Sequence[str] | None = None,
    replace_changed: bool = False,
) -> CreationSummary:
    """Write ``out/<spec.folder>/<relpath>`` for every image under ``src`` and each spec; see the module doc.

    ``specs``: the kinds with their parameters (:func:`tdfake.transforms.spec`, or a config's
    :meth:`~tdfake.config.Config.image_specs`).
    ``image_format`` (``"png"``, ``"jpg"``) replaces the output suffix, ``None`` keeps the input's;
    ``size`` resizes each image to ``size`` x ``size`` (OpenCV area interpolation) before the
    transforms.  ``paths``: only these files (POSIX paths relative to ``src``, e.g. a split's
    ``path`` column) instead of every image under ``src``.  Returns the counts; skipped images are
    listed in ``summary.skipped_csv``.  ``replace_changed``: rebuild a kind made with other
    parameters instead of raising :class:`~tdfake.provenance.ProvenanceMismatch` (see the module doc).
    """
    start = time.perf_counter()
    specs = _check_specs(specs)
    index, count = _check_shard(shard)
    src, out = Path(src), Path(out)
    if paths is None:
        files = images.list_images(src)[index::count]
    else:
        files = [src / relpath for relpath in sorted(set(paths))][index::count]
    wanted = {spec: folder_params(spec, src, image_format, size) for spec in specs}
    _claim_kind_folders(out, wanted, provenance.file_fingerprint(files, root=src), replace_changed)

    jobs: list[_Job] = []
    for path in files:
        relpath = path.relative_to(src).as_posix()
        targets = {spec: images.derived_path(out, spec.folder, relpath, image_format) for spec in specs}
        missing = {spec: target for spec, target in targets.items() if not target.exists()}
        if missing:
            jobs.append(_Job(path, relpath, missing))

    options = dict(size=size, keep_format=image_format is None)
    skipped: list[tuple[str, str]] = []
    # disable=None: a bar on a terminal (or a notebook widget), none in a file, where its frames would pile up
    bar = tqdm(total=len(jobs), unit="img", desc="tdfake images", disable=None if progress and jobs else True)
    with bar, threadpool_limits(1):
        if workers <= 1 or len(jobs) <= 1:
            skipped = _collect(((job, _process(job, **options)) for job in jobs), bar)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tdfake-images") as pool:
                futures = {pool.submit(_process, job, **options): job for job in jobs}
                skipped = _collect(((futures[f], f.result()) for f in as_completed(futures)), bar)

    name = "skipped.csv" if count == 1 else f"skipped-shard-{index}-of-{count}.csv"
    skipped_csv = out / name
    _write_skipped(skipped_csv, skipped)
    return CreationSummary(
        written=len(jobs) - len(skipped),
        existing=len(files) - len(jobs),
        skipped=len(skipped),
        seconds=time.perf_counter() - start,
        skipped_csv=skipped_csv,
    )


def folder_params(spec: ImageSpec, src: Path, image_format: str | None, size: int | None) -> dict:
    """The parameters one folder's images depend on: source, format, size and the kind's parameters and
    implementation (:meth:`~tdfake.transforms.ImageSpec.record`; so a changed fast path remakes them)."""
    return {"source": str(Path(src).resolve()), "image_format": image_format, "size": size, **spec.record()}


def _claim_kind_folders(out: Path, params: dict[ImageSpec, dict], data: dict, replace_changed: bool) -> None:
    """Check each folder's record against ``params``; clear (or refuse) a folder made otherwise; write the records."""
    for spec, wanted in params.items():
        folder, record_file = out / spec.folder, provenance.record_path(out, spec.folder)
        record = provenance.read_record(record_file)
        has_images = folder.is_dir() and any(folder.iterdir())
        if record is not None:
            changed = provenance.describe(provenance.differences(record["params"], wanted))
        else:
            changed = f"no {record_file.name} (made by an older tdfake)" if has_images else ""
        if changed and has_images:
            if not replace_changed:
                raise provenance.ProvenanceMismatch(
                    f"{folder} was made with other parameters ({changed}); write to a new OUT folder, "
                    f"or pass --force to delete {folder} and make it anew")
            logger.info("tdfake: %s was made with other parameters (%s); making it anew", folder, changed)
            shutil.rmtree(folder)
        if changed or record is None:
            provenance.write_record(record_file, spec.kind, wanted, data)


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with 0 <= I < N (the shard syntax of the CLI)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"shard {text!r} is not I/N (e.g. 0/4 for the first of four shards)") from None
    return _check_shard((index, count))


def _check_shard(shard: tuple[int, int]) -> tuple[int, int]:
    index, count = (int(s) for s in shard)
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count} is out of range; use I/N with 0 <= I < N")
    return index, count


def _check_specs(specs: Sequence[ImageSpec]) -> tuple[ImageSpec, ...]:
    """The specs without repeats; an error for none, or for two that would share a folder."""
    specs = tuple(dict.fromkeys(specs))
    if not specs or not all(isinstance(spec, ImageSpec) for spec in specs):
        raise ValueError(f"give the image kinds to make as ImageSpecs (tdfake.transforms.spec), got {specs!r}")
    folders = [spec.folder for spec in specs]
    if len(set(folders)) < len(folders):
        raise ValueError(f"two image specs share a folder ({folders}); give other parameters their own folder")
    return specs


def _collect(results, bar) -> list[tuple[str, str]]:
    skipped = []
    for job, reason in results:
        if reason is not None:
            skipped.append((job.relpath, reason))
        bar.update()
    return sorted(skipped)


def _process(job: _Job, size, keep_format) -> str | None:
    """Write the missing outputs of one image; return None, or the reason it was skipped."""
    try:
        stored = images.read_stored(job.source)
        image = images.read_rgb(job.source, stored=stored)
        if size:
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        reason = next((why for why in (spec.unusable(image) for spec in job.targets) if why), None)
        if reason is not None:
            return reason
        made: dict = {}  # a residual kind reuses its base kind's image of this crop
        for spec, target in job.targets.items():
            if spec.kind == ORIGINAL:
                unchanged = keep_format and not size and images.is_stored_rgb8(stored)
                _write_original(job.source, image, target, unchanged)
            else:
                images.write_rgb(target, spec.apply(image, made))
    except images.ImageReadError as err:
        return err.reason
    except Exception as err:  # one bad file must not cost the rest of the run; the reason is recorded
        return f"{type(err).__name__}: {err}"
    return None


def _write_original(source: Path, image: np.ndarray, target: Path, unchanged: bool) -> None:
    """Copy the source bytes when the file is already 8-bit RGB in the target's format, else re-encode."""
    if unchanged and source.suffix.lower() == target.suffix.lower():
        images.write_atomic(target, source.read_bytes())
    else:
        images.write_rgb(target, image)


def _write_skipped(path: Path, rows: list[tuple[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "reason"])
    writer.writerows(rows)
    images.write_atomic(path, buffer.getvalue().encode())
