"""Fast Tucker path vs the study's tensorly call, side by side on the same crops, and where the time goes.

Reconstructs N crops (SIZE x SIZE) at the study's rank [30, 30, 3] with ``method="tensorly"``
(the study's call, one image at a time) and with ``method="fast"`` (batched, chunks shared over
threads), in alternating rounds (tensorly, fast, tensorly, fast, ...), and keeps each side's
best round.  Prints the machine and BLAS banner, every round's images/s, the relative
reconstruction error ``||x - rec|| / ||x||`` of both (mean over the crops and the worst crop's
ratio to tensorly's), then:

* tensorly in as many worker processes as there are cores (one BLAS thread each), as
  ``tdfake images --method tensorly`` with several workers spreads it: a second reference,
  ``ratio vs tensorly x P processes``;
* ``--profile``: the fast path's time per step on one thread next to the step's FLOP count and
  the GFLOP/s it reaches, so the distance to the floor is on the page;

and last ``ratio: R`` = fast's best images/s / tensorly's best (one image at a time).
The requirements: fast mean error <= 1.01 x tensorly's, worst crop <= 1.03 x.

Data: the built-in demo crops (``tdfake.demo``, made in a temporary folder in about a second)
unless ``--data`` names a folder of face crops (any nesting; resized to SIZE x SIZE).

    python bench/bench_tucker.py                     # 32 demo crops, 256 px, 3 rounds
    python bench/bench_tucker.py --data FOLDER -n 48 --rounds 5 --profile
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_tucker.py   # BLAS picks its own kernels
    python bench/bench_tucker.py --threads 1 --clock cpu    # a busy, shared machine: CPU seconds, one thread
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
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


def timed_side(batch: np.ndarray, method: str, rank: tuple[int, int, int], errors: dict, clock):
    """A round of ``method``: returns images/s by ``clock``; records per-crop relative errors in ``errors[method]``."""

    def measure() -> float:
        start = clock()
        reconstruction = tucker.tucker_reconstruct(batch, rank, method=method)
        seconds = clock() - start
        errors[method] = tucker.relative_error(batch, reconstruction)
        return len(batch) / seconds

    return measure


def _tensorly_share(batch: np.ndarray, rank: tuple[int, int, int]) -> int:
    """A worker process's share of the tensorly side, on one BLAS thread (as each ``tdfake images`` worker was)."""
    with threadpool_limits(1):
        tucker.tucker_reconstruct(batch, rank, method="tensorly")
    return len(batch)


def tensorly_in_processes(batch: np.ndarray, rank: tuple[int, int, int], processes: int, rounds: int) -> float:
    """Best images/s of tensorly spread over ``processes`` spawned workers (start-up and imports not timed)."""
    best = 0.0
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_tensorly_share, [batch[:1]] * processes, [rank] * processes))  # imports, warm-up
        for _ in range(rounds):
            start = time.perf_counter()
            done = sum(pool.map(_tensorly_share, [batch[i::processes] for i in range(processes)], [rank] * processes))
            best = max(best, done / (time.perf_counter() - start))
    return best


def step_flops(h: int, w: int, c: int, rank: tuple[int, int, int]) -> dict[str, float]:
    """FLOPs per image of each step of the fast path (products and Grams; factorisations of k x k matrices omitted).

    A product of an m x k by a k x n matrix counts 2mkn; a CholeskyQR pass of an m x k matrix
    4mk² (its Gram and the product with the inverse factor).  At rank [30, 30, 3] with c = 3
    there is no channel factor.
    """
    r1, r2, r3 = tucker._clip(rank, (h, w, c))
    ku, kv = tucker._sketch_size(r1, h), tucker._sketch_size(r2, w)
    p = tucker.POWER_ITERATIONS
    pixels = h * w * c

    def qr(m, k, passes=2):
        return passes * 4 * m * k * k

    return {
        "convert": 0.0,
        "sketch": 2 * pixels * ku + qr(h, ku, 1),
        "power": p * (4 * pixels * ku + qr(h, ku)),
        "width": 2 * pixels * ku + 2 * w * ku * c * kv + qr(w, kv, 1) + p * (4 * w * ku * c * kv + qr(w, kv)),
        "core": 2 * kv * w * ku * c + 2 * ku * ku * kv * c + 2 * kv * c * ku * r1 + 2 * kv * kv * r1 * c
        + 2 * h * ku * r1 + 2 * w * kv * r2,
        "hooi": tucker.HOOI_SWEEPS * (2 * pixels * r1 + 4 * w * r1 * r3 * r2 + qr(w, r2)
                                      + 2 * pixels * r2 + 4 * h * r3 * r2 * r1 + qr(h, r1)),
        "reconstruct": 2 * r1 * h * r3 * r2 + 2 * r1 * r3 * r2 * w + 2 * h * r1 * w * c,
    }


def profile_steps(batch: np.ndarray, rank: tuple[int, int, int], repeats: int = 3) -> None:
    """Print the fast path's best-of-``repeats`` time per step and image on one thread, its FLOPs and GFLOP/s."""
    ops = tucker._ops()
    out = np.empty(batch.shape, dtype=np.float32)
    best: dict[str, float] = {}
    with threadpool_limits(1):
        for _ in range(repeats):
            steps: dict[str, float] = {}
            for start in range(0, len(batch), ops.chunk):
                chunk = slice(start, start + ops.chunk)
                tucker._tucker_chunk(ops, batch[chunk], rank, out[chunk], steps)
            if not best or sum(steps.values()) < sum(best.values()):
                best = steps
    flops = step_flops(*batch.shape[1:], rank)
    print(f"per-step profile ({tucker.fast_backend()}, one thread, chunks of {ops.chunk}, best of {repeats}):")
    print(f"  {'step':<12}{'ms/image':>10}{'MFLOP/image':>13}{'GFLOP/s':>9}")
    for name, seconds in best.items():
        ms = 1e3 * seconds / len(batch)
        rate = f"{flops[name] / (ms * 1e6):9.1f}" if flops[name] else f"{'-':>9}"
        print(f"  {name:<12}{ms:10.3f}{flops[name] / 1e6:13.1f}{rate}")
    total_ms = 1e3 * sum(best.values()) / len(batch)
    total_flops = sum(flops.values())
    print(f"  {'total':<12}{total_ms:10.3f}{total_flops / 1e6:13.1f}{total_flops / (total_ms * 1e6):9.1f}")


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
    parser.add_argument("--processes", type=int, default=len(os.sched_getaffinity(0)),
                        help="worker processes for the tensorly-in-processes reference (default: the usable cores; "
                             "0 skips it)")
    parser.add_argument("--profile", action="store_true", help="also print the fast path's time per step (one thread)")
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
    errors: dict[str, np.ndarray] = {}
    sides = {method: timed_side(batch, method, rank, errors, CLOCKS[args.clock]) for method in ("tensorly", "fast")}
    best = alternate_rounds(sides, args.rounds)
    ref, fast = errors["tensorly"], errors["fast"]
    worst = int(np.argmax(fast / ref))
    print(f"mean relative error: tensorly {ref.mean():.6f}, fast {fast.mean():.6f} "
          f"({fast.mean() / ref.mean():.4f} x tensorly)")
    print(f"worst crop: fast {fast[worst]:.6f} vs tensorly {ref[worst]:.6f} ({fast[worst] / ref[worst]:.4f} x)")
    if args.processes > 0:
        rate = tensorly_in_processes(batch, rank, args.processes, args.rounds)
        print(f"tensorly x {args.processes} processes: {rate:.2f} images/s; "
              f"ratio vs tensorly x {args.processes} processes: {best['fast'] / rate:.2f}")
    if args.profile:
        profile_steps(batch, rank)
    print_ratio(best, ours="fast", reference="tensorly")


if __name__ == "__main__":
    main()
