"""Frames per second of ``tdfake faces`` and ``tdfake predict`` on a video, against decoding it, stage by stage.

The video is ``--video FILE`` (a real one: the published figures use a full-HD DFDC video), else
a demo-face video written into a temporary folder (``tdfake.demo``'s astronaut "video" on a
blurred, drifting background, MJPG, WIDTH x HEIGHT, FRAMES frames).  ``--every N`` samples every
Nth frame, as ``tdfake faces --every N`` does.  Rates are sampled frames per second.

1. ``tdfake faces VIDEO --every N`` (:func:`tdfake.faces.extract_faces` into a fresh folder, the
   detector built beforehand) against its reference, decoding those frames
   (:class:`tdfake.video_io.VideoFrames`: every frame grabbed, the sampled ones decoded to RGB),
   in alternating rounds; ends with ``ratio: R`` (faces / decode; the target is at least 0.1,
   within 10x of decoding).
2. ``tdfake predict`` of one TK arm at the demo config (80 px, fast Tucker; Xception with random
   weights, whose speed does not depend on them) on the same frames (``--every N``), and at its
   default 32 frames per video; per sampled frame, and per second of video.
3. The stages, each on its own (best of ``--rounds``; after decoding, on the first 64 sampled
   frames): decode (also retrieving every frame, what ``--every N`` saves); MTCNN at the working
   size and at ``--sizes`` (:class:`tdfake.faces.FaceDetector`, batched) and at full resolution one
   frame at a time on 8 frames (what ``tdfake faces`` did before);
   crop (:func:`tdfake.faces.square_crop` and the JPEG write); Tucker (demo ``fast`` path, and the
   study's ``tensorly`` call on 8 crops); network (Xception at the demo's 80 px and the study's
   256 px, ``model.predict`` in batches of 32).

Prints the machine and BLAS banner (threadpoolctl), TensorFlow's and OpenCV's thread settings first.

    python bench/bench_video.py                                   # demo video, 1280x720, 96 frames
    python bench/bench_video.py --video clip.mp4 --every 1 --rounds 2
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
from _common import alternate_rounds, print_banner, print_ratio

from tdfake import demo, layout
from tdfake.config import Config
from tdfake.datasets import COLUMNS
from tdfake.faces import CROP_MARGIN, CROP_SIZE, DETECT_SIZE, FaceDetector, extract_faces, square_crop
from tdfake.images import write_rgb
from tdfake.model import build_xception
from tdfake.tucker import TUCKER_RANK, tucker_reconstruct
from tdfake.video import predict
from tdfake.video_io import DEFAULT_FRAMES, VideoFrames, probe

ROOT = Path(__file__).resolve().parents[1]
STAGE_FRAMES = 64  # the stages after decoding are timed on at most this many frames
TENSORLY_CROPS = 8
FULL_RESOLUTION_FRAMES = 8


def demo_video(path: Path, n_frames: int, width: int, height: int) -> None:
    """The astronaut demo "video" (a face of about a third of the frame height) on a blurred, drifting background."""
    faces = demo.source_faces()[:1]
    video = demo.make_video(0, faces, seed=0)
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (0, 0), 12)
    side = height // 3
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (width, height))
    for number in range(n_frames):
        frame = np.roll(background, number, axis=1).copy()
        face, _ = demo.real_frame(video, number * demo.FRAME_STEP, side)
        y0, x0 = (height - side) // 2, (width - side) // 2
        frame[y0:y0 + side, x0:x0 + side] = np.clip(face, 0, 255).astype(np.uint8)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def demo_run(folder: Path) -> Path:
    """A TK arm folder at the demo config, Xception with random weights, as ``tdfake predict`` loads it."""
    cfg = Config.from_yaml(ROOT / "configs" / "demo.yaml")
    run = folder / "tk"
    run.mkdir(parents=True)
    cfg.to_yaml(run / layout.CONFIG_FILE)
    (run / layout.SPLIT_FILE).write_text(",".join([*COLUMNS, "split"]) + "\n")
    layout.write_run_info(run, "tk", cfg.image_spec("tk").kind, None, cfg.seed)
    model = build_xception(cfg.image_size, weights=None, head=cfg.head, dense_units=cfg.dense_units)
    model.save(run / layout.BEST_CHECKPOINT)
    return run


def timed(run) -> float:
    """Seconds ``run()`` took."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def best_rate(run, n: int, rounds: int) -> float:
    """Items per second of ``run()`` (which handles ``n`` items), best of ``rounds``."""
    return max(n / timed(run) for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, help="a video file (default: a demo-face video made here)")
    parser.add_argument("--frames", type=int, default=96, help="frames of the demo video")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--every", type=int, default=1, help="sample every Nth frame (default 1)")
    parser.add_argument("--detect-size", type=int, default=DETECT_SIZE,
                        help=f"working size of the face detector (default {DETECT_SIZE})")
    parser.add_argument("--sizes", type=int, nargs="*", default=[320, 480, 960],
                        help="other working sizes whose detection rate is shown beside (stage 3)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tdfake-bench-video-") as tmp:
        tmp = Path(tmp)
        video = args.video
        if video is None:
            video = tmp / "demo.avi"
            demo_video(video, args.frames, args.width, args.height)
        count, fps, error = probe(video)
        if error:
            raise SystemExit(f"{video}: {error}")
        capture = cv2.VideoCapture(str(video))
        fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode(errors="replace")
        capture.release()

        def sampled(number: int) -> bool:
            return number % args.every == 0

        frames = [image for _, image in VideoFrames(video, sampled)]
        height, width = frames[0].shape[:2]
        n = len(frames)
        threading = tf.config.threading
        print_banner(f"measured: {video.name}, {width}x{height} {fourcc}, {count} frames at {fps:.2f} fps, every "
                     f"{args.every} -> {n} sampled frames; face detector working size {args.detect_size}; "
                     f"best of {args.rounds} rounds",
                     f"tensorflow {tf.__version__}: intra-op threads {threading.get_intra_op_parallelism_threads()}, "
                     f"inter-op {threading.get_inter_op_parallelism_threads()} (0 = TensorFlow's choice); "
                     f"opencv {cv2.__version__}: {cv2.getNumThreads()} threads")

        def decode() -> None:
            for _ in VideoFrames(video, sampled):
                pass

        detector = FaceDetector(detect_size=args.detect_size)
        detector.best_boxes(frames[:16])  # builds MTCNN and traces its shapes outside the timing
        runs = iter(range(10 ** 6))

        def faces() -> None:
            extract_faces(video, tmp / f"faces{next(runs)}", every=args.every, detector=detector, progress=False)

        print(f"\n1. tdfake faces --every {args.every} against decoding the same frames (sampled frames/s)")
        best = alternate_rounds({"decode": lambda: n / timed(decode), "tdfake faces": lambda: n / timed(faces)},
                                args.rounds, unit="frames/s")
        print_ratio(best, ours="tdfake faces", reference="decode", unit="frames/s")

        print("\n2. tdfake predict, one TK arm at the demo config (Xception 80 px, fast Tucker)")
        run = demo_run(tmp / "study")
        predict([run], [], [video], tmp / "warm", frames=2, detector=detector, progress=False)  # loads TF's paths
        for label, kwargs, sampled_n in ((f"--every {args.every}", {"every": args.every}, n),
                                         (f"--frames {DEFAULT_FRAMES}", {"frames": DEFAULT_FRAMES},
                                          min(DEFAULT_FRAMES, count))):
            seconds = min(timed(lambda k=kwargs: predict([run], [], [video], tmp / "predict", detector=detector,
                                                         progress=False, **k)) for _ in range(args.rounds))
            print(f"predict {label:12s} {sampled_n / seconds:8.1f} sampled frames/s, "
                  f"{count / fps / seconds:6.2f} s of video per second")

        print("\n3. stages, each alone (best of rounds)")
        rates = {"decode (sampled frames to RGB)": best_rate(decode, n, args.rounds)}
        if args.every > 1:
            def read_all() -> None:
                for _ in VideoFrames(video, lambda number: True):
                    pass

            rates["decode, every frame to RGB"] = best_rate(read_all, n, args.rounds)
        part = frames[:STAGE_FRAMES]
        for size in sorted({args.detect_size, *args.sizes}):
            other = detector if size == args.detect_size else FaceDetector(detect_size=size)
            other.best_boxes(part[:16])
            rates[f"detect, MTCNN at {size} px, batched"] = best_rate(lambda d=other: d.best_boxes(part), len(part),
                                                                      args.rounds)
        full = FaceDetector(detect_size=None)
        few = frames[:FULL_RESOLUTION_FRAMES]
        full.best_box(few[0])
        rates["detect, MTCNN at full resolution"] = best_rate(lambda: [full.best_box(f) for f in few], len(few), 1)
        boxes = detector.best_boxes(part)
        found = [(f, b) for f, b in zip(part, boxes) if b is not None]
        print(f"faces found in {len(found)} of {len(part)} frames")

        def crop() -> None:
            for k, (image, box) in enumerate(found):
                write_rgb(tmp / "crops" / f"{k}.jpg", square_crop(image, box, CROP_MARGIN, CROP_SIZE))

        rates["crop (cut, resize, JPEG write)"] = best_rate(crop, len(found), args.rounds)
        crops = np.stack([square_crop(f, b, CROP_MARGIN, CROP_SIZE) for f, b in found])
        rates["Tucker fast (demo)"] = best_rate(lambda: tucker_reconstruct(crops, TUCKER_RANK, "fast"), len(crops),
                                                args.rounds)
        some = crops[:TENSORLY_CROPS]  # the study's call is ~10x slower: a few crops give its rate
        rates["Tucker tensorly (paper)"] = best_rate(
            lambda: [tucker_reconstruct(c, TUCKER_RANK, "tensorly") for c in some], len(some), args.rounds)
        for name in ("demo", "paper"):
            cfg = Config.from_yaml(ROOT / "configs" / f"{name}.yaml")
            model = build_xception(cfg.image_size, weights=None, head=cfg.head, dense_units=cfg.dense_units)
            batch = tf.image.resize(crops, (cfg.image_size, cfg.image_size), method="nearest").numpy() / 255.0
            model.predict(batch[:2], verbose=0)
            rates[f"network {cfg.image_size} px ({name})"] = best_rate(
                lambda m=model, b=batch: m.predict(b, batch_size=32, verbose=0), len(batch), args.rounds)
    for stage, rate in rates.items():
        print(f"{stage:40s} {rate:8.1f} frames/s  {1000 / rate:8.1f} ms/frame")


if __name__ == "__main__":
    main()
