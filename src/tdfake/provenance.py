"""Provenance of cached steps: what made a split, an images folder, a trained run or a report.

Every step that is skipped on a re-run (see :mod:`tdfake.study`) writes a small JSON record
next to its output — the parameters that made it, a fingerprint of its input data, the tdfake
version and the git commit (when the package runs from a git checkout) — and a later call
compares its own parameters with the record before reusing the output::

    {"step": "split", "params": {...}, "data": {"files": 20000, "sha256": "..."},
     "tdfake_version": "0.1.0", "git_commit": "49b0557...", "created": "2026-11-28T17:02:11Z"}

What each step does when the parameters differ (decided where the step lives):

* split (``out_dir/split.provenance.json``) and report (``<run>/report.provenance.json``):
  cheap to remake, so they are **rebuilt**, with one line saying why;
* images (``OUT/<kind>.provenance.json``): ``study.prepare`` **rebuilds** the kind (its folder
  is cleared first, so no old image survives); ``tdfake images`` **refuses** unless ``--force``;
* trained run (``<run>/training.provenance.json``): hours of work, so it is **refused**; the
  message offers ``--force`` (retrain from scratch) or a new ``out_dir``.

Only ``params`` are compared; ``data`` is compared where it is part of the parameters (the split
records its manifest's fingerprint there, a run the fingerprint of its split).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from tdfake import __version__
from tdfake.images import write_atomic
from tdfake.jsonable import jsonable

RECORD_SUFFIX = ".provenance.json"


class ProvenanceMismatch(ValueError):
    """A cached output was made with other parameters than the ones asked for now; the message says how to proceed."""


def file_fingerprint(paths: Iterable[os.PathLike | str], root: os.PathLike | str | None = None) -> dict[str, Any]:
    """A cheap fingerprint of a set of files: count and SHA-256 of sorted (relative path, size, mtime_ns).

    Covers which files there are and whether any was rewritten (size or modification time), not
    their bytes, so it costs one ``stat`` per file (20,000 files in well under a second) and
    changes when a file is replaced, added or removed.  Missing files are recorded as such.
    ``root``: paths are recorded relative to it, so a moved data folder keeps its fingerprint
    only when its files keep their times (``cp -p``, ``rsync -a``).
    """
    rows = []
    for path in paths:
        path = Path(path)
        name = path.relative_to(root).as_posix() if root is not None else path.as_posix()
        try:
            stat = path.stat()
            rows.append(f"{name}\t{stat.st_size}\t{stat.st_mtime_ns}")
        except FileNotFoundError:
            rows.append(f"{name}\tmissing")
    rows.sort()
    return {"files": len(rows), "sha256": hashlib.sha256("\n".join(rows).encode()).hexdigest()}


def table_fingerprint(table: pd.DataFrame, columns: Iterable[str]) -> dict[str, Any]:
    """Fingerprint of a table's rows in the given columns (order kept): count and SHA-256 of its CSV text."""
    text = table[list(columns)].astype(str).to_csv(index=False)
    return {"rows": len(table), "sha256": hashlib.sha256(text.encode()).hexdigest()}


@functools.cache
def git_commit() -> str | None:
    """The commit of the git checkout holding this package, or None (an installed wheel, no git).

    Asked once per process: every record of a run carries the same commit.
    """
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                                capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def record_path(output: os.PathLike | str, name: str) -> Path:
    """Where the record of ``name`` (``split``, ``TK``, ``training``, ``report``) lives in folder ``output``."""
    return Path(output) / f"{name}{RECORD_SUFFIX}"


def write_record(path: os.PathLike | str, step: str, params: Mapping[str, Any],
                 data: Mapping[str, Any] | None = None) -> None:
    """Write the record of one step (atomically: a crash never leaves half a record)."""
    record = {"step": step, "params": jsonable(params), "data": jsonable(data) if data is not None else None,
              "tdfake_version": __version__, "git_commit": git_commit(),
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_atomic(Path(path), (json.dumps(record, indent=2) + "\n").encode())


def read_record(path: os.PathLike | str) -> dict[str, Any] | None:
    """The record at ``path``, or None when there is none (or it is unreadable, which counts as none)."""
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def unchanged(path: os.PathLike | str, params: Mapping[str, Any]) -> bool:
    """Whether the record at ``path`` exists and was written with exactly ``params`` (the reuse test)."""
    record = read_record(path)
    return record is not None and not differences(record["params"], params)


def differences(recorded: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Fields whose value differs, as ``{field: (recorded, wanted)}`` (a field missing on one side counts)."""
    recorded, wanted = jsonable(recorded), jsonable(wanted)
    return {key: (recorded.get(key), wanted.get(key)) for key in sorted(set(recorded) | set(wanted))
            if recorded.get(key) != wanted.get(key)}


def describe(changed: Mapping[str, tuple[Any, Any]]) -> str:
    """``rank [30, 30, 3] -> [5, 5, 3], seed 42 -> 7`` (long values, such as fingerprints, shortened)."""
    def short(value):
        text = json.dumps(value) if not isinstance(value, str) else value
        return text if len(text) <= 40 else text[:37] + "..."

    return ", ".join(f"{key} {short(old)} -> {short(new)}" for key, (old, new) in changed.items())
