"""Fast Tucker path vs the study's tensorly call, side by side on real face crops.

Loads N crops (sorted, so every run uses the same ones), resizes them to SIZE x SIZE, and
reconstructs them at the study's rank [30, 30, 3] with ``method="tensorly"`` (one image at a
time, as the study did) and with ``method="fast"`` (batched).  Prints images/s and mean relative
reconstruction error ``||x - rec|| / ||x||`` of each, then ``ratio: R`` with
R = fast images/s / tensorly images/s.  The requirement: fast error <= 1.01 x tensorly error and
R >= 3 on 2 CPU cores.

    python bench/bench_tucker.py [--data ../shared/data/real_fake_face] [-n 40] [--size 256]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np

from tdfake import images, tucker

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real_fake_face"


def load_crops(data: Path, n: int, size: int) -> np.ndarray:
    paths = images.list_images(data)
    if not paths:
        raise SystemExit(f"{data}: no images; pass --data with a folder of face crops")
    # alternate through the sorted list so both classes of a real/fake folder are present
    chosen = paths[:: max(1, len(paths) // n)][:n]
    return np.stack([cv2.resize(images.read_rgb(p), (size, size), interpolation=cv2.INTER_AREA) for p in chosen])


def timed(batch: np.ndarray, method: str, rank: tuple[int, int, int]) -> tuple[float, float]:
    """Images per second and mean relative error of one method on the whole batch."""
    start = time.perf_counter()
    reconstruction = tucker.tucker_reconstruct(batch, rank, method=method)
    seconds = time.perf_counter() - start
    return len(batch) / seconds, float(np.mean(tucker.relative_error(batch, reconstruction)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of face crops (any nesting)")
    parser.add_argument("-n", type=int, default=40, help="number of crops (default 40)")
    parser.add_argument("--size", type=int, default=256, help="resize to SIZE x SIZE (default 256)")
    parser.add_argument("--rank", type=int, nargs=3, default=list(tucker.TUCKER_RANK))
    args = parser.parse_args()

    batch = load_crops(args.data, args.n, args.size)
    rank = tuple(args.rank)
    tucker.tucker_reconstruct(batch[:2], rank, method="fast")  # warm-up: first BLAS/LAPACK calls, backend choice
    print(f"{len(batch)} crops of {args.size}x{args.size} from {args.data}, rank {list(rank)}")
    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, fast backend: {tucker.fast_backend()}")
    ref_speed, ref_error = timed(batch, "tensorly", rank)
    fast_speed, fast_error = timed(batch, "fast", rank)
    print(f"tensorly: {ref_speed:8.2f} images/s  mean relative error {ref_error:.6f}")
    print(f"fast:     {fast_speed:8.2f} images/s  mean relative error {fast_error:.6f}"
          f"  ({fast_error / ref_error:.4f} x tensorly)")
    print(f"ratio: {fast_speed / ref_speed:.2f}")


if __name__ == "__main__":
    main()
