"""Face extraction with MTCNN on videos the test writes itself: a face video, a no-face video, bad files."""

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from conftest import data_folder_from_env

from tdfake.cli import main
from tdfake.datasets import build_manifest
from tdfake.faces import DETECT_BATCH, FaceDetector, extract_faces, square_crop
from tdfake.images import read_rgb, write_rgb
from tdfake.video_io import VideoFrames, list_videos

FACE_BOX = (174, 66, 96, 96)  # the astronaut's face in skimage.data.astronaut() (x, y, w, h)


def write_video(path, frames):
    """Write RGB frames as an MJPG .avi with OpenCV."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("src")
    astronaut = cv2.resize(skimage.data.astronaut(), (160, 160), interpolation=cv2.INTER_AREA)
    frames = [np.roll(astronaut, (2 * i, -2 * i), axis=(0, 1)) for i in range(5)]
    (root / "REAL").mkdir()
    write_video(root / "REAL" / "000.avi", frames)
    rng = np.random.default_rng(0)
    write_video(root / "REAL" / "noise.avi", [rng.integers(0, 256, (96, 96, 3), dtype=np.uint8) for _ in range(3)])
    (root / "REAL" / "broken.mp4").write_bytes(b"not a video at all")
    (root / "REAL" / "corrupt.jpg").write_bytes(b"\xff\xd8 truncated")
    write_rgb(root / "REAL" / "portrait.png", astronaut)
    return root


@pytest.fixture(scope="module")
def extracted(videos, tmp_path_factory):
    out = tmp_path_factory.mktemp("faces")
    summary = extract_faces(videos, out, every=2, margin=1.3, size=64, progress=False)
    return out, summary


def test_face_video_gives_named_crops_of_the_face(videos, extracted):
    out, summary = extracted
    crops = sorted(p.name for p in (out / "REAL").glob("000_frame*.jpg"))
    assert crops == ["000_frame0.jpg", "000_frame2.jpg", "000_frame4.jpg"]
    assert summary.written == 4  # three video frames and the portrait
    crop = read_rgb(out / "REAL" / "000_frame0.jpg")
    assert crop.shape == (64, 64, 3)
    # the crop shows the astronaut's face: compare with a crop of the known face box
    astronaut = cv2.resize(skimage.data.astronaut(), (160, 160), interpolation=cv2.INTER_AREA)
    expected = square_crop(astronaut, [v * 160 / 512 for v in FACE_BOX], 1.3, 64)
    corr = np.corrcoef(crop.astype(float).ravel(), expected.astype(float).ravel())[0, 1]
    assert corr > 0.8


def test_no_face_unreadable_and_corrupt_are_recorded(extracted):
    out, summary = extracted
    with open(out / "skipped.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_source = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    assert [r["frame"] for r in by_source["REAL/noise.avi"]] == ["0", "2"]
    assert all(r["reason"] == "no face found" for r in by_source["REAL/noise.avi"])
    assert "unreadable video" in by_source["REAL/broken.mp4"][0]["reason"]
    assert "not a decodable image" in by_source["REAL/corrupt.jpg"][0]["reason"]
    assert summary.skipped == 4
    assert not list((out / "REAL").glob("noise_*"))


def test_resume_skips_finished_sources_and_crops_parse_as_ffpp(videos, extracted, tmp_path):
    out, _ = extracted
    again = extract_faces(videos, out, every=2, margin=1.3, size=64, progress=False)
    assert (again.written, again.skipped, again.resumed) == (0, 0, 5)
    state = json.loads((out / "faces.json").read_text())
    assert len(state["done"]) == 5
    # an interrupted source: its crops on disk are kept, the rest redone
    state["done"].remove("REAL/000.avi")
    (out / "faces.json").write_text(json.dumps(state))
    (out / "REAL" / "000_frame4.jpg").unlink()
    resumed = extract_faces(videos, out, every=2, margin=1.3, size=64, progress=False)
    assert (resumed.written, resumed.existing, resumed.resumed) == (1, 2, 4)
    with pytest.raises(ValueError, match="another output folder"):
        extract_faces(videos, out, every=3, size=64, progress=False)


def test_cli_faces_on_one_video(videos, tmp_path, capsys):
    out = tmp_path / "crops"
    assert main(["faces", str(videos / "REAL" / "000.avi"), str(out / "REAL"), "--every", "4", "--size", "48",
                 "--detect-size", "0"]) == 0
    assert "2 crops written" in capsys.readouterr().out
    assert json.loads((out / "REAL" / "faces.json").read_text())["params"]["detect_size"] is None  # 0: full frame
    write_rgb(out / "FAKE" / "x" / "000_001_frame0.jpg", np.zeros((48, 48, 3), np.uint8))
    m = build_manifest(out)
    assert m.loc[m["label"] == 0, "video"].unique().tolist() == ["000"]


def test_square_crop_pads_beyond_the_edge():
    image = np.full((20, 20, 3), 200, np.uint8)
    crop = square_crop(image, (0, 0, 10, 10), margin=2.0, size=20)
    assert crop.shape == (20, 20, 3) and crop[0, 0].tolist() == [0, 0, 0] and crop[-1, -1].tolist() == [200] * 3


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


def test_detection_on_a_scaled_copy_gives_boxes_in_the_full_frame():
    """A 1024 px frame searched on a 256 px copy: the box is in the frame's coordinates, where full resolution
    puts it."""
    frame = cv2.resize(skimage.data.astronaut(), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    full = FaceDetector(detect_size=None).best_box(frame)
    scaled = FaceDetector(detect_size=256)
    assert scaled.scale(1024, 1024) == 0.25
    box = scaled.best_box(frame)
    assert iou(box, full) > 0.8
    assert iou(box, [2 * v for v in FACE_BOX]) > 0.6
    assert scaled.best_boxes([frame, frame[:, ::-1].copy()])[0] == box


def test_small_frames_are_never_scaled_up_and_batches_bound_memory():
    detector = FaceDetector()
    assert detector.scale(160, 160) == 1.0
    astronaut = cv2.resize(skimage.data.astronaut(), (160, 160), interpolation=cv2.INTER_AREA)
    assert detector.best_box(astronaut) == FaceDetector(detect_size=None).best_box(astronaut)
    assert detector.batch_size(1080, 1920) == DETECT_BATCH
    assert FaceDetector(detect_size=None).batch_size(1080, 1920) == 3  # 8 M pixels: three full-HD frames
    with pytest.raises(ValueError, match="detect_size=16"):
        FaceDetector(detect_size=16)


def test_ledger_records_the_detect_size_and_reads_older_ones_as_full_resolution(videos, tmp_path):
    out = tmp_path / "faces"
    extract_faces(videos / "REAL" / "portrait.png", out, size=64, detect_size=None, progress=False)
    state = json.loads((out / "faces.json").read_text())
    assert state["params"]["detect_size"] is None
    del state["params"]["detect_size"]  # as written before the working size existed
    (out / "faces.json").write_text(json.dumps(state))
    assert extract_faces(videos / "REAL" / "portrait.png", out, size=64, detect_size=None,
                         progress=False).resumed == 1
    with pytest.raises(ValueError, match="'detect_size': None"):
        extract_faces(videos / "REAL" / "portrait.png", out, size=64, progress=False)


@pytest.mark.slow
def test_real_full_hd_videos_keep_their_faces_at_the_working_size():
    """DFDC videos ($TDFAKE_DFDC_VIDEOS): at the default working size every frame keeps the face that full
    resolution finds, in the same place (the full measurement: bench/face_agreement.py, docs/benchmarks.md)."""
    folder = data_folder_from_env("TDFAKE_DFDC_VIDEOS", "a folder of full-HD DFDC videos (.mp4)")
    full, scaled = FaceDetector(detect_size=None), FaceDetector()
    overlaps = []
    for path in list_videos(folder)[:3]:
        frames = [image for _, image in VideoFrames(Path(path), lambda number: number % 75 == 0)]
        assert max(frames[0].shape[:2]) >= 1280
        for at_full, at_working in zip([full.best_box(f) for f in frames], scaled.best_boxes(frames)):
            assert (at_full is None) == (at_working is None), path.name
            if at_full is not None:
                overlaps.append(iou(at_full, at_working))
    assert len(overlaps) >= 6 and np.median(overlaps) > 0.85
