"""The GPU check in one table: Tucker and Xception images/s on this machine's CPU and GPU (see device_check.sh).

Rows:

* Tucker images/s at 256 px, rank [30, 30, 3]: tensorly (CPU, one image at a time, on a
  subsample: it takes ~50 ms a crop), the fast path on the CPU (NumPy), the fast path on the GPU
  (TensorFlow), each on N crops, and the GPU path's mean and worst relative error against
  tensorly's on the subsample;
* Xception training images/s at 256 px, batch 32 (``bench_train``'s step): float32, mixed
  precision and XLA on the GPU, float32 on the CPU, each against the study's ~54 images/s
  (``--train-size`` / ``--train-batch`` shrink it for a CPU-only machine).

Without a GPU it says so in one line and prints the CPU rows only.  The demo generator makes
the crops (``--data`` names a folder of face crops instead).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from _common import image_folder, print_banner
from bench_tucker import load_crops
from threadpoolctl import threadpool_limits

from tdfake import tucker

STUDY_IMAGES_PER_SECOND = 16200 / 300


def rate(run, count: int) -> float:
    """Images/s of one call of ``run`` (after a warm-up call on the same data)."""
    run()
    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


def tucker_rows(batch: np.ndarray, sample: int, gpu: bool) -> list[tuple[str, str, str]]:
    """Rows for the Tucker part: tensorly on ``sample`` crops, the fast CPU path and (with a GPU) the GPU path."""
    import tensorflow as tf

    ref_batch = batch[:sample]
    start = time.perf_counter()
    with threadpool_limits(1):  # its products are tiny: more BLAS threads only wait on each other
        reference = tucker.tucker_reconstruct(ref_batch, method="tensorly")
    rows = [("Tucker tensorly (CPU)", f"{len(ref_batch) / (time.perf_counter() - start):.1f}",
             f"{len(ref_batch)} crops, one at a time")]
    ref_error = tucker.relative_error(ref_batch, reference)
    cpu_rate = _fast_rate(batch, tucker._NumpyOps())
    note = f"{len(batch)} crops, chunks of {tucker.CPU_CHUNK} on up to {tucker._cpu_threads()} threads"
    rows.append(("Tucker fast (CPU, NumPy)", f"{cpu_rate:.1f}", note))
    if gpu:
        gpu_ops = tucker._TensorFlowOps(tf)
        rows.append(("Tucker fast (GPU, TensorFlow)", f"{_fast_rate(batch, gpu_ops):.1f}",
                     f"{len(batch)} crops, chunks of {gpu_ops.chunk}"))
        rec = _with_ops(gpu_ops, lambda: tucker.tucker_reconstruct(ref_batch, method="fast"))
        ratio = tucker.relative_error(ref_batch, rec) / ref_error
        rows.append(("Tucker GPU error / tensorly's", f"{ratio.mean():.4f}", f"worst crop {ratio.max():.4f}"))
    return rows


def _with_ops(ops, run):
    """Run ``run`` with ``tucker``'s backend forced to ``ops``."""
    saved = tucker._ops
    tucker._ops = lambda: ops
    try:
        return run()
    finally:
        tucker._ops = saved


def _fast_rate(batch: np.ndarray, ops) -> float:
    return _with_ops(ops, lambda: rate(lambda: tucker.tucker_reconstruct(batch, method="fast"), len(batch)))


def training_rows(data: Path | None, gpu: bool, steps: int, size: int, batch_size: int) -> list[tuple[str, str, str]]:
    """Rows for Xception's train step (the study's 256 px, batch 32 by default): images/s, ratio to the study's."""
    import tensorflow as tf
    from bench_train import build, load_batch, timed_steps

    x, y = load_batch(data, size, batch_size)
    settings = [("float32", False, False, "/GPU:0"), ("mixed precision", True, False, "/GPU:0"),
                ("XLA (float32)", False, True, "/GPU:0")] if gpu else []
    settings.append(("float32 (CPU)", False, False, "/CPU:0"))
    rows = []
    for name, mixed, xla, device in settings:
        with tf.device(device):
            model = build(size, batch_size, mixed, xla, "flatten")
            model.train_on_batch(x, y)
            measured = timed_steps(model, x, y, steps)
        rows.append((f"Xception train {name}", f"{measured:.1f}", f"{size} px, batch {batch_size}: "
                     f"{measured / STUDY_IMAGES_PER_SECOND:.2f}x the study's {STUDY_IMAGES_PER_SECOND:.0f}/s"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="folder of face crops (default: demo data in a temporary folder)")
    parser.add_argument("-n", type=int, default=2000, help="crops for the fast paths (default 2000)")
    parser.add_argument("--sample", type=int, default=100, help="crops for tensorly and the error (default 100)")
    parser.add_argument("--steps", type=int, default=10, help="timed train steps per setting (default 10)")
    parser.add_argument("--train-size", type=int, default=256, help="training image size (default 256, the study's)")
    parser.add_argument("--train-batch", type=int, default=32, help="training batch (default 32, the study's)")
    args = parser.parse_args()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = f"GPU: {tf.config.experimental.get_device_details(gpus[0]).get('device_name', gpus[0].name)}" \
        if gpus else "no GPU visible: CPU rows only, on a smaller sample"
    print_banner(f"device: {device}")
    with image_folder(args.data, n_per_class=max(2, (args.n + 1) // 2), size=256) as folder:
        batch = load_crops(folder, args.n, 256)
        rows = tucker_rows(batch, min(args.sample, len(batch)), bool(gpus))
        rows += training_rows(args.data, bool(gpus), args.steps, args.train_size, args.train_batch)
    width = max(len(row[0]) for row in rows)
    print(f"{'measure':<{width}}  {'images/s':>9}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>9}  {note}")


if __name__ == "__main__":
    main()
