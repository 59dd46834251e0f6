"""Face extraction with MTCNN on videos the test writes itself: a face video, a no-face video, bad files."""

import csv
import json

import cv2
import numpy as np
import pytest
import skimage.data

from tdfake.cli import main
from tdfake.datasets import build_manifest
from tdfake.faces import extract_faces, square_crop
from tdfake.images import read_rgb, write_rgb

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
    assert main(["faces", str(videos / "REAL" / "000.avi"), str(out / "REAL"), "--every", "4", "--size", "48"]) == 0
    assert "2 crops written" in capsys.readouterr().out
    write_rgb(out / "FAKE" / "x" / "000_001_frame0.jpg", np.zeros((48, 48, 3), np.uint8))
    m = build_manifest(out)
    assert m.loc[m["label"] == 0, "video"].unique().tolist() == ["000"]


def test_square_crop_pads_beyond_the_edge():
    image = np.full((20, 20, 3), 200, np.uint8)
    crop = square_crop(image, (0, 0, 10, 10), margin=2.0, size=20)
    assert crop.shape == (20, 20, 3) and crop[0, 0].tolist() == [0, 0, 0] and crop[-1, -1].tolist() == [200] * 3
