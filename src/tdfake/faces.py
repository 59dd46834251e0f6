"""Face extraction: square face crops from videos and images, named so manifests group by video.

Why: the study trained on face crops of FaceForensics++ videos; users with raw videos (or DFDC
clips, or photos) need the same kind of crops.  Faces are found with MTCNN (the ``mtcnn``
package ships its weights and runs on TensorFlow, imported only when extraction starts), on a
copy of each frame scaled so its longer side is ``detect_size`` (320 px by default; the box is
scaled back and the crop cut from the full-resolution frame, see :class:`FaceDetector`).  Per
frame the most confident face is kept (the largest one among equally confident faces), its box
is made square around its centre with side ``margin`` x the box's longer side (padding with
black beyond the frame edge), and resized to ``size`` x ``size``.  Videos are read with
:mod:`tdfake.video_io`, the reader ``tdfake predict`` uses.

Output: ``OUT/<relative folder>/{video}_frame{N}.jpg`` for frame N of a video (every
``every``-th frame), ``OUT/<relative folder>/{stem}.jpg`` for an image.  Frames without a face,
unreadable videos and corrupt images are listed in ``OUT/skipped.csv`` (source, frame, reason)
and never stop the run.  ``OUT/faces.json`` records the parameters and the finished sources, so
an interrupted run resumes where it stopped (crops already on disk are not redone).
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tdfake.images import IMAGE_EXTENSIONS, ImageReadError, read_rgb, write_atomic, write_rgb
from tdfake.video_io import VIDEO_EXTENSIONS, VideoFrames, batched, prefetched

LEDGER = "faces.json"
SKIPPED = "skipped.csv"
CROP_MARGIN = 1.3
CROP_SIZE = 256
MIN_CONFIDENCE = 0.9
"""The crop rule of ``tdfake faces`` (and of ``tdfake predict`` on videos, so both crop alike)."""
DETECT_SIZE = 320
"""Longer side (px) of the copy of a frame that MTCNN searches: the size that meets the speed target (25 full-HD
frames/s on 2 cores) and, on real full-HD videos, keeps every face that full resolution finds (docs/benchmarks.md)."""
MIN_DETECT_SIZE = 48
"""Below this MTCNN's image pyramid (20 px faces upwards) has hardly a level to search."""
DETECT_BATCH = 16
"""Frames per MTCNN call: on 2 CPU cores the rate grows up to about 16 frames and then levels off."""
DETECT_PIXELS = 8_000_000
"""Working-copy pixels per MTCNN call at most (3 full-HD frames searched at full resolution): bounds its memory."""


@dataclass
class FaceSummary:
    """What one run did: crops written, crops already on disk, frames/files skipped, sources finished earlier."""

    written: int = 0
    existing: int = 0
    skipped: int = 0
    resumed: int = 0
    seconds: float = 0.0


class FaceDetector:
    """MTCNN, loaded on first use; ``best_box(image)`` gives the kept face's (x, y, w, h) or None.

    MTCNN searches a copy of the image scaled down so that its longer side is ``detect_size``
    pixels (never scaled up; ``None``: the image as it is), and the box is scaled back to the
    image, so the crop is cut from the full-resolution frame.  Faces in these datasets are large
    and MTCNN's cost grows with the pixels: at :data:`DETECT_SIZE` a full-HD frame costs about a
    thirtieth of its full-resolution search, and on real full-HD videos the box it finds overlaps
    the full-resolution one at a median IoU of 0.91 (the agreement figures in
    ``docs/benchmarks.md``).  MTCNN's smallest face is 20 px at the working size, so at 320 px a
    face must span at least 1/16 of the frame's longer side (120 px in full HD, 80 px at 720p);
    for smaller faces search a larger copy (``detect_size`` 640, or ``None``).

    ``best_boxes(images)`` does the same for a list of same-sized images (a video's frames), in
    batches of :data:`DETECT_BATCH` through each MTCNN stage, with the same boxes.
    """

    def __init__(self, min_confidence: float = MIN_CONFIDENCE, detect_size: int | None = DETECT_SIZE):
        if detect_size is not None and detect_size < MIN_DETECT_SIZE:
            raise ValueError(f"detect_size={detect_size}: use at least {MIN_DETECT_SIZE} px, or None for full "
                             f"resolution")
        self.min_confidence = min_confidence
        self.detect_size = detect_size
        self._mtcnn: Any = None  # mtcnn.MTCNN (untyped), built on first use

    def faces(self, image: np.ndarray | list[np.ndarray]) -> list:
        """MTCNN's detections of an image as given (a list of dicts), or of each image of a list (a list of lists)."""
        if self._mtcnn is None:
            # late on purpose: MTCNN builds TensorFlow models, needed only once a face is actually sought
            import tensorflow as tf
            from mtcnn import MTCNN

            device = "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"
            self._mtcnn = MTCNN(device=device)
        return self._mtcnn.detect_faces(image)

    def best_box(self, image: np.ndarray) -> tuple[int, int, int, int] | None:
        return self.best_boxes([image])[0]

    def best_boxes(self, images: list[np.ndarray]) -> list[tuple[int, int, int, int] | None]:
        """:meth:`best_box` of each image, detected in batches (the images must share one shape)."""
        if not images:
            return []
        height, width = images[0].shape[:2]
        scale = self.scale(height, width)
        if scale < 1:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            images = [cv2.resize(image, size, interpolation=cv2.INTER_AREA) for image in images]
            back = (width / size[0], height / size[1])
        else:
            back = (1.0, 1.0)
        step = self.batch_size(height, width)
        boxes = []
        for start in range(0, len(images), step):
            batch = list(images[start:start + step])
            boxes += [self._kept(found, back) for found in self.faces(batch)]
        return boxes

    def scale(self, height: int, width: int) -> float:
        """The factor from an image of this shape to the copy MTCNN searches (1: the image itself)."""
        if self.detect_size is None:
            return 1.0
        return min(1.0, self.detect_size / max(height, width))

    def batch_size(self, height: int, width: int) -> int:
        """Images of this shape per MTCNN call: :data:`DETECT_BATCH`, fewer when the working copies would exceed
        :data:`DETECT_PIXELS` (the detector's memory)."""
        pixels = height * width * self.scale(height, width) ** 2
        return int(max(1, min(DETECT_BATCH, DETECT_PIXELS // max(pixels, 1))))

    def _kept(self, detections: list[dict], back: tuple[float, float]) -> tuple[int, int, int, int] | None:
        """The most confident face above ``min_confidence`` (the largest among equally confident ones), its box
        scaled by ``back`` (x, y factors) to the full-size image."""
        found = [f for f in detections if f["confidence"] >= self.min_confidence]
        if not found:
            return None
        best = max(found, key=lambda f: (round(f["confidence"], 3), f["box"][2] * f["box"][3]))
        x, y, w, h = best["box"]
        fx, fy = back
        return round(x * fx), round(y * fy), round(w * fx), round(h * fy)


def square_crop(image: np.ndarray, box, margin: float = CROP_MARGIN, size: int = CROP_SIZE) -> np.ndarray:
    """The square of side ``margin`` x max(w, h) centred on ``box`` (x, y, w, h), resized to ``size``."""
    x, y, w, h = box
    side = max(int(round(margin * max(w, h))), 1)
    x0 = int(round(x + w / 2 - side / 2))
    y0 = int(round(y + h / 2 - side / 2))
    height, width = image.shape[:2]
    pad = max(0, -x0, -y0, x0 + side - width, y0 + side - height)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    crop = image[y0 + pad:y0 + pad + side, x0 + pad:x0 + pad + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interp)


def _sources(src: Path) -> tuple[Path, list[Path]]:
    """(base folder, sorted video and image files) for a file or a folder."""
    kinds = VIDEO_EXTENSIONS + IMAGE_EXTENSIONS
    if src.is_file():
        return src.parent, [src]
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: no such file or folder; pass a video, an image or a folder of them")
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in kinds)
    if not files:
        raise ValueError(f"{src}: no videos ({', '.join(VIDEO_EXTENSIONS)}) or images found")
    return src, files


class _Ledger:
    """``faces.json`` (parameters + finished sources) and ``skipped.csv``, rewritten atomically."""

    def __init__(self, out: Path, params: dict):
        self.out, self.params = out, params
        self.done: set[str] = set()
        self.skipped: list[tuple[str, str, str]] = []
        ledger = out / LEDGER
        if ledger.is_file():
            state = json.loads(ledger.read_text())
            if state.get("params") is not None:  # ledgers from before detect_size searched at full resolution
                state["params"] = {"detect_size": None, **state["params"]}
            if state.get("params") != params:
                raise ValueError(f"{out} holds crops made with {state.get('params')}; use another output "
                                 f"folder for {params}")
            self.done = set(state.get("done", []))
        if (out / SKIPPED).is_file():
            with open(out / SKIPPED, newline="") as handle:
                self.skipped = [(source, frame, reason) for source, frame, reason in csv.reader(handle)][1:]

    def start(self, source: str) -> None:
        """Forget earlier skips of a source that is being (re)done."""
        self.skipped = [r for r in self.skipped if r[0] != source]

    def skip(self, source: str, frame: str, reason: str) -> None:
        self.skipped.append((source, frame, reason))

    def finish(self, source: str) -> None:
        self.done.add(source)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["source", "frame", "reason"])
        writer.writerows(sorted(self.skipped))
        write_atomic(self.out / SKIPPED, buffer.getvalue().encode())
        state = {"params": self.params, "done": sorted(self.done)}
        write_atomic(self.out / LEDGER, (json.dumps(state, indent=1) + "\n").encode())


def extract_faces(src, out, every: int = 10, margin: float = CROP_MARGIN, size: int = CROP_SIZE,
                  min_confidence: float = MIN_CONFIDENCE, detect_size: int | None = DETECT_SIZE,
                  detector: FaceDetector | None = None, progress: bool = True) -> FaceSummary:
    """Crop faces from the videos and images under ``src`` into ``out`` (see the module docstring).

    ``detect_size``: the longer side MTCNN searches (see :class:`FaceDetector`); a ``detector``
    passed in brings its own.  A video's frames are read a batch ahead of the detector, only the
    sampled frames whose crops are not on disk yet are decoded to pixels, and each batch of
    :data:`DETECT_BATCH` frames goes through MTCNN in one call.
    """
    if every < 1 or size < 1 or margin <= 0:
        raise ValueError("every and size must be >= 1 and margin > 0")
    start = time.perf_counter()
    src, out = Path(src), Path(out)
    base, files = _sources(src)
    out.mkdir(parents=True, exist_ok=True)
    detector = detector or FaceDetector(min_confidence, detect_size)
    params = {"every": every, "margin": margin, "size": size, "min_confidence": min_confidence,
              "detect_size": detector.detect_size}
    ledger = _Ledger(out, params)
    summary = FaceSummary()
    todo = [f for f in files if f.relative_to(base).as_posix() not in ledger.done]
    summary.resumed = len(files) - len(todo)
    if progress:
        from tqdm.auto import tqdm

        todo = tqdm(todo, desc="faces", unit="file", disable=None)  # a bar on a terminal, none in a file
    for path in todo:
        rel = path.relative_to(base)
        source = rel.as_posix()
        ledger.start(source)
        is_video = path.suffix.lower() in VIDEO_EXTENSIONS

        def target(number: int | None, rel=rel, stem=path.stem, is_video=is_video) -> Path:
            return out / rel.parent / (f"{stem}_frame{number}.jpg" if is_video else f"{stem}.jpg")

        def wanted(number: int | None, every=every, target=target) -> bool:
            """A sampled frame (or the image) whose crop is not on disk yet; one that is counts as existing."""
            if number is not None and number % every:
                return False
            if target(number).is_file():
                summary.existing += 1
                return False
            return True

        try:
            frames = VideoFrames(path, wanted) if is_video else [(None, read_rgb(path))] if wanted(None) else []
            for batch in prefetched(batched(frames, DETECT_BATCH)):
                boxes = detector.best_boxes([frame for _, frame in batch])
                for (number, frame), box in zip(batch, boxes):
                    if box is None:
                        ledger.skip(source, "" if number is None else str(number), "no face found")
                        summary.skipped += 1
                    else:
                        write_rgb(target(number), square_crop(frame, box, margin, size))
                        summary.written += 1
        except (ValueError, ImageReadError) as err:
            reason = err.reason if isinstance(err, ImageReadError) else str(err)
            ledger.skip(source, "", reason)
            summary.skipped += 1
        ledger.finish(source)
    summary.seconds = time.perf_counter() - start
    return summary
