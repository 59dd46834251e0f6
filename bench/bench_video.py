"""Frames per second of ``tdfake predict`` on a video, stage by stage: decode, face detector, Tucker, network.

Writes a demo-face video (``tdfake.demo``'s astronaut "video" on a blurred background, MJPG,
WIDTH x HEIGHT, FRAMES frames) into a temporary folder and times, each in ``--rounds`` rounds
keeping the best:

* decode: :func:`tdfake.video.read_frames` of every frame;
* detector: MTCNN one frame at a time (:meth:`FaceDetector.best_box`, what ``tdfake faces`` does)
  and in batches (:func:`tdfake.video.detect_faces`, what ``tdfake predict`` does);
* Tucker: the TK image of each 256 px crop (:func:`tdfake.tucker.tucker_reconstruct`, rank
  [30, 30, 3]) with the demo config's ``fast`` path (all crops, one batch) and the study's
  ``tensorly`` call (one crop at a time, on 8 crops);
* network: Xception (random weights; the speed does not depend on them) on the crops at the demo
  config's 80 px and the study's 256 px, ``model.predict`` in batches of 32.

Then the end-to-end rate of the TK arm per config, 1 / (sum of the stages' seconds per frame).
Prints the machine and BLAS banner (threadpoolctl) and TensorFlow's thread settings first.

    python bench/bench_video.py                       # 64 frames of 640x360, 2 rounds
    python bench/bench_video.py --frames 32 --rounds 3 --width 1280 --height 720
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
import tensorflow as tf
from _common import print_banner

from tdfake import demo
from tdfake.config import Config
from tdfake.faces import CROP_MARGIN, CROP_SIZE, FaceDetector, square_crop
from tdfake.model import build_xception
from tdfake.tucker import TUCKER_RANK, tucker_reconstruct
from tdfake.video import detect_faces, read_frames

ROOT = Path(__file__).resolve().parents[1]
TENSORLY_CROPS = 8


def demo_video(path: Path, n_frames: int, width: int, height: int) -> None:
    """The astronaut demo "video" (a face of about a third of the frame height) on a blurred, drifting background."""
    faces = demo.source_faces()[:1]
    video = demo.make_video(0, faces, seed=0)
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (0, 0), 12)
    side = height * 2 // 3
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (width, height))
    for number in range(n_frames):
        frame = np.roll(background, number, axis=1).copy()
        face, _ = demo.real_frame(video, number * demo.FRAME_STEP, side)
        y0, x0 = (height - side) // 2, (width - side) // 2
        frame[y0:y0 + side, x0:x0 + side] = np.clip(face, 0, 255).astype(np.uint8)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def best_rate(run, n: int, rounds: int) -> float:
    """Items per second of ``run()`` (which handles ``n`` items), best of ``rounds``."""
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = max(best, n / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64, help="frames in the video (all are decoded and scored)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    threading = tf.config.threading
    print_banner(f"measured: tdfake predict's stages on a {args.width}x{args.height} MJPG demo-face video, "
                 f"{args.frames} frames, best of {args.rounds} rounds",
                 f"tensorflow {tf.__version__}: intra-op threads {threading.get_intra_op_parallelism_threads()}, "
                 f"inter-op {threading.get_inter_op_parallelism_threads()} (0 = TensorFlow's choice)")
    with tempfile.TemporaryDirectory(prefix="tdfake-bench-video-") as tmp:
        path = Path(tmp) / "demo.avi"
        demo_video(path, args.frames, args.width, args.height)
        indices = list(range(args.frames))
        rates = {"decode": best_rate(lambda: read_frames(path, indices, args.frames), args.frames, args.rounds)}
        frames = [image for _, image in read_frames(path, indices, args.frames)[0]]
        detector = FaceDetector()
        detector.best_box(frames[0])  # builds MTCNN outside the timing
        rates["detector, one frame at a time"] = best_rate(lambda: [detector.best_box(f) for f in frames],
                                                           len(frames), args.rounds)
        rates["detector, batched"] = best_rate(lambda: detect_faces(detector, frames), len(frames), args.rounds)
        boxes = detect_faces(detector, frames)
        found = [(f, b) for f, b in zip(frames, boxes) if b is not None]
        print(f"faces found in {len(found)} of {len(frames)} frames")
        crops = np.stack([square_crop(f, b, CROP_MARGIN, CROP_SIZE) for f, b in found])
        rates["Tucker fast"] = best_rate(lambda: tucker_reconstruct(crops, TUCKER_RANK, "fast"), len(crops),
                                         args.rounds)
        few = crops[:TENSORLY_CROPS]  # the study's call is ~10x slower: a few crops give its rate
        rates["Tucker tensorly"] = best_rate(lambda: [tucker_reconstruct(c, TUCKER_RANK, "tensorly") for c in few],
                                             len(few), args.rounds)
        for name in ("demo", "paper"):
            cfg = Config.from_yaml(ROOT / "configs" / f"{name}.yaml")
            model = build_xception(cfg.image_size, weights=None, head=cfg.head, dense_units=cfg.dense_units)
            batch = tf.image.resize(crops, (cfg.image_size, cfg.image_size), method="nearest").numpy() / 255.0
            model.predict(batch[:2], verbose=0)
            rates[f"network {cfg.image_size} px ({name})"] = best_rate(
                lambda m=model, b=batch: m.predict(b, batch_size=32, verbose=0), len(batch), args.rounds)
    for stage, rate in rates.items():
        print(f"{stage:32s} {rate:8.1f} frames/s")
    for name, tucker, net in (("demo", "Tucker fast", "network 80 px (demo)"),
                              ("paper", "Tucker tensorly", "network 256 px (paper)")):
        seconds = sum(1 / rates[s] for s in ("decode", "detector, batched", tucker, net))
        print(f"end to end, TK arm, {name} config: {1 / seconds:.1f} frames/s "
              f"(decode + batched detector + {tucker} + {net})")


if __name__ == "__main__":
    main()
