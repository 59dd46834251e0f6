"""Videos through trained arms: `tdfake predict` on videos and `tdfake evaluate --data VIDEO_FOLDER`.

The tests write their own short MJPG videos with OpenCV: demo faces (tdfake.demo's astronaut and
Grace Hopper "videos", fakes tinted redder), a faceless background, a truncated copy, a corrupt
file and an empty one.  The arms are the hand-weighted red model of tests/tiny_models.py at the
crop size (256 px, so no resize), so every frame's score is checked against the red model's
score of a crop the test cuts itself from the decoded frame at the reported box.  Faces are found
with the real MTCNN detector.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from tiny_models import expected_score, face_split, tiny_config, write_run

from tdfake import demo
from tdfake.cli import main
from tdfake.faces import CROP_SIZE, FaceDetector, square_crop
from tdfake.images import read_rgb, write_rgb
from tdfake.video import NO_FACE
from tdfake.video_io import is_video, sample_indices

FPS = 10
N_FRAMES = 8
SAMPLED = 4  # --frames 4 of 8: frames 0, 2, 4, 7
SIDE = 160
SPLITS = ["train", "val", "test", "train", "val", "test", "train", "val", "test", "train"]


def write_video(path, frames, fps: int = FPS):
    """RGB uint8 frames as an MJPG .avi (OpenCV's VideoWriter)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def face_frames(index: int, red_gain: float) -> tuple[list[np.ndarray], list[tuple[float, float, float]]]:
    """Frames of demo video ``index`` (astronaut for even, Grace Hopper for odd indices), red scaled by ``red_gain``,
    and the face's (x, y, size) in each frame as the demo knows it."""
    faces = demo.source_faces()[:2]
    video = demo.make_video(index, faces, seed=0)
    frames, where = [], []
    for number in range(N_FRAMES):
        image, box = demo.real_frame(video, number * demo.FRAME_STEP, SIDE)
        image[..., 0] *= red_gain
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
        where.append(box)
    return frames, where


def decoded_frame(path, number: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    for _ in range(number + 1):
        ok, frame = capture.read()
        assert ok
    capture.release()
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def reference_score(path, number: int, box, tmp_path) -> float:
    """The red model's score of frame ``number``'s crop at ``box``, cut and JPEG-written here."""
    crop = square_crop(decoded_frame(path, number), box, 1.3, CROP_SIZE)
    file = tmp_path / f"ref_{path.stem}_{number}.jpg"
    write_rgb(file, crop)
    return expected_score(read_rgb(file))


# Videos of the labelled folder: (relative path, demo index, red gain).  FF++ names: 000_001 links 000 and 001.
LABELLED = [("real/000.avi", 0, 0.70), ("real/001.avi", 1, 0.85), ("real/002.avi", 2, 1.05),
            ("real/003.avi", 3, 0.80), ("fake/000_001.avi", 4, 1.30), ("fake/002_004.avi", 5, 1.15)]
GROUPS = {"000": "000", "001": "000", "000_001": "000", "002": "002", "002_004": "002", "003": "003"}


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """The labelled video folder and the odd inputs (faceless, truncated, corrupt, empty, an image)."""
    root = tmp_path_factory.mktemp("media")
    where = {}
    for rel, index, gain in LABELLED:
        frames, where[rel] = face_frames(index, gain)
        write_video(root / "labelled" / rel, frames)
    odd = root / "odd"
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8), (0, 0), 8)
    write_video(odd / "background.avi", [np.roll(background, i, axis=1) for i in range(N_FRAMES)])
    frames, _ = face_frames(0, 1.0)
    write_video(odd / "whole.avi", frames)
    data = (odd / "whole.avi").read_bytes()
    (odd / "truncated.avi").write_bytes(data[: len(data) * 45 // 100])
    (odd / "whole.avi").unlink()
    (odd / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    (odd / "empty.mov").write_bytes(b"")
    write_rgb(odd / "photo.png", frames[0])
    return root, where


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A study folder as `tdfake run` writes it, with a baseline (OR) and a tk (TK) arm of the red model at 256 px
    (tiny_models.write_run).  Only the baseline is evaluated (its threshold is chosen on validation); tk decides
    at 0.5."""
    out = tmp_path_factory.mktemp("study")
    split = face_split(out / "data", (np.linspace(0.25, 0.6, len(SPLITS)), np.linspace(0.45, 0.8, len(SPLITS))),
                       SPLITS)
    cfg = tiny_config(image_size=CROP_SIZE, tucker_method="fast")
    write_run(out, "baseline", split, cfg, evaluate=True)
    write_run(out, "tk", split, cfg)
    return out


@pytest.fixture(scope="module")
def predicted(study, media, tmp_path_factory):
    """One `tdfake predict STUDY` call on two face videos, the odd inputs and an image."""
    root, _ = media
    out = tmp_path_factory.mktemp("predicted")
    argv = ["predict", str(study), str(root / "labelled" / "real" / "000.avi"),
            str(root / "labelled" / "fake" / "000_001.avi"), str(root / "odd"),
            "-o", str(out / "csv"), "--frames", str(SAMPLED), "--annotate", str(out / "figures")]
    assert main(argv) == 0
    return out


def test_sample_indices_are_deepfakebench_s_linspace_or_every_nth():
    assert sample_indices(300, 32) == np.linspace(0, 299, 32, dtype=int).tolist()
    assert sample_indices(8, 4) == [0, 2, 4, 7]
    assert sample_indices(5, 32) == [0, 1, 2, 3, 4]
    assert sample_indices(10, every=4) == [0, 4, 8]
    assert sample_indices(0, 32) == []


def test_videos_are_known_by_extension_or_content(media, tmp_path):
    root, _ = media
    renamed = tmp_path / "clip.dat"
    renamed.write_bytes((root / "labelled" / "real" / "000.avi").read_bytes())
    (tmp_path / "notes.txt").write_text("RIFF but not a video")
    assert is_video(renamed) and is_video(root / "odd" / "empty.mov")
    assert not is_video(root / "odd" / "photo.png") and not is_video(tmp_path / "notes.txt")


def test_batched_detection_finds_the_same_faces_as_one_frame_at_a_time():
    frames = face_frames(0, 1.0)[0][:3] + face_frames(1, 1.0)[0][:2]
    detector = FaceDetector()
    assert detector.best_boxes(frames) == [detector.best_box(f) for f in frames]


def test_videos_csv_gives_every_video_a_row_with_its_reason(predicted, media):
    videos = pd.read_csv(predicted / "csv" / "videos.csv", keep_default_na=False)
    by_name = {v.rsplit("/", 1)[-1]: row for v, row in zip(videos["video"], videos.to_dict("records"))}
    assert sorted(by_name) == ["000.avi", "000_001.avi", "background.avi", "corrupt.mp4", "empty.mov",
                               "truncated.avi"]
    assert by_name["empty.mov"]["error"].startswith("empty file")
    assert "unreadable video" in by_name["corrupt.mp4"]["error"] or "no frames" in by_name["corrupt.mp4"]["error"]
    assert by_name["background.avi"]["error"] == NO_FACE
    assert (by_name["background.avi"]["frames_sampled"], by_name["background.avi"]["frames_with_face"]) == (SAMPLED, 0)
    assert by_name["truncated.avi"]["error"].startswith("truncated: frames from")
    assert 0 < by_name["truncated.avi"]["frames_sampled"] < SAMPLED
    for name in ("000.avi", "000_001.avi"):
        assert by_name[name]["error"] == ""
        assert by_name[name]["frames_sampled"] == by_name[name]["frames_with_face"] == SAMPLED
    for name in ("empty.mov", "corrupt.mp4", "background.avi"):
        assert by_name[name]["baseline_mean"] == "" and by_name[name]["baseline_prediction"] == ""


def test_frames_csv_row_by_row(predicted, media, study, tmp_path):
    root, where = media
    frames = pd.read_csv(predicted / "csv" / "frames.csv")
    assert list(frames.columns) == ["video", "frame", "time", "x", "y", "w", "h", "baseline_score", "tk_score"]
    for rel in ("real/000.avi", "fake/000_001.avi"):
        path = root / "labelled" / rel
        rows = frames[frames["video"] == str(path)]
        assert rows["frame"].tolist() == sample_indices(N_FRAMES, SAMPLED)
        assert rows["time"].tolist() == pytest.approx([n / FPS for n in rows["frame"]])
        for row in rows.itertuples():
            fx, fy, size = where[rel][row.frame]
            assert abs(row.x + row.w / 2 - fx) < 0.25 * size and abs(row.y + row.h / 2 - fy) < 0.35 * size
            box = (row.x, row.y, row.w, row.h)
            assert row.baseline_score == pytest.approx(reference_score(path, row.frame, box, tmp_path), abs=2e-3)
            assert 0 < row.tk_score < 1
    background = frames[frames["video"].str.endswith("background.avi")]
    assert len(background) == SAMPLED and background["x"].isna().all() and background["baseline_score"].isna().all()


def test_video_summaries_are_the_frames_summarised(predicted, study):
    frames = pd.read_csv(predicted / "csv" / "frames.csv")
    videos = pd.read_csv(predicted / "csv" / "videos.csv")
    chosen = json.loads((study / "baseline" / "report.json").read_text())["chosen"]["threshold"]
    thresholds = {"baseline": chosen, "tk": 0.5}
    for video in videos.itertuples():
        rows = frames[frames["video"] == video.video]
        for arm, threshold in thresholds.items():
            scores = rows[f"{arm}_score"].dropna()
            assert getattr(video, f"{arm}_threshold") == pytest.approx(threshold)
            if scores.empty:
                continue
            mean = getattr(video, f"{arm}_mean")
            assert mean == pytest.approx(scores.mean())
            assert getattr(video, f"{arm}_max") == pytest.approx(scores.max())
            assert getattr(video, f"{arm}_share") == pytest.approx((scores >= threshold).mean())
            assert getattr(video, f"{arm}_prediction") == ("fake" if mean >= threshold else "real")


def test_mixed_call_writes_images_csv_and_one_figure_per_video(predicted):
    images = pd.read_csv(predicted / "csv" / "images.csv", keep_default_na=False)
    assert list(images.columns) == ["path", "baseline_score", "baseline_prediction", "tk_score", "tk_prediction",
                                    "error"]
    assert [p.rsplit("/", 1)[-1] for p in images["path"]] == ["photo.png"]
    figures = sorted(p.name for p in (predicted / "figures").glob("*.png"))
    # videos with at least one decoded frame; names are paths below the videos' common folder
    assert figures == ["labelled__fake__000_001.png", "labelled__real__000.png", "odd__background.png",
                       "odd__truncated.png"]
    assert read_rgb(predicted / "figures" / figures[0]).shape[2] == 3


def test_missing_path_is_one_error_line_before_any_work(study, media, tmp_path, capsys):
    root, _ = media
    out = tmp_path / "never"
    code = main(["predict", str(study), str(root / "odd"), str(tmp_path / "nope.mp4"), "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"tdfake: error: {tmp_path / 'nope.mp4'}: no such file or folder"]
    assert not out.exists()


def test_images_only_keep_today_s_csv(study, media, capsys):
    root, _ = media
    assert main(["predict", str(study / "baseline"), str(root / "odd" / "photo.png")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "path,score,prediction,error" and len(lines) == 2


def test_evaluate_on_a_video_folder_matches_scikit_learn(study, media, tmp_path):
    root, _ = media
    out = tmp_path / "eval"
    assert main(["evaluate", str(study / "baseline"), "--data", str(root / "labelled"), "--frames", str(SAMPLED),
                 "--bootstrap", "20", "--out", str(out)]) == 0
    videos = pd.read_csv(out / "videos.csv", dtype={"video_id": str, "group": str})
    frames = pd.read_csv(out / "frames.csv", dtype={"video_id": str, "group": str})
    assert sorted(videos["path"]) == sorted(rel for rel, _, _ in LABELLED)
    assert dict(zip(videos["video_id"], videos["group"])) == GROUPS
    report = json.loads((out / "report.json").read_text())
    frame_report = json.loads((out / "frame_report.json").read_text())
    assert report["auroc"] == pytest.approx(roc_auc_score(videos["label"], videos["baseline_mean"]))
    assert frame_report["auroc"] == pytest.approx(roc_auc_score(frames["label"], frames["baseline_score"]))
    chosen = json.loads((study / "baseline" / "report.json").read_text())["chosen"]["threshold"]
    assert report["chosen"]["threshold"] == pytest.approx(chosen)
    assert report["chosen"]["source"] == "validation"
    predicted = (videos["baseline_mean"] >= chosen).astype(int)
    assert report["chosen"]["metrics"]["accuracy"] == pytest.approx((predicted == videos["label"]).mean())
    assert (report["bootstrap_unit"], report["n_bootstrap_units"], report["n_videos"]) == ("group", 3, 6)
    text = (out / "report.md").read_text()
    assert "Frame level" in text and "3 test groups (6 videos)" in text
