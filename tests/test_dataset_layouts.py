"""Dataset layouts on trees the tests build with the datasets' exact names: FaceForensics++ and Celeb-DF v2
as downloaded (short .mp4 videos of demo faces, fakes tinted redder), their crop trees, detection that
recognises each layout or says what it saw, `tdfake faces` on a download and `tdfake evaluate --data` on one.

The evaluated arm is the hand-weighted red model of tests/tiny_models.py at the crop size (no training):
its scores rank the redder fakes above the reals, so the reports' numbers are checked against scikit-learn
on the videos the report lists.  Faces are found with the real MTCNN detector.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from tiny_models import face_split, tiny_config, write_run

from tdfake import demo
from tdfake.cli import main
from tdfake.dataset_layouts import REGISTRY, detect_layout, download_sources
from tdfake.datasets import build_manifest
from tdfake.faces import CROP_SIZE
from tdfake.images import write_rgb
from tdfake.video import list_videos

SIDE = 160
N_FRAMES = 2
REAL_GAIN, FAKE_GAIN = 0.8, 1.3

YOUTUBE = "original_sequences/youtube/{c}/videos"
ACTORS = "original_sequences/actors/{c}/videos"
MANIPULATED = "manipulated_sequences/{method}/{c}/videos"
FFPP_VIDEOS = {  # folder -> video ids (c40); the youtube originals also at c23
    YOUTUBE: ["000", "001", "002", "003", "004", "005"],
    ACTORS: ["01__kitchen_still", "02__talking_angry_couch"],
    MANIPULATED.replace("{method}", "NeuralTextures"): ["000_001", "002_003", "003_002", "004_005", "005_004"],
    MANIPULATED.replace("{method}", "Deepfakes"): ["000_001"],
    MANIPULATED.replace("{method}", "DeepFakeDetection"): ["01_02__kitchen_still__ABCD1234"],
}
FFPP_TEST = [["002", "003"], ["004", "005"]]  # FaceForensics++'s test.json: [target, source] pairs
FFPP_TEST_VIDEOS = {"002", "003", "002_003", "003_002", "004", "005", "004_005", "005_004"}

CELEBDF_VIDEOS = {
    "Celeb-real": ["id0_0000", "id0_0001", "id1_0000", "id2_0000"],
    "Celeb-synthesis": ["id0_id1_0000", "id0_id2_0001", "id1_id0_0000", "id2_id0_0000"],
    "YouTube-real": ["00000", "00001"],
}
CELEBDF_TEST = ["1 YouTube-real/00001.mp4", "1 Celeb-real/id1_0000.mp4", "0 Celeb-synthesis/id1_id0_0000.mp4",
                "0 Celeb-synthesis/id2_id0_0000.mp4"]  # List_of_testing_videos.txt: 1 real, 0 fake


def write_video(path, index: int, red_gain: float) -> None:
    """Demo face video ``index`` (``N_FRAMES`` frames, red scaled by ``red_gain``) as an .mp4 (OpenCV, mp4v)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    video = demo.make_video(index, demo.source_faces()[:2], seed=0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (SIDE, SIDE))
    assert writer.isOpened(), "OpenCV cannot write mp4v video here"
    for number in range(N_FRAMES):
        image, _ = demo.real_frame(video, number * demo.FRAME_STEP, SIDE)
        image[..., 0] *= red_gain
        writer.write(cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    writer.release()


def write_tree(root, videos: dict[str, list[str]]) -> None:
    """Every folder's videos, fakes (under manipulated_sequences/ or Celeb-synthesis/) redder than reals."""
    for k, (folder, names) in enumerate(videos.items()):
        fake = folder.startswith("manipulated") or folder == "Celeb-synthesis"
        for i, name in enumerate(names):
            write_video(root / folder / f"{name}.mp4", 3 * k + i, FAKE_GAIN if fake else REAL_GAIN)


@pytest.fixture(scope="module")
def ffpp(tmp_path_factory):
    """FaceForensics++ as its download script lays it out (c40, and the youtube originals at c23 too), with
    a broken video and the official test.json."""
    root = tmp_path_factory.mktemp("ffpp")
    write_tree(root, {folder.replace("{c}", "c40"): names for folder, names in FFPP_VIDEOS.items()})
    write_tree(root, {YOUTUBE.replace("{c}", "c23"): FFPP_VIDEOS[YOUTUBE][:2]})
    (root / YOUTUBE.replace("{c}", "c40") / "006.mp4").write_bytes(b"not a video at all")
    (root / "test.json").write_text(json.dumps(FFPP_TEST))
    return root


@pytest.fixture(scope="module")
def celebdf(tmp_path_factory):
    """Celeb-DF v2 as downloaded, with its List_of_testing_videos.txt."""
    root = tmp_path_factory.mktemp("celebdf")
    write_tree(root, CELEBDF_VIDEOS)
    (root / "List_of_testing_videos.txt").write_text("\n".join(CELEBDF_TEST) + "\n")
    return root


def touch(root, *relpaths: str) -> None:
    """A tiny image at each relative path (a crop tree's file)."""
    for rel in relpaths:
        write_rgb(root / rel, np.full((8, 8, 3), 128, np.uint8))


def groups_of(manifest: pd.DataFrame) -> set[frozenset[str]]:
    """The manifest's groups, each as the set of its video ids."""
    return {frozenset(videos) for videos in manifest.groupby("group")["video"].agg(set)}


# ---------------------------------------------------------------------------------------- FaceForensics++

def test_ffpp_download_reads_one_compression_and_links_like_crops(ffpp):
    assert detect_layout(ffpp, list_videos=list_videos) == "ffpp"
    m = build_manifest(ffpp, list_videos=list_videos).set_index("path")  # c40: the one level every folder has
    assert m.equals(build_manifest(ffpp, list_videos=list_videos, compression="c40").set_index("path"))
    expected = {f"{folder.replace('{c}', 'c40')}/{name}.mp4" for folder, names in FFPP_VIDEOS.items() for name in names}
    assert set(m.index) == expected | {"original_sequences/youtube/c40/videos/006.mp4"}
    nt = m.loc["manipulated_sequences/NeuralTextures/c40/videos/002_003.mp4"]
    assert (nt["label"], nt["method"], nt["video"]) == (1, "NeuralTextures", "002_003")
    actor = m.loc["original_sequences/actors/c40/videos/01__kitchen_still.mp4"]
    assert (actor["label"], actor["method"]) == (0, "real")
    assert groups_of(m) == {
        frozenset({"000", "001", "000_001"}), frozenset({"002", "003", "002_003", "003_002"}),
        frozenset({"004", "005", "004_005", "005_004"}), frozenset({"006"}),
        frozenset({"01__kitchen_still", "02__talking_angry_couch", "01_02__kitchen_still__ABCD1234"})}


def test_ffpp_download_at_several_compressions_asks_for_one(tmp_path):
    for c in ("c23", "c40"):
        for folder, name in ((YOUTUBE, "000"), (MANIPULATED.replace("{method}", "Deepfakes"), "000_001")):
            (tmp_path / folder.replace("{c}", c)).mkdir(parents=True)
            (tmp_path / folder.replace("{c}", c) / f"{name}.mp4").write_bytes(b"")
    (tmp_path / "manipulated_sequences/Deepfakes/masks/videos").mkdir(parents=True)  # masks: no compression
    with pytest.raises(ValueError, match=r"several compression levels .*c23, c40.*--compression c23 \| c40"):
        build_manifest(tmp_path, list_videos=list_videos)
    assert build_manifest(tmp_path, list_videos=list_videos, compression="c23")["path"].tolist() == [
        "manipulated_sequences/Deepfakes/c23/videos/000_001.mp4", "original_sequences/youtube/c23/videos/000.mp4"]


def test_ffpp_methods_bring_the_originals_they_were_made_from(ffpp):
    nt = build_manifest(ffpp, list_videos=list_videos, compression="c40", methods=["NeuralTextures"])
    assert set(nt["method"]) == {"real", "NeuralTextures"}
    assert not nt["path"].str.contains("actors").any()
    dfd = build_manifest(ffpp, list_videos=list_videos, compression="c40", methods=["DeepFakeDetection"])
    assert sorted(dfd["video"]) == ["01_02__kitchen_still__ABCD1234", "01__kitchen_still", "02__talking_angry_couch"]
    assert dfd["group"].nunique() == 1  # the fake shows actors 01 and 02
    with pytest.raises(ValueError, match=r"no FaceShifter here; the methods downloaded are DeepFakeDetection, "
                                         r"Deepfakes, NeuralTextures"):
        build_manifest(ffpp, list_videos=list_videos, compression="c40", methods=["FaceShifter"])
    with pytest.raises(ValueError, match=r"no c23/videos in manipulated_sequences/NeuralTextures"):
        build_manifest(ffpp, list_videos=list_videos, compression="c23", methods=["NeuralTextures"])
    with pytest.raises(ValueError, match=r"holds videos, not face crops; crop them with `tdfake faces"):
        build_manifest(ffpp)  # images: a download must be cropped first


def test_ffpp_official_test_json_keeps_the_test_pairs(ffpp, tmp_path):
    everything = build_manifest(ffpp, list_videos=list_videos, compression="c40")
    test = build_manifest(ffpp, list_videos=list_videos, compression="c40", test_list=True)
    assert set(test["video"]) == FFPP_TEST_VIDEOS
    # groups were found on every video first: the test rows keep them
    assert test.set_index("path")["group"].equals(everything.set_index("path").loc[test["path"], "group"])
    other = tmp_path / "pairs.json"
    other.write_text(json.dumps([["000", "001"], ["008", "009"]]))
    with pytest.warns(UserWarning, match=r"5 of its 8 videos are not in the data"):
        listed = build_manifest(ffpp, list_videos=list_videos, compression="c40", test_list=other)
    assert sorted(listed["video"]) == ["000", "000_001", "000_001", "001"]  # NeuralTextures' and Deepfakes'


# ---------------------------------------------------------------------------------------- Celeb-DF

def test_celebdf_download_groups_by_target_identity(celebdf):
    assert detect_layout(celebdf, list_videos=list_videos) == "celebdf"
    m = build_manifest(celebdf, list_videos=list_videos)
    assert len(m) == sum(map(len, CELEBDF_VIDEOS.values()))
    by_video = m.set_index("video")
    assert by_video.loc["id0_id1_0000", ["label", "method", "path"]].tolist() == \
        [1, "Celeb-synthesis", "Celeb-synthesis/id0_id1_0000.mp4"]
    assert by_video.loc["00000", ["label", "method"]].tolist() == [0, "real"]
    assert groups_of(m) == {
        frozenset({"id0_0000", "id0_0001", "id0_id1_0000", "id0_id2_0001"}),
        frozenset({"id1_0000", "id1_id0_0000"}), frozenset({"id2_0000", "id2_id0_0000"}),
        frozenset({"00000"}), frozenset({"00001"})}
    assert by_video.loc["id0_0000", "group"] == "id0"


def test_celebdf_official_test_list_and_its_errors(celebdf, tmp_path):
    test = build_manifest(celebdf, list_videos=list_videos, test_list=True)
    assert sorted(test["path"]) == sorted(line.split()[1] for line in CELEBDF_TEST)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("0 Celeb-real/id1_0000.mp4\n")  # 0 = fake, but it is in Celeb-real
    with pytest.raises(ValueError, match=r"labels disagree with the class folders for videos id1_0000"):
        build_manifest(celebdf, list_videos=list_videos, test_list=wrong)
    wrong.write_text("1 YouTube-real/00001.mp4\nYouTube-real/00000.mp4\n")
    with pytest.raises(ValueError, match=r"wrong.txt, line 2: 'YouTube-real/00000.mp4' is not"):
        build_manifest(celebdf, list_videos=list_videos, test_list=wrong)
    with pytest.raises(ValueError, match="Celeb-DF has no compression levels"):
        build_manifest(celebdf, list_videos=list_videos, compression="c40")


def test_celebdf_crop_tree_is_recognised_never_read_as_ffpp(tmp_path):
    touch(tmp_path, "REAL/id0_0000_frame0.jpg", "REAL/id0_0000_frame10.jpg", "REAL/00170_frame3.jpg",
          "REAL/id16_0002_frame5.jpg", "FAKE/Celeb-synthesis/id0_id16_0000_frame12.jpg",
          "FAKE/Celeb-synthesis/id16_id0_0001_frame4.jpg")
    assert detect_layout(tmp_path) == "celebdf"
    m = build_manifest(tmp_path)
    assert groups_of(m) == {frozenset({"id0_0000", "id0_id16_0000"}), frozenset({"id16_0002", "id16_id0_0001"}),
                            frozenset({"00170"})}
    with pytest.warns(UserWarning, match=r"5 of 6 file names do not follow the ffpp naming scheme"):
        build_manifest(tmp_path, layout="ffpp")  # named wrongly on purpose: said, not silent


# ---------------------------------------------------------------------------------------- detection

def test_detection_refuses_unknown_and_ambiguous_trees_saying_what_it_saw(tmp_path):
    mixed = tmp_path / "mixed"
    touch(mixed, "REAL/000_frame0.jpg", "REAL/id0_0000_frame0.jpg", "FAKE/NT/000_001_frame0.jpg",
          "FAKE/Celeb-synthesis/id0_id1_0000_frame0.jpg")
    with pytest.raises(ValueError, match="no layout recognises it") as caught:
        build_manifest(mixed)
    message = str(caught.value)
    assert "--layout NAME" in message and "layout: NAME" in message
    assert "ffpp: 2 of 4 crop names follow its video ids (000, 000_003" in message
    assert "celebdf: 2 of 4 crop names follow its video ids (id0_0000, id0_id16_0000, 00170); 2 do not (e.g. " \
        "FAKE/NT/000_001_frame0.jpg, REAL/000_frame0.jpg)" in message
    assert "folders: 4 of 4 image names number a video frame" in message
    youtube_only = tmp_path / "youtube"
    touch(youtube_only, "REAL/00170_frame0.jpg", "FAKE/00171_frame0.jpg")
    with pytest.raises(ValueError, match="ffpp and celebdf all recognise it"):
        detect_layout(youtube_only)
    assert build_manifest(youtube_only, layout="celebdf")["group"].nunique() == 2
    clips = tmp_path / "clips"
    for rel in ("real/holiday.mp4", "fake/holiday_swapped.mp4"):
        (clips / rel).parent.mkdir(parents=True, exist_ok=True)
        (clips / rel).write_bytes(b"")
    with pytest.raises(ValueError, match=r"no layout recognises it.*folders: videos, whose names cannot tell"):
        build_manifest(clips, list_videos=list_videos)
    assert build_manifest(clips, layout="folders", list_videos=list_videos)["group"].nunique() == 2
    with pytest.raises(ValueError, match="compression and methods pick from a FaceForensics"):
        build_manifest(clips, layout="folders", list_videos=list_videos, methods=["NeuralTextures"])


def test_every_layout_is_one_registry_entry_the_config_and_cli_offer():
    from tdfake.cli import build_parser
    from tdfake.config import CHOICES

    assert list(REGISTRY) == ["ffpp", "celebdf", "dfdc", "kaggle_dfdc", "folders"]
    assert CHOICES["layout"] == ("auto", *REGISTRY)
    for argv in (["manifest", "DATA", "-o", "m.csv"], ["evaluate", "RUN", "--data", "DATA"]):
        assert build_parser().parse_args([*argv, "--layout", "celebdf"]).layout == "celebdf"
    assert {name for name, layout in REGISTRY.items() if layout.download} == {"ffpp", "celebdf"}
    assert {name for name, layout in REGISTRY.items() if layout.test_list} == {"ffpp", "celebdf"}


def test_a_folder_with_two_downloads_is_refused(ffpp, celebdf, tmp_path):
    (tmp_path / "original_sequences").mkdir()
    (tmp_path / "Celeb-real").mkdir()
    with pytest.raises(ValueError, match="holds both a FaceForensics\\+\\+ and a Celeb-DF download"):
        download_sources(tmp_path)
    layout, sources = download_sources(celebdf)
    assert layout.name == "celebdf"
    assert [(s.folder.name, s.crops) for s in sources] == [
        ("Celeb-real", "REAL"), ("YouTube-real", "REAL"), ("Celeb-synthesis", "FAKE/Celeb-synthesis")]


# ---------------------------------------------------------------------------------------- tdfake faces

def test_cli_faces_crops_a_download_into_the_crop_tree_and_resumes(ffpp, tmp_path, capsys):
    out = tmp_path / "crops"
    argv = ["faces", str(ffpp), str(out), "--compression", "c40", "--methods", "NeuralTextures", "--every", "2",
            "--size", "64"]
    assert main(argv) == 0
    assert "11 crops written, 0 already there, 1 skipped" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "REAL").glob("*.jpg")) == [f"{v}_frame0.jpg" for v in FFPP_VIDEOS[YOUTUBE]]
    assert sorted(p.name for p in (out / "FAKE" / "NeuralTextures").glob("*.jpg")) == \
        [f"{v}_frame0.jpg" for v in FFPP_VIDEOS[MANIPULATED.replace("{method}", "NeuralTextures")]]
    skipped = pd.read_csv(out / "skipped.csv")
    assert skipped["source"].tolist() == ["original_sequences/youtube/c40/videos/006.mp4"]
    assert "unreadable video" in skipped["reason"].iat[0]
    m = build_manifest(out)  # the crop tree reads as ffpp, linked as the download
    assert groups_of(m) == {frozenset({"000", "001", "000_001"}), frozenset({"002", "003", "002_003", "003_002"}),
                            frozenset({"004", "005", "004_005", "005_004"})}
    assert main(argv) == 0  # again: every video finished earlier
    assert "0 crops written, 0 already there, 0 skipped, 12 files finished earlier" in capsys.readouterr().out
    ledger = json.loads((out / "REAL" / "faces.json").read_text())  # 003.mp4 cut short: unfinished, crop gone
    ledger["done"].remove("003.mp4")
    (out / "REAL" / "faces.json").write_text(json.dumps(ledger))
    (out / "REAL" / "003_frame0.jpg").unlink()
    assert main(argv) == 0
    assert "1 crops written, 0 already there, 0 skipped, 11 files finished earlier" in capsys.readouterr().out
    assert (out / "REAL" / "003_frame0.jpg").is_file()

def test_cli_faces_keeps_one_dataset_per_crop_tree(ffpp, celebdf, tmp_path, capsys):
    out = tmp_path / "crops"
    (out / "REAL").mkdir(parents=True)
    (out / "download.json").write_text(json.dumps({"layout": "ffpp", "compression": "c40"}))
    assert main(["faces", str(celebdf), str(out)]) == 2
    assert "use another output folder" in capsys.readouterr().err
    videos = ffpp / YOUTUBE.replace("{c}", "c40")
    assert main(["faces", str(videos), str(tmp_path / "x"), "--methods", "Deepfakes"]) == 2
    assert "not a FaceForensics++ or Celeb-DF download" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- tdfake evaluate

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A baseline arm of the red model at the crop size, evaluated on its own validation split."""
    out = tmp_path_factory.mktemp("study")
    splits = ["train", "val", "test"] * 3
    split = face_split(out / "data", (np.linspace(0.2, 0.5, len(splits)), np.linspace(0.4, 0.8, len(splits))),
                       splits)
    return write_run(out, "baseline", split, tiny_config(image_size=CROP_SIZE, tucker_method="fast"), evaluate=True)


def check_report(out, expected_paths: set[str]) -> pd.DataFrame:
    """videos.csv lists exactly ``expected_paths``; report.json's AUROC is scikit-learn's on its video means."""
    videos = pd.read_csv(out / "videos.csv", dtype={"video_id": str, "group": str})
    assert set(videos["path"]) == expected_paths
    report = json.loads((out / "report.json").read_text())
    assert report["n_videos"] == videos["video_id"].nunique()
    assert report["auroc"] == pytest.approx(roc_auc_score(videos["label"], videos["baseline_mean"]))
    return videos


def test_cli_evaluate_on_an_ffpp_download_scores_the_test_json_videos(ffpp, run, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", str(run), "--data", str(ffpp), "--compression", "c40", "--methods", "NeuralTextures",
                 "--frames", "2", "--bootstrap", "0", "--out", str(out)]) == 0
    assert f"test list {ffpp / 'test.json'}" in capsys.readouterr().err
    expected = {f"{YOUTUBE.replace('{c}', 'c40')}/{v}.mp4" for v in ("002", "003", "004", "005")} | \
        {f"{MANIPULATED.replace('{method}', 'NeuralTextures').replace('{c}', 'c40')}/{v}.mp4"
         for v in ("002_003", "003_002", "004_005", "005_004")}
    videos = check_report(out, expected)
    assert videos.groupby("group")["video_id"].agg(set).map(frozenset).tolist() == [
        frozenset({"002", "003", "002_003", "003_002"}), frozenset({"004", "005", "004_005", "005_004"})]
    assert "Video level" in (out / "report.md").read_text()


def test_cli_evaluate_on_a_celebdf_download_scores_its_test_list(celebdf, run, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", str(run), "--data", str(celebdf), "--frames", "1", "--bootstrap", "0",
                 "--out", str(out)]) == 0
    assert "List_of_testing_videos.txt" in capsys.readouterr().err
    check_report(out, {line.split()[1] for line in CELEBDF_TEST})
    every = tmp_path / "every"
    assert main(["evaluate", str(run), "--data", str(celebdf), "--frames", "1", "--bootstrap", "0",
                 "--out", str(every), "--all-videos"]) == 0
    check_report(every, {f"{folder}/{name}.mp4" for folder, names in CELEBDF_VIDEOS.items() for name in names})
