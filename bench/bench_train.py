"""Training throughput of the study's model: images per second through Xception's train step.

Measures ``train_on_batch`` on in-memory batches (the model alone, not the input pipeline; see
``bench_pipeline.py`` for that) with the study's settings: 256x256, batch 32, Adam on the cyclical
schedule, binary cross-entropy.  On a GPU it runs float32 and mixed precision (float16) by default.
The study reported about 300 s per epoch of 16,200 images on one 2020 GPU, i.e. ~54 images/s: the
reference this script compares against (its last line, ``ratio: R``, is the fastest setting's
images/s divided by 54).

    python bench/bench_train.py                       # 256 px, batch 32, 2 warm-up + 5 timed steps
    python bench/bench_train.py --image-size 96 --batch-size 16 --steps 10   # the demo's size
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tdfake.config import Config  # noqa: E402
from tdfake.model import build_xception  # noqa: E402
from tdfake.train import compile_model  # noqa: E402

STUDY_IMAGES_PER_SECOND = 16200 / 300


def measure(image_size: int, batch_size: int, steps: int, warmup: int, mixed: bool, xla: bool, head: str) -> float:
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    cfg = Config().override(image_size=image_size, batch_size=batch_size, xla=xla, head=head, weights=None)
    model = build_xception(image_size, weights=None, head=head)
    compile_model(model, cfg)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(size=(batch_size, image_size, image_size, 3)).astype(np.float32))
    y = tf.constant(rng.integers(0, 2, (batch_size, 1)).astype(np.float32))
    for _ in range(warmup):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
    float(np.asarray(loss[0] if isinstance(loss, (list, tuple)) else loss))  # wait for the device
    seconds = time.perf_counter() - start
    keras.mixed_precision.set_global_policy("float32")
    return steps * batch_size / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--head", default="flatten", choices=("flatten", "avg"))
    parser.add_argument("--xla", action="store_true", help="jit_compile the train step")
    parser.add_argument("--mixed", choices=("off", "on", "both"), help="default: both on a GPU, off on CPU")
    args = parser.parse_args()
    gpus = tf.config.list_physical_devices("GPU")
    mixed = args.mixed or ("both" if gpus else "off")
    device = f"GPU x{len(gpus)}" if gpus else f"CPU ({os.cpu_count()} cores)"
    print(f"device: {device}; {args.image_size}x{args.image_size}, batch {args.batch_size}, "
          f"{args.warmup} warm-up + {args.steps} timed steps, head {args.head}, xla {args.xla}")
    rates = []
    for use_mixed in {"off": [False], "on": [True], "both": [False, True]}[mixed]:
        rate = measure(args.image_size, args.batch_size, args.steps, args.warmup, use_mixed, args.xla, args.head)
        rates.append(rate)
        print(f"mixed_precision={'on ' if use_mixed else 'off'}: {rate:8.1f} images/s "
              f"({rate / STUDY_IMAGES_PER_SECOND:.2f}x the study's {STUDY_IMAGES_PER_SECOND:.0f} images/s; "
              f"{16200 / rate:.0f} s per study epoch)")
    print(f"ratio: {max(rates) / STUDY_IMAGES_PER_SECOND:.3f}")


if __name__ == "__main__":
    main()
