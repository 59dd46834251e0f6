"""What every bench prints and does: the machine/BLAS banner, alternating timed rounds, the data.

A speed ratio means little without the machine it came from: the BLAS library, its thread
count and the core type it picked (OpenBLAS chooses kernels per CPU, and ``OPENBLAS_CORETYPE``
/ ``OPENBLAS_L2_SIZE`` override that choice) can change a NumPy-heavy result several-fold.
On a shared machine a single timing swings by more than the effect being measured, so the
two sides run in alternating rounds (reference, ours, reference, ours, ...) and each keeps
its best round: both see the same load, and the best round is the one least disturbed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from tdfake.machine import cpu_model, cpuinfo_field, instruction_set

BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS")


def cpu_peak_gflops() -> tuple[float, str]:
    """The CPU's float32 peak (GFLOP/s) over its usable cores, and how it was reckoned.

    FLOPs per cycle per core from /proc/cpuinfo's flags: 64 with AVX-512 (two 512-bit FMA pipes), 32
    with AVX2 + FMA (two 256-bit FMA pipes), else 8; the clock is the first core's current MHz.
    """
    flags = set((cpuinfo_field("flags") or "").split())
    mhz = float(cpuinfo_field("cpu MHz") or 0.0)
    per_cycle = 64 if "avx512f" in flags else 32 if {"avx2", "fma"} <= flags else 8
    cores = len(os.sched_getaffinity(0))
    return cores * mhz * per_cycle / 1e3, f"{cores} cores x {mhz:.0f} MHz x {per_cycle} float32 FLOPs per cycle"


def machine_banner() -> list[str]:
    """Lines describing the CPU, the BLAS/OpenMP pools NumPy loaded (threadpoolctl) and the env that steers them."""
    import numpy  # noqa: F401  (loads NumPy's BLAS so that threadpoolctl can see it)
    from threadpoolctl import threadpool_info

    lines = [f"cpu: {cpu_model()} ({instruction_set()}), "
             f"{len(os.sched_getaffinity(0))} usable of {os.cpu_count()} cores"]
    for pool in threadpool_info():
        lines.append(f"{pool['user_api']}: {pool['internal_api']} {pool.get('version') or ''} "
                     f"({Path(pool['filepath']).name}), {pool['num_threads']} threads, "
                     f"core type {pool.get('architecture') or 'n/a'}")
    lines.append("env: " + ", ".join(f"{name}={os.environ.get(name, '(unset)')}" for name in BLAS_ENV))
    return lines


def print_banner(*extra: str) -> None:
    """Print :func:`machine_banner` and any extra lines (what is measured, on what data)."""
    for line in (*extra, *machine_banner()):
        print(line)


def alternate_rounds(sides: dict[str, Callable[[], float]], rounds: int, unit: str = "images/s") -> dict[str, float]:
    """Run each side once per round, in order, for ``rounds`` rounds; print every result; return each side's best.

    Each callable returns a rate (higher is better).  The dict's order is the order within a round.
    """
    if rounds < 1:
        raise SystemExit(f"--rounds must be at least 1, got {rounds}")
    best = dict.fromkeys(sides, 0.0)
    for round_number in range(1, rounds + 1):
        results = []
        for name, measure in sides.items():
            rate = measure()
            best[name] = max(best[name], rate)
            results.append(f"{name} {rate:9.2f}")
        print(f"round {round_number}: " + "   ".join(results) + f"   ({unit})")
    return best


def print_ratio(best: dict[str, float], ours: str, reference: str, unit: str = "images/s") -> None:
    """Print both sides' best and end with the line ``ratio: R`` (ours' best / reference's best)."""
    for name in (reference, ours):
        print(f"best {name}: {best[name]:.2f} {unit}")
    print(f"ratio: {best[ours] / best[reference]:.2f}")


@contextmanager
def image_folder(data: Path | None, n_per_class: int, size: int):
    """Yield ``data`` when given, else a temporary folder of built-in demo data (``tdfake.demo``), removed after."""
    if data is not None:
        if not Path(data).is_dir():
            raise SystemExit(f"--data {data}: not a folder; pass a folder of face crops, or omit --data for demo data")
        yield Path(data)
        return
    from tdfake.demo import make_demo_data

    with tempfile.TemporaryDirectory(prefix="tdfake-bench-") as tmp:
        yield make_demo_data(Path(tmp) / "demo", n_per_class=n_per_class, size=max(size, 128))


def pick_evenly(paths: list, n: int) -> list:
    """``n`` items spread over the sorted list (both classes of a real/fake folder), the same on every run."""
    if not paths:
        raise SystemExit("no images found; pass --data with a folder of face crops")
    return paths[:: max(1, len(paths) // n)][:n]
