"""Reading videos: which files are videos, their length, their sampled frames, decoded ahead of use.

Why: ``tdfake faces`` and ``tdfake predict`` must read a video alike (the same frames, numbered
the same, failing with the same reasons), and neither should pay for pixels it never looks at.
:class:`VideoFrames` walks a video once with OpenCV: every frame is *grabbed* (the codec decodes
what later frames depend on; H.264 cannot skip that), but only the wanted ones are *retrieved*
(converted to RGB and copied out), which saves about a fifth of the reading time at ``--every 10``
on full-HD H.264 (``bench/bench_video.py``).  :func:`prefetched` runs an iterator one step ahead
in a thread, so the next frames decode (OpenCV releases the GIL) while the current ones are
searched for faces (TensorFlow releases it too).

The failure reasons are module constants, so callers and tests name them rather than copy them.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

from tdfake.images import IMAGE_EXTENSIONS, to_rgb_uint8

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
EMPTY = "empty file; delete it or replace it with a video"
UNREADABLE = "unreadable video (OpenCV cannot open it); check the file or re-encode it"
NO_FRAMES = "no frames could be decoded; the video is empty, corrupt or in an unsupported codec"
DEFAULT_FRAMES = 32
"""Frames sampled per video by default: DeepfakeBench's 32, evenly spaced."""

# The first bytes of the containers in VIDEO_EXTENSIONS (offset, bytes), to know a video by its content.
_SIGNATURES = (
    (4, b"ftyp"),  # MP4, MOV, M4V
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska, WebM
    (0, b"RIFF"),  # AVI (RIFF ... "AVI "); checked below
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
    (0, b"\x00\x00\x01\xb3"),  # MPEG video
    (0, b"\x30\x26\xb2\x75"),  # ASF / WMV
)

T = TypeVar("T")


class VideoError(ValueError):
    """A video that cannot be used; the message is one of this module's reasons."""


def is_video(path: os.PathLike | str) -> bool:
    """Whether a file is a video: a video extension (:data:`VIDEO_EXTENSIONS`) or a video container's
    signature in its first bytes (so ``clip.bin`` holding an MP4 counts, an image never does)."""
    path = Path(path)
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        return True
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return False
    for offset, magic in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return magic != b"RIFF" or head[8:12] == b"AVI "
    return False


def list_videos(folder: os.PathLike | str) -> list[Path]:
    """The video files under ``folder`` (any nesting, see :func:`is_video`), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder; pass the folder that holds your videos")
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_video(p))


def sample_indices(n_frames: int, frames: int | None = DEFAULT_FRAMES, every: int | None = None) -> list[int]:
    """The frame indices to sample from a video of ``n_frames``: every ``every``-th (0, N, 2N, ...), else
    ``frames`` evenly spaced from the first to the last (``np.linspace`` floored, as DeepfakeBench)."""
    if n_frames <= 0:
        return []
    if every is not None:
        if every < 1:
            raise ValueError(f"every={every}: must be at least 1")
        return list(range(0, n_frames, every))
    if frames is None or frames < 1:
        raise ValueError(f"frames={frames}: must be at least 1")
    return sorted(set(np.linspace(0, n_frames - 1, min(frames, n_frames), dtype=int).tolist()))


def probe(path: os.PathLike | str) -> tuple[int, float, str]:
    """(frame count, frames per second, error) of a video; the count 0 and a reason when it cannot be used.

    The count is the container's; when it gives none (some WebM/MKV files), frames are counted by grabbing.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        return 0, math.nan, EMPTY
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return 0, math.nan, UNREADABLE
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        if count <= 0:
            count = 0
            while capture.grab():
                count += 1
    finally:
        capture.release()
    if count == 0:
        return 0, math.nan, NO_FRAMES
    return count, fps if fps > 0 else math.nan, ""


class VideoFrames:
    """``(frame number, RGB uint8 frame)`` of the wanted frames of a video, in order, in one pass.

    ``wanted(number)`` says which frames to retrieve; the others are only grabbed.  Reading stops
    after frame ``last`` (default: at the end of the video).  Iterating raises :class:`VideoError`
    when OpenCV cannot open the file or not a single frame can be grabbed; afterwards
    :attr:`grabbed` is the number of frames the video gave (fewer than its container says: truncated).
    """

    def __init__(self, path: os.PathLike | str, wanted: Callable[[int], bool], last: int | None = None):
        self.path, self.wanted, self.last = Path(path), wanted, last
        self.grabbed = 0

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        capture = cv2.VideoCapture(str(self.path))
        try:
            if not capture.isOpened():
                raise VideoError(UNREADABLE)
            number = 0
            while (self.last is None or number <= self.last) and capture.grab():
                self.grabbed = number + 1
                if self.wanted(number):
                    ok, frame = capture.retrieve()
                    if ok:
                        yield number, to_rgb_uint8(frame, self.path)
                number += 1
            if number == 0:
                raise VideoError(NO_FRAMES)
        finally:
            capture.release()


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter); ``itertools.batched`` before Python 3.12."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def prefetched(items: Iterable[T], ahead: int = 1) -> Iterator[T]:
    """The items of ``items``, each produced in a worker thread up to ``ahead`` items before it is needed.

    The iterator runs in one thread, so its steps never overlap each other, only the caller's work;
    its exceptions reach the caller at the item where they happened.
    """
    end: Any = object()
    iterator = iter(items)
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="tdfake-prefetch") as pool:
            pending = deque(pool.submit(next, iterator, end) for _ in range(ahead))
            while (item := pending.popleft().result()) is not end:
                pending.append(pool.submit(next, iterator, end))
                yield item
    finally:  # a caller that stops early: release what the iterator holds (an open video) now, not at collection
        if hasattr(iterator, "close"):
            iterator.close()
