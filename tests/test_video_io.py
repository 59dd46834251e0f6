"""Reading videos (tdfake.video_io) on videos the tests write: which frames come out, which are decoded, the errors."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from tdfake import video_io
from tdfake.video_io import NO_FRAMES, UNREADABLE, VideoError, VideoFrames, batched, prefetched, probe

N_FRAMES = 7


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """An MJPG .avi of 7 different noise frames, and the RGB frames OpenCV reads back from it."""
    path = tmp_path_factory.mktemp("clip") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    rng = np.random.default_rng(0)
    for _ in range(N_FRAMES):
        writer.write(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    writer.release()
    capture = cv2.VideoCapture(str(path))
    decoded = []
    while (read := capture.read())[0]:
        decoded.append(cv2.cvtColor(read[1], cv2.COLOR_BGR2RGB))
    capture.release()
    assert len(decoded) == N_FRAMES
    return path, decoded


def test_wanted_frames_come_out_numbered_as_opencv_reads_them(clip):
    path, decoded = clip
    reader = VideoFrames(path, lambda number: number % 3 == 0)
    frames = list(reader)
    assert [number for number, _ in frames] == [0, 3, 6]
    for number, image in frames:
        np.testing.assert_array_equal(image, decoded[number])
    assert reader.grabbed == N_FRAMES
    stopped = VideoFrames(path, lambda number: True, last=3)
    assert [number for number, _ in stopped] == [0, 1, 2, 3] and stopped.grabbed == 4


def test_only_wanted_frames_are_retrieved(clip, monkeypatch):
    """Frames nobody asked for are grabbed, never retrieved (no pixel conversion or copy)."""
    path, _ = clip
    retrieved = []
    opencv_capture = cv2.VideoCapture

    class Counting:  # OpenCV's class cannot be subclassed safely: wrap it
        def __init__(self, *args):
            self.capture = opencv_capture(*args)

        def __getattr__(self, name):
            return getattr(self.capture, name)

        def retrieve(self):
            retrieved.append(self.capture.get(cv2.CAP_PROP_POS_FRAMES))
            return self.capture.retrieve()

    monkeypatch.setattr(video_io.cv2, "VideoCapture", Counting)
    assert [n for n, _ in VideoFrames(path, lambda number: number in (1, 5))] == [1, 5]
    assert len(retrieved) == 2


def test_truncated_unreadable_and_empty_videos(clip, tmp_path):
    path, _ = clip
    data = path.read_bytes()
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(data[: len(data) * 55 // 100])
    count, _, error = probe(truncated)
    reader = VideoFrames(truncated, lambda number: True)
    assert error == "" and 0 < len(list(reader)) == reader.grabbed < count
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(VideoError, match="unreadable video"):
        list(VideoFrames(junk, lambda number: True))
    assert probe(junk)[2] == UNREADABLE
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    assert probe(empty)[2].startswith("empty file")
    assert NO_FRAMES.startswith("no frames could be decoded")


def test_batched_keeps_order_and_a_short_last_batch():
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([], 3)) == []


def test_prefetched_runs_one_item_ahead_and_passes_errors_on():
    """The next item is made while the caller still holds the current one; an error arrives where it happened."""
    made_second = threading.Event()

    def items():
        yield 1
        made_second.set()
        yield 2
        raise RuntimeError("broken third item")

    got = []
    with pytest.raises(RuntimeError, match="broken third item"):
        for item in prefetched(items()):
            if item == 1:
                assert made_second.wait(timeout=30), "the second item was not made while the first was in use"
            got.append(item)
    assert got == [1, 2]
    assert list(prefetched(iter(range(5)), ahead=2)) == [0, 1, 2, 3, 4]
