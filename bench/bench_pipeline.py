"""Input-pipeline throughput: tdfake's tf.data pipeline vs the legacy ImageDataGenerator, same run.

Both read the same JPEG files from disk, resize them to 256x256 (nearest), apply the study's
augmentation (rotation 20°, shifts 0.1, shear 0.1°, zoom 0.1, horizontal flip, nearest fill,
rescale 1/255) and deliver batches of 32 as float32.  The reference is Keras 3's legacy
``ImageDataGenerator.flow_from_dataframe`` (the study's class; ``tf_keras``'s copy is the same
code).  Each side gets one warm-up pass, then the best of ``--repeats`` timed passes, taken
alternately so that both see the same machine load.

    python bench/bench_pipeline.py                  # 256 generated images, 3 timed passes each
    python bench/bench_pipeline.py --images 512

The last line is ``ratio: R`` (tf.data images/s ÷ ImageDataGenerator images/s).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tdfake.config import Config  # noqa: E402
from tdfake.images import write_rgb  # noqa: E402
from tdfake.pipeline import paths_dataset  # noqa: E402


def make_images(folder: Path, count: int, size: int) -> list[str]:
    """Smooth random colour images (JPEG), a stand-in for face crops of the study's size."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        small = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
        image = np.kron(small, np.ones((16, 16, 1), np.uint8))
        path = folder / f"{i:05d}.jpg"
        write_rgb(path, image)
        paths.append(str(path))
    return paths


def time_pass(make_iterator, count: int) -> float:
    """Images/s of one full pass."""
    start = time.perf_counter()
    seen = sum(int(batch.shape[0]) for batch in make_iterator())
    seconds = time.perf_counter() - start
    assert seen == count, (seen, count)
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cfg = Config().override(image_size=args.size, batch_size=32)

    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), args.images, args.size)
        frame = pd.DataFrame({"filename": paths, "class": ["real", "fake"] * (len(paths) // 2) + ["real"] * (len(paths) % 2)})

        dataset = paths_dataset(paths, cfg, training=True)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from keras.src.legacy.preprocessing.image import ImageDataGenerator

            generator = ImageDataGenerator(
                rescale=cfg.rescale, rotation_range=cfg.rotation_range, width_shift_range=cfg.width_shift_range,
                height_shift_range=cfg.height_shift_range, shear_range=cfg.shear_range, zoom_range=cfg.zoom_range,
                horizontal_flip=cfg.horizontal_flip, fill_mode=cfg.fill_mode,
            )

            def idg_batches():
                flow = generator.flow_from_dataframe(
                    frame, x_col="filename", y_col="class", target_size=(args.size, args.size),
                    batch_size=cfg.batch_size, class_mode=None, shuffle=True, seed=0, interpolation="nearest",
                )
                return (flow[i] for i in range(len(flow)))

            # warm-up, then alternate the two so both see the same machine load
            time_pass(lambda: iter(dataset), len(paths))
            time_pass(idg_batches, len(paths))
            tf_rate = idg_rate = 0.0
            for _ in range(args.repeats):
                tf_rate = max(tf_rate, time_pass(lambda: iter(dataset), len(paths)))
                idg_rate = max(idg_rate, time_pass(idg_batches, len(paths)))

    print(f"machine: {os.cpu_count()} CPU cores; {args.images} JPEGs, {args.size}x{args.size}, batch {cfg.batch_size}")
    print(f"tf.data (tdfake.pipeline):      {tf_rate:8.1f} images/s")
    print(f"ImageDataGenerator (legacy):    {idg_rate:8.1f} images/s")
    print(f"ratio: {tf_rate / idg_rate:.2f}")


if __name__ == "__main__":
    main()
