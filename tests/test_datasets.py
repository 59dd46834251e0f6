"""Manifests parsed from real files on disk: each layout, group links, fallbacks, the CLI."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tdfake.cli import main
from tdfake.dataset_layouts import detect_layout, frame_number
from tdfake.datasets import COLUMNS, build_manifest, read_manifest
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


DFDC_FACES = Path(os.environ.get("TDFAKE_DFDC_FACES", Path(__file__).resolve().parents[2] / "shared/data/dfdc_faces"))


def kaggle_layout(root: Path, files: list[str], rows: list[tuple[str, str, str]]) -> Path:
    """Kaggle deepfake-faces form: ``faces_224/<video>.jpg`` files and metadata.csv rows
    (videoname, label, original)."""
    touch(root, *(f"faces_224/{name}.jpg" for name in files))
    lines = ["videoname,original_width,original_height,label,original"]
    lines += [f"{video},224,224,{label},{original}" for video, label, original in rows]
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    return root


def test_kaggle_dfdc_layout_labels_and_groups_from_metadata(tmp_path):
    kaggle_layout(tmp_path, ["aaaa", "bbbb", "cccc", "dddd", "eeee"],
                  [("aaaa.mp4", "REAL", ""), ("bbbb.mp4", "REAL", ""), ("cccc.mp4", "FAKE", "aaaa.mp4"),
                   ("dddd.mp4", "FAKE", "bbbb.mp4"), ("eeee.mp4", "FAKE", "bbbb.mp4")])
    assert detect_layout(tmp_path) == "kaggle_dfdc"
    m = build_manifest(tmp_path)
    assert list(m.columns) == COLUMNS
    assert m["path"].tolist() == [f"faces_224/{v}.jpg" for v in ("aaaa", "bbbb", "cccc", "dddd", "eeee")]
    assert m["label"].tolist() == [0, 0, 1, 1, 1]
    assert m["method"].tolist() == ["real", "real", "fake", "fake", "fake"]
    assert m["video"].tolist() == ["aaaa", "bbbb", "cccc", "dddd", "eeee"]
    assert m["group"].tolist() == ["aaaa", "bbbb", "aaaa", "bbbb", "bbbb"]


def test_kaggle_dfdc_counts_unlisted_files_and_rows_without_file(tmp_path, capsys):
    kaggle_layout(tmp_path / "d", ["aaaa", "cccc", "stray"],
                  [("aaaa.mp4", "REAL", ""), ("cccc.mp4", "FAKE", "aaaa.mp4"), ("gone.mp4", "FAKE", "aaaa.mp4"),
                   ("lost.mp4", "REAL", "")])
    with pytest.warns(UserWarning, match=r"1 image files have no row in metadata.csv and are left out "
                                         r"\(e.g. faces_224/stray.jpg\); 2 rows of metadata.csv have no image file"):
        m = build_manifest(tmp_path / "d", layout="kaggle_dfdc")
    assert m["video"].tolist() == ["aaaa", "cccc"]
    assert main(["manifest", str(tmp_path / "d"), "-o", str(tmp_path / "m.csv")]) == 0
    out = capsys.readouterr().out
    assert "2 images, 1 groups" in out
    assert "warning:" in out and "1 image files have no row" in out and "(e.g. gone, lost)" in out


def test_kaggle_dfdc_metadata_elsewhere_and_clear_errors(tmp_path):
    root = kaggle_layout(tmp_path / "d", ["aaaa", "cccc"], [("aaaa.mp4", "REAL", ""), ("cccc.mp4", "FAKE", "aaaa.mp4")])
    moved = tmp_path / "meta" / "metadata.csv"
    moved.parent.mkdir()
    (root / "metadata.csv").rename(moved)
    assert build_manifest(root, metadata=moved)["group"].tolist() == ["aaaa", "aaaa"]
    with pytest.raises(FileNotFoundError, match="no Kaggle metadata.csv"):
        build_manifest(root, layout="kaggle_dfdc")
    moved.write_text("videoname,label,original\naaaa.mp4,REAL,\ncccc.mp4,fake?,aaaa.mp4\n")
    with pytest.raises(ValueError, match=r"label values \['FAKE\?'\] are neither REAL nor FAKE"):
        build_manifest(root, metadata=moved)
    moved.write_text("videoname,label,original\naaaa.mp4,REAL,\naaaa.mp4,FAKE,\n")
    with pytest.raises(ValueError, match="listed more than once"):
        build_manifest(root, metadata=moved)
    moved.write_text("videoname,label,original\nzzzz.mp4,REAL,\n")
    with pytest.raises(ValueError, match="no image file matches a videoname"), pytest.warns(UserWarning):
        build_manifest(root, metadata=moved)


def test_dfdc_metadata_json_layout_unchanged_by_kaggle_detection(tmp_path):
    touch(tmp_path, "real/aaaa-0-0.png", "fake/cccc-0-0.png")
    (tmp_path / "metadata.json").write_text(json.dumps({"cccc.mp4": {"label": "FAKE", "original": "aaaa.mp4"}}))
    (tmp_path / "metadata.csv").write_text("name,score\nx,1\n")  # some other CSV: not the Kaggle layout
    assert detect_layout(tmp_path) == "dfdc"
    assert build_manifest(tmp_path)["group"].tolist() == ["aaaa", "aaaa"]


@pytest.mark.realdata
def test_shared_dfdc_faces_kaggle_layout():
    if not (DFDC_FACES / "metadata.csv").is_file():
        pytest.skip(f"DFDC faces not available at {DFDC_FACES}; set TDFAKE_DFDC_FACES to the deepfake-faces folder")
    meta = pd.read_csv(DFDC_FACES / "metadata.csv")
    m = build_manifest(DFDC_FACES)
    assert len(m) == len(meta) == len(list((DFDC_FACES / "faces_224").iterdir()))
    assert m["label"].value_counts().to_dict() == (meta["label"] == "FAKE").astype(int).value_counts().to_dict()
    fakes = meta[meta["label"] == "FAKE"]
    group = m.set_index("video")["group"]
    for videoname, original in zip(fakes["videoname"].head(50), fakes["original"].head(50)):
        assert group[Path(videoname).stem] == group[Path(original).stem]
    assert m.groupby("group")["label"].agg(["size", "sum"]).eq([2, 1]).all().all()  # one real + one fake each


def test_dfdc_config_prepares_the_kaggle_layout_keeping_pairs_in_one_split(tmp_path):
    from tdfake.config import Config
    from tdfake.study import prepare

    videos = [f"v{i:02d}" for i in range(20)]
    rows = [(f"{v}.mp4", "REAL", "") for v in videos[:10]] + \
        [(f"{v}.mp4", "FAKE", f"{videos[i]}.mp4") for i, v in enumerate(videos[10:])]
    data = kaggle_layout(tmp_path / "kaggle", videos, rows)
    cfg = Config.from_yaml(Path(__file__).resolve().parents[1] / "configs/dfdc.yaml").override_from_strings(
        [f"data_dir={data}", f"out_dir={tmp_path / 'run'}", "train_fraction=0.6", "val_fraction=0.2",
         "test_fraction=0.2", "workers=1"])
    prepared = prepare(cfg, ["baseline"])
    split = prepared.split.set_index("video")
    assert len(split) == 20 and set(split["split"]) == {"train", "val", "test"}
    for real, fake in zip(videos[:10], videos[10:]):
        assert split.loc[fake, "split"] == split.loc[real, "split"] and split.loc[fake, "group"] == real
    assert (prepared.images_root / "OR" / "faces_224" / "v00.jpg").is_file()
