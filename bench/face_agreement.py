"""Agreement of the faces MTCNN keeps on a scaled-down copy of each frame with those it keeps at full resolution.

Why: ``tdfake faces`` and ``tdfake predict`` search a copy of each frame whose longer side is
``tdfake.faces.DETECT_SIZE`` pixels and cut the crop from the full frame; this script measures
what that costs in boxes on real videos, to choose the working size.  For every sampled frame of
every video under VIDEOS it finds the kept face (:class:`tdfake.faces.FaceDetector`) at full
resolution and at each ``--sizes`` working size, then prints per size: the frames where both
found a face, their median and 5th-percentile IoU, the frames with IoU below 0.5 (another face
kept, or a different box), the frames that gain a face (none at full resolution) or lose one, and
the seconds MTCNN took per frame (on a shared machine a rough figure: ``bench_video.py`` times).
As a yardstick it also prints how much the full-resolution box itself moves from one sampled
frame to the next (median IoU of consecutive frames' boxes): a working size whose IoU is near
that changes the crop by about as much as a frame's step does.

    python bench/face_agreement.py VIDEOS [--sizes 320 480 640] [--every 1]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from _common import print_banner

from tdfake.faces import FaceDetector
from tdfake.video_io import VideoFrames, list_videos


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    return inter / (aw * ah + bw * bh - inter)


def agreement(full: list, scaled: list) -> dict:
    """The counts and IoU quantiles of one working size's boxes against the full-resolution ones, frame by frame."""
    both = [iou(f, s) for f, s in zip(full, scaled) if f is not None and s is not None]
    return {"frames": len(full), "both": len(both),
            "median IoU": float(np.median(both)) if both else float("nan"),
            "p5 IoU": float(np.percentile(both, 5)) if both else float("nan"),
            "IoU < 0.5": sum(v < 0.5 for v in both),
            "gained": sum(f is None and s is not None for f, s in zip(full, scaled)),
            "lost": sum(f is not None and s is None for f, s in zip(full, scaled))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", type=Path, help="a folder of videos (searched recursively)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[320, 480, 640],
                        help="working sizes (longer side, px) to compare with full resolution")
    parser.add_argument("--every", type=int, default=1, help="every Nth frame of each video (default every frame)")
    args = parser.parse_args()
    videos = list_videos(args.videos)
    if not videos:
        raise SystemExit(f"{args.videos}: no videos found")
    print_banner(f"measured: the kept face at full resolution vs working sizes {args.sizes}, every "
                 f"{args.every} frame(s) of {len(videos)} videos")
    detectors = {size: FaceDetector(detect_size=size) for size in [None, *args.sizes]}
    boxes = {size: [] for size in detectors}
    steps = []  # IoU of the full-resolution boxes of consecutive sampled frames
    seconds = dict.fromkeys(detectors, 0.0)
    for path in videos:
        frames = [image for _, image in VideoFrames(path, lambda n: n % args.every == 0)]
        print(f"{path.name}: {len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]}", flush=True)
        for size, detector in detectors.items():
            detector.best_box(frames[0])  # builds MTCNN (and traces this shape) outside the timing
            start = time.perf_counter()
            found = [detector.best_box(f) for f in frames] if size is None else detector.best_boxes(frames)
            seconds[size] += time.perf_counter() - start
            boxes[size] += found
            if size is None:
                steps += [iou(a, b) for a, b in zip(found, found[1:]) if a is not None and b is not None]
            print(f"  {'full' if size is None else size}: face in {sum(b is not None for b in found)}, "
                  f"{time.perf_counter() - start:.1f} s", flush=True)
    total = len(boxes[None])
    print(f"\nfull resolution: a face in {sum(b is not None for b in boxes[None])} of {total} frames, "
          f"{seconds[None] / total:.3f} s per frame; from one sampled frame to the next its box moves by a median "
          f"IoU of {np.median(steps):.3f} (5th percentile {np.percentile(steps, 5):.3f})")
    print("| working size | frames with a face in both | median IoU | 5th-percentile IoU | IoU < 0.5 | gained | lost "
          "| s per frame |")
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        row = agreement(boxes[None], boxes[size])
        print(f"| {size} | {row['both']} | {row['median IoU']:.3f} | {row['p5 IoU']:.3f} | {row['IoU < 0.5']} "
              f"| {row['gained']} | {row['lost']} | {seconds[size] / total:.3f} |")


if __name__ == "__main__":
    main()
