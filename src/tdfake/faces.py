"""Face extraction: square face crops from videos and images, named so manifests group by video.

Why: the study trained on face crops of FaceForensics++ videos; users with raw videos (or DFDC
clips, or photos) need the same kind of crops.  Faces are found with MTCNN (the ``mtcnn``
package ships its weights and runs on TensorFlow, imported only when extraction starts).  Per
frame the most confident face is kept (the largest one among equally confident faces), its box
is made square around its centre with side ``margin`` x the box's longer side (padding with
black beyond the frame edge), and resized to ``size`` x ``size``.

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

from tdfake.images import IMAGE_EXTENSIONS, ImageReadError, read_rgb, to_rgb_uint8, write_atomic, write_rgb

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
LEDGER = "faces.json"
SKIPPED = "skipped.csv"
CROP_MARGIN = 1.3
CROP_SIZE = 256
MIN_CONFIDENCE = 0.9
"""The crop rule of ``tdfake faces`` (and of ``tdfake predict`` on videos, so both crop alike)."""


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

    ``best_boxes(images)`` does the same for a batch of same-sized images (a video's frames) in
    one pass of each MTCNN stage, with the same boxes: on 2 CPU cores about 5x faster than one
    call per frame for 160 px frames, where per-call overhead dominates, and about the same at
    640x360, where the image pyramid's compute does (``bench/bench_video.py``).
    """

    def __init__(self, min_confidence: float = MIN_CONFIDENCE):
        self.min_confidence = min_confidence
        self._mtcnn: Any = None  # mtcnn.MTCNN (untyped), built on first use

    def faces(self, image: np.ndarray | list[np.ndarray]) -> list:
        """MTCNN's detections of an image (a list of dicts), or of each image of a list (a list of lists)."""
        if self._mtcnn is None:
            # late on purpose: MTCNN builds TensorFlow models, needed only once a face is actually sought
            import tensorflow as tf
            from mtcnn import MTCNN

            device = "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"
            self._mtcnn = MTCNN(device=device)
        return self._mtcnn.detect_faces(image)

    def best_box(self, image: np.ndarray) -> tuple[int, int, int, int] | None:
        return self._kept(self.faces(image))

    def best_boxes(self, images: list[np.ndarray]) -> list[tuple[int, int, int, int] | None]:
        """:meth:`best_box` of each image, detected as one batch (the images must share one shape)."""
        if not images:
            return []
        return [self._kept(found) for found in self.faces(list(images))]

    def _kept(self, detections: list[dict]) -> tuple[int, int, int, int] | None:
        """The most confident face above ``min_confidence`` (the largest among equally confident ones)."""
        found = [f for f in detections if f["confidence"] >= self.min_confidence]
        if not found:
            return None
        best = max(found, key=lambda f: (round(f["confidence"], 3), f["box"][2] * f["box"][3]))
        x, y, w, h = (int(v) for v in best["box"])
        return x, y, w, h


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


def _video_frames(path: Path, every: int):
    """(frame number, RGB frame) for every ``every``-th frame; raises ValueError when unreadable."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ValueError("unreadable video (OpenCV cannot open it); check the file or re-encode it")
        number = 0
        while capture.grab():
            if number % every == 0:
                ok, frame = capture.retrieve()
                if ok:
                    yield number, to_rgb_uint8(frame, path)
            number += 1
        if number == 0:
            raise ValueError("no frames could be decoded; the video is empty, corrupt or in an unsupported codec")
    finally:
        capture.release()


class _Ledger:
    """``faces.json`` (parameters + finished sources) and ``skipped.csv``, rewritten atomically."""

    def __init__(self, out: Path, params: dict):
        self.out, self.params = out, params
        self.done: set[str] = set()
        self.skipped: list[tuple[str, str, str]] = []
        ledger = out / LEDGER
        if ledger.is_file():
            state = json.loads(ledger.read_text())
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
                  min_confidence: float = MIN_CONFIDENCE,
                  detector: FaceDetector | None = None, progress: bool = True) -> FaceSummary:
    """Crop faces from the videos and images under ``src`` into ``out`` (see the module docstring)."""
    if every < 1 or size < 1 or margin <= 0:
        raise ValueError("every and size must be >= 1 and margin > 0")
    start = time.perf_counter()
    src, out = Path(src), Path(out)
    base, files = _sources(src)
    out.mkdir(parents=True, exist_ok=True)
    params = {"every": every, "margin": margin, "size": size, "min_confidence": min_confidence}
    ledger = _Ledger(out, params)
    detector = detector or FaceDetector(min_confidence)
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
        try:
            frames = _video_frames(path, every) if is_video else [(None, read_rgb(path))]
            for number, frame in frames:
                name = f"{path.stem}_frame{number}.jpg" if is_video else f"{path.stem}.jpg"
                target = out / rel.parent / name
                if target.is_file():
                    summary.existing += 1
                    continue
                box = detector.best_box(frame)
                if box is None:
                    ledger.skip(source, "" if number is None else str(number), "no face found")
                    summary.skipped += 1
                    continue
                write_rgb(target, square_crop(frame, box, margin, size))
                summary.written += 1
        except (ValueError, ImageReadError) as err:
            reason = err.reason if isinstance(err, ImageReadError) else str(err)
            ledger.skip(source, "", reason)
            summary.skipped += 1
        ledger.finish(source)
    summary.seconds = time.perf_counter() - start
    return summary
