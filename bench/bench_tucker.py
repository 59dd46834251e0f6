"""Fast Tucker path vs the study's tensorly call, side by side on the same crops.

Reconstructs N crops (SIZE x SIZE) at the study's rank [30, 30, 3] with ``method="tensorly"``
(the study's call, one image at a time) and with ``method="fast"`` (batched), in alternating
rounds (tensorly, fast, tensorly, fast, ...), and keeps each side's best round.  Prints the
machine and BLAS banner, every round's images/s, each method's mean relative reconstruction
error ``||x - rec|| / ||x||``, and last ``ratio: R`` = fast's best images/s / tensorly's best.
The requirement: fast error <= 1.01 x tensorly error.

Data: the built-in demo crops (``tdfake.demo``, made in a temporary folder in about a second)
unless ``--data`` names a folder of face crops (any nesting; resized to SIZE x SIZE).

    python bench/bench_tucker.py                     # 32 demo crops, 256 px, 3 rounds
    python bench/bench_tucker.py --data FOLDER -n 48 --rounds 5
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_tucker.py   # BLAS picks its own kernels
    python bench/bench_tucker.py --threads 1 --clock cpu    # a busy, shared machine: CPU seconds, one thread
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from _common import (
    alternate_rounds,
    image_folder,
    pick_evenly,
    print_banner,
    print_ratio,
)
from threadpoolctl import threadpool_limits

from tdfake import images, tucker


def load_crops(folder: Path, n: int, size: int) -> np.ndarray:
    """``n`` crops spread over the sorted folder, resized to ``size`` x ``size`` (area interpolation)."""
    chosen = pick_evenly(images.list_images(folder), n)
    return np.stack([cv2.resize(images.read_rgb(p), (size, size), interpolation=cv2.INTER_AREA) for p in chosen])


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def timed_side(batch: np.ndarray, method: str, rank: tuple[int, int, int], errors: dict[str, float], clock):
    """A round of ``method``: returns images/s by ``clock``; records the mean relative error in ``errors[method]``."""

    def measure() -> float:
        start = clock()
        reconstruction = tucker.tucker_reconstruct(batch, rank, method=method)
        seconds = clock() - start
        errors[method] = float(np.mean(tucker.relative_error(batch, reconstruction)))
        return len(batch) / seconds

    return measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="folder of face crops (default: demo data in a temporary folder)")
    parser.add_argument("-n", type=int, default=32, help="number of crops (default 32)")
    parser.add_argument("--size", type=int, default=256, help="resize to SIZE x SIZE (default 256, the study's)")
    parser.add_argument("--rank", type=int, nargs=3, default=list(tucker.TUCKER_RANK))
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed rounds per method (default 3)")
    parser.add_argument("--threads", type=int, help="limit the BLAS threads (threadpoolctl); default: as loaded")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall (default) or cpu: the process's CPU seconds, steadier on a busy machine "
                             "when combined with --threads 1 (no threads waiting on each other)")
    args = parser.parse_args()

    with image_folder(args.data, n_per_class=max(2, (args.n + 1) // 2), size=args.size) as folder:
        batch = load_crops(folder, args.n, args.size)
    rank = tuple(args.rank)
    tucker.tucker_reconstruct(batch[:2], rank, method="fast")  # warm-up: first BLAS/LAPACK calls, backend choice
    tucker.tucker_reconstruct(batch[:1], rank, method="tensorly")  # warm-up: tensorly's imports
    if args.threads is not None:  # after the warm-ups, so that every BLAS library is loaded and limited
        threadpool_limits(args.threads)
    print_banner(f"{len(batch)} crops of {args.size}x{args.size} from {args.data or 'the demo generator'}, "
                 f"rank {list(rank)}, fast backend: {tucker.fast_backend()}, {args.clock} clock")
    errors: dict[str, float] = {}
    sides = {method: timed_side(batch, method, rank, errors, CLOCKS[args.clock]) for method in ("tensorly", "fast")}
    best = alternate_rounds(sides, args.rounds)
    ref_error, fast_error = errors["tensorly"], errors["fast"]
    print(f"mean relative error: tensorly {ref_error:.6f}, fast {fast_error:.6f} "
          f"({fast_error / ref_error:.4f} x tensorly)")
    print_ratio(best, ours="fast", reference="tensorly")


if __name__ == "__main__":
    main()
