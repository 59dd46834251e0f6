"""Manifests parsed from real files on disk: each layout, group links, fallbacks, the CLI."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tdfake.cli import main
from tdfake.datasets import (
    COLUMNS,
    build_manifest,
    detect_layout,
    frame_number,
    read_manifest,
)
from tdfake.images import write_rgb


def touch(root: Path, *relpaths: str) -> None:
    """Write a tiny real image file at each relative path."""
    for i, rel in enumerate(relpaths):
        write_rgb(root / rel, np.full((8, 8, 3), i % 256, np.uint8))


def test_ffpp_layout_links_fakes_to_target_and_source(tmp_path):
    touch(tmp_path, "REAL/000_frame0.jpg", "REAL/000_frame12.jpg", "REAL/003_frame5.jpg", "REAL/007_frame1.jpg",
          "REAL/01__kitchen_still_frame250.jpg",
          "FAKE/NeuralTextures/000_003_frame40.jpg", "FAKE/Deepfakes/003_000_frame2.jpg",
          "FAKE/NeuralTextures/007_008_frame3.jpg",
          "FAKE/DeepFakeDetection/01_02__kitchen_still__ABCD1234_frame9.jpg")
    m = build_manifest(tmp_path)
    assert list(m.columns) == COLUMNS
    assert m["root"].unique().tolist() == [str(tmp_path.resolve())]
    assert m["path"].tolist() == sorted(m["path"])
    by_path = m.set_index("path")
    assert by_path.loc["REAL/000_frame12.jpg", "video"] == "000"
    assert by_path.loc["FAKE/NeuralTextures/000_003_frame40.jpg", ["label", "method", "video"]].tolist() == \
        [1, "NeuralTextures", "000_003"]
    assert by_path.loc["REAL/000_frame0.jpg", "method"] == "real"
    # 000, 003, 000_003 and 003_000 are one connected component; 007 and 007_008 another
    one = {"REAL/000_frame0.jpg", "REAL/000_frame12.jpg", "REAL/003_frame5.jpg",
           "FAKE/NeuralTextures/000_003_frame40.jpg", "FAKE/Deepfakes/003_000_frame2.jpg"}
    assert by_path.loc[sorted(one), "group"].nunique() == 1
    assert by_path.loc["REAL/007_frame1.jpg", "group"] == by_path.loc["FAKE/NeuralTextures/007_008_frame3.jpg", "group"]
    assert by_path.loc["REAL/007_frame1.jpg", "group"] != by_path.loc["REAL/000_frame0.jpg", "group"]
    assert by_path.loc["FAKE/DeepFakeDetection/01_02__kitchen_still__ABCD1234_frame9.jpg", "group"] == \
        by_path.loc["REAL/01__kitchen_still_frame250.jpg", "group"]
    assert m["group"].nunique() == 3


def test_case_insensitive_folders_and_unknown_names_warn(tmp_path):
    touch(tmp_path, "real/000_frame0.jpg", "real/000_frame1.jpg", "real/holiday.png",
          "fake/000_001_frame0.jpg", "fake/snapshot.jpg")
    with pytest.warns(UserWarning, match="2 of 5 file names"):
        m = build_manifest(tmp_path, layout="ffpp")
    by_path = m.set_index("path")
    assert by_path.loc["fake/000_001_frame0.jpg", "method"] == "fake"
    assert by_path.loc["real/holiday.png", "group"] == "real/holiday.png"
    assert m["group"].nunique() == 3


def test_dfdc_layout_with_metadata_links_fake_to_original(tmp_path):
    touch(tmp_path, "real/aaaa-0-0.png", "real/aaaa-30-0.png", "real/bbbb-0-0.png",
          "fake/cccc-0-0.png", "fake/cccc-0-1.png", "fake/dddd-10-0.png")
    meta = {"aaaa.mp4": {"label": "REAL", "split": "train"}, "cccc.mp4": {"label": "FAKE", "original": "aaaa.mp4"},
            "dddd.mp4": {"label": "FAKE", "original": "bbbb.mp4"}}
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    assert detect_layout(tmp_path) == "dfdc"
    m = build_manifest(tmp_path).set_index("path")
    assert m.loc["fake/cccc-0-1.png", "video"] == "cccc"
    assert m.loc["fake/cccc-0-0.png", "group"] == m.loc["real/aaaa-30-0.png", "group"] == "aaaa"
    assert m.loc["fake/dddd-10-0.png", "group"] == m.loc["real/bbbb-0-0.png", "group"] == "bbbb"
    # without metadata every video is its own group
    (tmp_path / "metadata.json").unlink()
    assert build_manifest(tmp_path)["group"].nunique() == 4


def test_folders_layout_per_file_or_regex(tmp_path):
    touch(tmp_path, "real/a_1.jpg", "real/a_2.jpg", "real/b_1.jpg", "fake/c_1.jpg", "fake/sub/c_2.jpg")
    assert detect_layout(tmp_path) == "folders"
    m = build_manifest(tmp_path)
    assert m["group"].nunique() == 5 and m["label"].tolist() == [1, 1, 0, 0, 0]
    assert m.set_index("path").loc["fake/sub/c_2.jpg", "method"] == "sub"
    g = build_manifest(tmp_path, layout="folders", group_regex=r"^(\w)_\d+$").set_index("path")["group"]
    assert g["real/a_1.jpg"] == g["real/a_2.jpg"] == "a" and g["fake/c_1.jpg"] == g["fake/sub/c_2.jpg"] == "c"


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such data folder"):
        build_manifest(tmp_path / "nope")
    touch(tmp_path, "real/x.jpg")
    with pytest.raises(ValueError, match="no fake folder"):
        build_manifest(tmp_path)
    (tmp_path / "FAKE").mkdir()
    with pytest.raises(ValueError, match="no images in this class folder"):
        build_manifest(tmp_path)


def test_cli_manifest_writes_csv_and_summary(tmp_path, capsys):
    touch(tmp_path / "d", "REAL/000_frame0.jpg", "REAL/001_frame0.jpg", "FAKE/NT/000_001_frame0.jpg")
    assert main(["manifest", str(tmp_path / "d"), "-o", str(tmp_path / "m.csv")]) == 0
    out = capsys.readouterr().out
    assert "NT" in out and "3 images, 1 groups" in out
    m = read_manifest(tmp_path / "m.csv")
    assert m["video"].tolist() == ["000_001", "000", "001"] and m["group"].eq("000").all()


@pytest.mark.realdata
def test_real_photo_folders(real_photos):
    m = build_manifest(real_photos)
    assert set(m["label"]) == {0, 1} and m["group"].is_unique
    assert isinstance(m, pd.DataFrame) and len(m) == len(list((real_photos / "real").iterdir())) + \
        len(list((real_photos / "fake").iterdir()))


def test_deepfakedetection_videos_grouped_by_actor(tmp_path):
    touch(tmp_path, "REAL/01__kitchen_still_frame0.jpg", "REAL/01__exit_phone_room_frame3.jpg",
          "REAL/02__talking_angry_couch_frame7.jpg", "REAL/03__walk_down_hall_angry_frame1.jpg",
          "REAL/04__podium_speech_happy_frame2.jpg",
          "FAKE/DeepFakeDetection/02_03__hugging_happy__XYZ98765_frame4.jpg",
          "FAKE/DeepFakeDetection/01_02__kitchen_still__ABCD1234_frame9.jpg")
    groups = build_manifest(tmp_path).set_index("path")["group"]
    # actor 01's two videos, the fake of 01 with 02's face, actor 02, and through 02_03 actor 03: one group
    assert groups.drop("REAL/04__podium_speech_happy_frame2.jpg").nunique() == 1
    assert groups["REAL/01__kitchen_still_frame0.jpg"] == "01_02__kitchen_still__ABCD1234"  # smallest video id
    assert groups["REAL/04__podium_speech_happy_frame2.jpg"] == "04__podium_speech_happy"


def test_frame_number_from_the_file_name():
    assert frame_number("REAL/000_frame12.jpg") == 12
    assert frame_number("FAKE/DeepFakeDetection/01_02__kitchen_still__ABCD1234_frame9.jpg") == 9
    assert frame_number("fake/aassnaulhq-30-1.png") == 30
    assert frame_number("faces_224/aassnaulhq.jpg") is None
