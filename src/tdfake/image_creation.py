"""Turn a folder of face crops into the study's ``OR/``, ``TK/``, ``TK_diff/`` (and ``CP/``, ``CP_diff/``) trees.

Every image under ``src`` (any nesting, e.g. ``REAL/`` and ``FAKE/NeuralTextures/``) becomes
``out/<kind>/<same relative path>`` for each requested kind.  The run is built for large sets:

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
  corrupt or non-image files, and images smaller than the Tucker rank (whose "reconstruction"
  would be the image itself), are skipped and listed (path relative to ``src``, reason) in ``out/skipped.csv``
  (``out/skipped-shard-I-of-N.csv`` for a shard, so concurrent shards never overwrite each other),
  rewritten on each run.

**Provenance**: each kind's parameters (source folder, format, size; rank and method for TK /
TK_diff, CP rank and method for CP / CP_diff) and a fingerprint of the source files are recorded
in ``out/<kind>.provenance.json`` (see :mod:`tdfake.provenance`).  A later call whose parameters
differ never keeps the old images: it raises, naming the fields, or with ``replace_changed=True``
clears ``out/<kind>/`` and makes the kind anew.  A kind folder without a record (an older
tdfake) counts as made with unknown parameters.

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
from typing import Any

import cv2
import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from tdfake import images, provenance, tucker

logger = logging.getLogger(__name__)

TUCKER_KINDS = ("TK", "TK_diff")
CP_KINDS = ("CP", "CP_diff")


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
    targets: dict[str, Path]  # kind -> output path, only the missing ones


def create_images(
    src: os.PathLike | str,
    out: os.PathLike | str,
    kinds: Sequence[str] = ("OR", "TK", "TK_diff"),
    rank: Sequence[int] = tucker.TUCKER_RANK,
    method: str = tucker.TUCKER_METHOD,
    workers: int = 1,
    shard: tuple[int, int] = (0, 1),
    image_format: str | None = None,
    size: int | None = None,
    cp_rank: int = tucker.CP_RANK,
    progress: bool = True,
    paths: Sequence[str] | None = None,
    replace_changed: bool = False,
) -> CreationSummary:
    """Write ``out/<kind>/<relpath>`` for every image under ``src`` and each kind; see the module doc.

    ``image_format`` (``"png"``, ``"jpg"``) replaces the output suffix, ``None`` keeps the input's;
    ``size`` resizes each image to ``size`` x ``size`` (OpenCV area interpolation) before the
    transforms.  ``paths``: only these files (POSIX paths relative to ``src``, e.g. a split's
    ``path`` column) instead of every image under ``src``.  Returns the counts; skipped images are
    listed in ``summary.skipped_csv``.  ``replace_changed``: rebuild a kind made with other
    parameters instead of raising :class:`~tdfake.provenance.ProvenanceMismatch` (see the module doc).
    """
    start = time.perf_counter()
    kinds = _check_kinds(kinds)
    rank = tuple(int(r) for r in rank)
    if method not in tucker.METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(tucker.METHODS)}")
    index, count = _check_shard(shard)
    src, out = Path(src), Path(out)
    if paths is None:
        files = images.list_images(src)[index::count]
    else:
        files = [src / relpath for relpath in sorted(set(paths))][index::count]
    wanted = {kind: kind_params(kind, src, rank, method, image_format, size, cp_rank) for kind in kinds}
    _claim_kind_folders(out, wanted, provenance.file_fingerprint(files, root=src), replace_changed)

    jobs: list[_Job] = []
    for path in files:
        relpath = path.relative_to(src).as_posix()
        targets = {kind: images.derived_path(out, kind, relpath, image_format) for kind in kinds}
        missing = {kind: target for kind, target in targets.items() if not target.exists()}
        if missing:
            jobs.append(_Job(path, relpath, missing))

    options = dict(rank=rank, method=method, size=size, cp_rank=cp_rank, keep_format=image_format is None)
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


def kind_params(kind: str, src: Path, rank: tuple[int, ...], method: str, image_format: str | None,
                size: int | None, cp_rank: int) -> dict:
    """The parameters one kind's images depend on (OR: none of the decompositions'; the others also the
    implementation that computed them, :func:`tdfake.tucker.implementation`, so a changed fast path remakes them)."""
    params: dict[str, Any] = {"source": str(Path(src).resolve()), "image_format": image_format, "size": size}
    if kind in TUCKER_KINDS:
        params.update(rank=list(rank), method=method, implementation=tucker.implementation(method))
    elif kind in CP_KINDS:
        params.update(cp_rank=int(cp_rank), method=method, implementation=tucker.implementation(method))
    return params


def _claim_kind_folders(out: Path, params: dict[str, dict], data: dict, replace_changed: bool) -> None:
    """Check each kind's record against ``params``; clear (or refuse) a kind made otherwise; write the records."""
    for kind, wanted in params.items():
        folder, record_file = out / kind, provenance.record_path(out, kind)
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
            provenance.write_record(record_file, kind, wanted, data)


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


def _check_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    unknown = [kind for kind in kinds if kind not in tucker.KINDS]
    if unknown or not kinds:
        raise ValueError(f"unknown image kinds {unknown or list(kinds)}; choose from {', '.join(tucker.KINDS)}")
    return tuple(dict.fromkeys(kinds))


def _collect(results, bar) -> list[tuple[str, str]]:
    skipped = []
    for job, reason in results:
        if reason is not None:
            skipped.append((job.relpath, reason))
        bar.update()
    return sorted(skipped)


def _process(job: _Job, rank, method, size, cp_rank, keep_format) -> str | None:
    """Write the missing outputs of one image; return None, or the reason it was skipped."""
    try:
        stored = images.read_stored(job.source)
        image = images.read_rgb(job.source, stored=stored)
        if size:
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        needs_tucker = any(kind in job.targets for kind in TUCKER_KINDS)
        if needs_tucker and (image.shape[0] < rank[0] or image.shape[1] < rank[1]):
            return (
                f"image is {image.shape[0]}x{image.shape[1]}, smaller than the Tucker rank {rank[0]}x{rank[1]} "
                "(its TK image would be the image itself); use larger crops, --size or a smaller --rank"
            )
        outputs: dict[str, np.ndarray] = {}
        if needs_tucker:
            tk = tucker.tk_image(image, rank, method)
            outputs["TK"], outputs["TK_diff"] = tk, tucker.diff_image(tk, image)
        if any(kind in job.targets for kind in CP_KINDS):
            cp = tucker.cp_image(image, cp_rank, method)
            outputs["CP"], outputs["CP_diff"] = cp, tucker.diff_image(cp, image)
        for kind, target in job.targets.items():
            if kind == "OR":
                unchanged = keep_format and not size and images.is_stored_rgb8(stored)
                _write_original(job.source, image, target, unchanged)
            else:
                images.write_rgb(target, outputs[kind])
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
