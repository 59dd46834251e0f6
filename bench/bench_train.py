"""Training throughput of the study's model: images per second through Xception's train step.

Measures ``train_on_batch`` on one in-memory batch (the model alone, not the input pipeline; see
``bench_pipeline.py`` for that) with the study's settings: 256x256, batch 32, Adam on the cyclical
schedule, binary cross-entropy.  On a GPU it runs float32 and mixed precision (float16) by default,
each model built once, then timed in alternating rounds (float32, mixed, float32, ...) of
``--steps`` steps; each setting keeps its best round.  Prints the machine and BLAS banner and every
round.  The batch is real pixels: crops of the built-in demo data (``tdfake.demo``) unless
``--data`` names a folder of face crops.  The study reported about 300 s per epoch of 16,200
images on one 2020 GPU, i.e. ~54 images/s: the reference this script compares against (its last
line, ``ratio: R``, is the fastest setting's best images/s divided by 54).

The CPU variants: TensorFlow's default kernels (oneDNN, on by default on x86), XLA (``--xla on`` or
``both``, which alternates the two in one run), and TensorFlow's own kernels without oneDNN
(``TF_ENABLE_ONEDNN_OPTS=0``, read when TensorFlow is imported, so a run of its own).  After the
rates it prints the train step's FLOPs per image (3x the forward pass, counted from the layers'
shapes: the backward pass costs about twice the forward) and the share of the CPU's float32 peak
that the best rate reaches (cores x clock x FLOPs per cycle from the CPU's vector flags).

    python bench/bench_train.py                       # 256 px, batch 32, 2 warm-up steps, 3 rounds of 5 steps
    python bench/bench_train.py --image-size 96 --batch-size 16 --steps 10   # the demo's size
    python bench/bench_train.py --image-size 80 --xla both                     # oneDNN vs XLA on a CPU
    TF_ENABLE_ONEDNN_OPTS=0 python bench/bench_train.py --image-size 80        # without oneDNN
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import keras
import numpy as np
import tensorflow as tf
from _common import alternate_rounds, cpu_peak_gflops, image_folder, pick_evenly, print_banner

from tdfake.config import Config
from tdfake.images import list_images, read_rgb
from tdfake.model import build_xception
from tdfake.train import compile_model

STUDY_IMAGES_PER_SECOND = 16200 / 300


def load_batch(data: Path | None, image_size: int, batch_size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """One training batch: ``batch_size`` crops resized to ``image_size``, rescaled to 0..1, fake (1) by path."""
    with image_folder(data, n_per_class=max(2, (batch_size + 1) // 2), size=max(image_size, 128)) as folder:
        paths = pick_evenly(list_images(folder), batch_size)
        size = (image_size, image_size)
        pixels = np.stack([cv2.resize(read_rgb(p), size, interpolation=cv2.INTER_NEAREST) for p in paths])
    if len(paths) < batch_size:
        raise SystemExit(f"{data}: {len(paths)} images, fewer than the batch size {batch_size}")
    labels = np.array([[float("fake" in str(p).lower())] for p in paths], dtype=np.float32)
    return tf.constant(pixels.astype(np.float32) / 255.0), tf.constant(labels)


def build(image_size: int, batch_size: int, mixed: bool, xla: bool, head: str) -> keras.Model:
    """The study's model, compiled, under the float32 or mixed_float16 policy (the global policy is restored after)."""
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    cfg = Config().override(image_size=image_size, batch_size=batch_size, xla=xla, head=head, weights=None)
    model = build_xception(image_size, weights=None, head=head)
    compile_model(model, cfg)
    keras.mixed_precision.set_global_policy("float32")
    return model


def forward_flops(model: keras.Model) -> int:
    """Floating-point operations of one image's forward pass: 2 per multiply-add of every convolution and Dense.

    Counted from the layers' shapes (Xception is its convolutions: batch norm, activations and pooling
    add about 1 %).  At 299 px it gives 16.7 GFLOP, Xception's published 8.4 G multiply-adds; TensorFlow's
    graph profiler did not finish within minutes on this graph here, hence the count by hand.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            total += 2 * int(layer.input.shape[-1]) * layer.units
            continue
        if not isinstance(layer, (keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D, keras.layers.Conv2D)):
            continue
        (_, h, w, c_out), c_in = layer.output.shape, int(layer.input.shape[-1])
        kh, kw = layer.kernel_size
        if isinstance(layer, keras.layers.SeparableConv2D):  # depthwise, then pointwise
            mid = c_in * layer.depth_multiplier
            total += 2 * h * w * (kh * kw * mid + mid * c_out)
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            total += 2 * h * w * kh * kw * c_out
        else:
            total += 2 * h * w * kh * kw * c_in * c_out // layer.groups
    return int(total)


def timed_steps(model: keras.Model, x: tf.Tensor, y: tf.Tensor, steps: int) -> float:
    """Images/s over ``steps`` train steps, waiting for the device at the end."""
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
    float(np.asarray(loss[0] if isinstance(loss, (list, tuple)) else loss))
    return steps * int(x.shape[0]) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", type=Path, help="folder of face crops (default: demo data in a temporary folder)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed rounds per setting (default 3)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--head", default="flatten", choices=("flatten", "avg"))
    parser.add_argument("--xla", choices=("off", "on", "both"), default="off",
                        help="jit_compile the train step: off (default), on, or both (alternating in one run)")
    parser.add_argument("--mixed", choices=("off", "on", "both"), help="default: both on a GPU, off on CPU")
    args = parser.parse_args()
    gpus = tf.config.list_physical_devices("GPU")
    mixed = args.mixed or ("both" if gpus else "off")
    device = f"GPU x{len(gpus)}" if gpus else f"CPU ({os.cpu_count()} cores)"
    x, y = load_batch(args.data, args.image_size, args.batch_size)
    choices = {"off": [False], "on": [True], "both": [False, True]}
    models = {}
    for use_mixed in choices[mixed]:
        for use_xla in choices[args.xla]:
            name = f"mixed_precision={'on' if use_mixed else 'off'} xla={'on' if use_xla else 'off'}"
            models[name] = build(args.image_size, args.batch_size, use_mixed, use_xla, args.head)
            for _ in range(args.warmup):
                models[name].train_on_batch(x, y)
    onednn = "off (TF_ENABLE_ONEDNN_OPTS=0)" if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0" else \
        "on (TensorFlow's default on x86)"
    print_banner(f"device: {device}; {args.image_size}x{args.image_size}, batch {args.batch_size} from "
                 f"{args.data or 'the demo generator'}, {args.warmup} warm-up steps, {args.rounds} rounds of "
                 f"{args.steps} steps, head {args.head}; TensorFlow {tf.__version__}, oneDNN {onednn}")
    sides = {name: (lambda m=model: timed_steps(m, x, y, args.steps)) for name, model in models.items()}
    best = alternate_rounds(sides, args.rounds)
    for name, rate in best.items():
        print(f"best {name}: {rate:8.1f} images/s ({rate / STUDY_IMAGES_PER_SECOND:.2f}x the study's "
              f"{STUDY_IMAGES_PER_SECOND:.0f} images/s; {16200 / rate:.0f} s per study epoch)")
    step_flops = 3 * forward_flops(next(iter(models.values())))
    achieved = max(best.values()) * step_flops / 1e9
    print(f"train step: {step_flops / 1e9:.3f} GFLOP per image (3x the forward pass); best rate {achieved:.1f} GFLOP/s")
    if not gpus:
        peak, how = cpu_peak_gflops()
        print(f"CPU float32 peak {peak:.0f} GFLOP/s ({how}): the step reaches {100 * achieved / peak:.1f} %")
    print(f"ratio: {max(best.values()) / STUDY_IMAGES_PER_SECOND:.3f}")


if __name__ == "__main__":
    main()
