"""``tdfake images`` workers: threads (what ``create_images(workers=N)`` uses) vs processes, same crops, same run.

Writes OR / TK / TK_diff for N crops three ways, each into a fresh folder: one worker; ``workers``
threads (``create_images(..., workers=W)``); and W spawned processes, each running
``create_images`` on one shard with one worker (an array job on one machine; the process pool the
package used before, whose start-up and imports are not timed here).  Alternating rounds, best
of each; prints images/s and last ``ratio: R`` = threads' best / processes' best.

    python bench/bench_workers.py                 # 64 demo crops, 256 px, 2 workers, 2 rounds
    python bench/bench_workers.py --data FOLDER -n 200 --workers 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _common import alternate_rounds, image_folder, pick_evenly, print_banner, print_ratio

from tdfake import images
from tdfake.image_creation import create_images
from tdfake.transforms import spec


def _specs(method: str) -> list:
    """The study's OR, TK and TK_diff images (rank [30, 30, 3]) by ``method``, as `tdfake images` makes them."""
    return [spec(kind, defaults={"tucker_method": method}) for kind in ("OR", "TK", "TK_diff")]


def _shard(src: str, out: str, paths: list[str], index: int, count: int, method: str) -> int:
    return create_images(src, out, _specs(method), paths=paths, shard=(index, count), workers=1,
                         progress=False).written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="folder of face crops (default: demo data in a temporary folder)")
    parser.add_argument("-n", type=int, default=64, help="number of crops (default 64)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--method", default="fast", choices=("fast", "tensorly"))
    args = parser.parse_args()
    with image_folder(args.data, n_per_class=max(2, (args.n + 1) // 2), size=256) as folder, \
            tempfile.TemporaryDirectory(prefix="tdfake-workers-") as tmp:
        paths = [p.relative_to(folder).as_posix() for p in pick_evenly(images.list_images(folder), args.n)]

        def fresh(name: str) -> Path:
            out = Path(tmp) / name
            shutil.rmtree(out, ignore_errors=True)
            return out

        def one() -> float:
            start = time.perf_counter()
            create_images(folder, fresh("one"), _specs(args.method), paths=paths, workers=1, progress=False)
            return len(paths) / (time.perf_counter() - start)

        def threads() -> float:
            start = time.perf_counter()
            create_images(folder, fresh("threads"), _specs(args.method), paths=paths, workers=args.workers,
                          progress=False)
            return len(paths) / (time.perf_counter() - start)

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
            list(pool.map(_shard, [str(folder)] * args.workers, [str(fresh("warm"))] * args.workers,
                          [paths[:args.workers]] * args.workers, range(args.workers), [args.workers] * args.workers,
                          [args.method] * args.workers))

            def processes() -> float:
                out = str(fresh("processes"))
                start = time.perf_counter()
                list(pool.map(_shard, [str(folder)] * args.workers, [out] * args.workers, [paths] * args.workers,
                              range(args.workers), [args.workers] * args.workers, [args.method] * args.workers))
                return len(paths) / (time.perf_counter() - start)

            one()  # warm-up: imports, first BLAS calls
            print_banner(f"{len(paths)} crops from {args.data or 'the demo generator'}, OR/TK/TK_diff, "
                         f"method {args.method}, {args.workers} workers")
            best = alternate_rounds({"1 worker": one, f"{args.workers} threads": threads,
                                     f"{args.workers} processes": processes}, args.rounds)
    print_ratio(best, ours=f"{args.workers} threads", reference=f"{args.workers} processes")


if __name__ == "__main__":
    main()
