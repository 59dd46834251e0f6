"""Input-pipeline throughput: tdfake's tf.data pipeline vs the legacy ImageDataGenerator, same run.

Both read the same JPEG files from disk, resize them to 256x256 (nearest), apply the study's
augmentation (rotation 20°, shifts 0.1, shear 0.1°, zoom 0.1, horizontal flip, nearest fill,
rescale 1/255) and deliver batches of 32 as float32.  The reference is Keras 3's legacy
``ImageDataGenerator.flow_from_dataframe`` (the study's class; ``tf_keras``'s copy is the same
code).  Each side gets one warm-up pass, then ``--rounds`` timed passes taken alternately
(ImageDataGenerator, tf.data, ImageDataGenerator, ...) so that both see the same machine load;
each keeps its best.  Prints the machine and BLAS banner and every round.

Data: the built-in demo crops (``tdfake.demo``, made in a temporary folder in a few seconds)
unless ``--data`` names a folder of face crops.

    python bench/bench_pipeline.py                  # 256 demo crops, 3 rounds
    python bench/bench_pipeline.py --data FOLDER --images 512 --rounds 5

The last line is ``ratio: R`` (tf.data's best images/s ÷ ImageDataGenerator's best).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd
from _common import (
    alternate_rounds,
    image_folder,
    pick_evenly,
    print_banner,
    print_ratio,
)

from tdfake.config import Config
from tdfake.images import list_images
from tdfake.pipeline import paths_dataset


def time_pass(make_iterator, count: int) -> float:
    """Images/s of one full pass."""
    start = time.perf_counter()
    seen = sum(int(batch.shape[0]) for batch in make_iterator())
    seconds = time.perf_counter() - start
    assert seen == count, (seen, count)
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="folder of face crops (default: demo data in a temporary folder)")
    parser.add_argument("--images", type=int, default=256, help="number of images per pass (default 256)")
    parser.add_argument("--size", type=int, default=256, help="model input size (default 256, the study's)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed passes per side (default 3)")
    args = parser.parse_args()
    cfg = Config().override(image_size=args.size, batch_size=32)

    with image_folder(args.data, n_per_class=max(2, (args.images + 1) // 2), size=args.size) as folder:
        paths = [str(p) for p in pick_evenly(list_images(folder), args.images)]
        labels = ["real", "fake"] * (len(paths) // 2) + ["real"] * (len(paths) % 2)
        frame = pd.DataFrame({"filename": paths, "class": labels})
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

            sides = {
                "ImageDataGenerator": lambda: time_pass(idg_batches, len(paths)),
                "tf.data": lambda: time_pass(lambda: iter(dataset), len(paths)),
            }
            for warm_up in sides.values():
                warm_up()
            print_banner(f"{len(paths)} JPEGs from {args.data or 'the demo generator'}, "
                         f"{args.size}x{args.size}, batch {cfg.batch_size}")
            best = alternate_rounds(sides, args.rounds)
    print_ratio(best, ours="tf.data", reference="ImageDataGenerator")


if __name__ == "__main__":
    main()
