"""tdfake.image_creation and ``tdfake images``: trees, resume, determinism, shards, bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import image_specs

from tdfake import images, tucker
from tdfake.cli import main
from tdfake.image_creation import create_images, parse_shard

RANK = (6, 6, 3)  # small ranks keep the 32 px test images quick
FILES = ["REAL/000_frame0.png", "REAL/001_frame0.jpg", "FAKE/NeuralTextures/000_001_frame0.png"]


def all_files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read_skipped(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_writes_one_tree_per_kind_with_the_study_formulas(write_images, tmp_path):
    src = write_images(FILES)
    out = tmp_path / "out"
    summary = create_images(src, out, image_specs(("OR", "TK", "TK_diff", "CP", "CP_diff"), rank=RANK, cp_rank=3),
                            progress=False)
    assert (summary.written, summary.existing, summary.skipped) == (3, 0, 0)
    for kind in ("OR", "TK", "TK_diff", "CP", "CP_diff"):
        assert sorted(p.relative_to(out / kind).as_posix() for p in (out / kind).rglob("*.*")) == sorted(FILES)
    original = images.read_rgb(src / FILES[0])
    # png: lossless
    assert np.array_equal(images.read_rgb(out / "TK" / FILES[0]), tucker.tk_image(original, RANK, "fast"))
    assert np.array_equal(images.read_rgb(out / "TK_diff" / FILES[0]), tucker.tk_diff_image(original, RANK, "fast"))
    assert np.array_equal(images.read_rgb(out / "CP" / FILES[0]), tucker.cp_image(original, 3, "fast"))
    assert (out / "OR" / FILES[1]).read_bytes() == (src / FILES[1]).read_bytes()  # JPEG copied, not re-compressed
    assert read_skipped(out / "skipped.csv") == [["path", "reason"]]
    assert not [p for p in out.rglob("*.tmp")]


def test_rerun_writes_nothing_and_adds_only_missing_kinds(write_images, tmp_path):
    src = write_images(FILES)
    out = tmp_path / "out"
    create_images(src, out, image_specs(("OR", "TK"), rank=RANK), progress=False)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.*") if p.name != "skipped.csv"}
    again = create_images(src, out, image_specs(("OR", "TK"), rank=RANK), progress=False)
    assert (again.written, again.existing, again.skipped) == (0, 3, 0)
    assert {p: p.stat().st_mtime_ns for p in before} == before
    more = create_images(src, out, image_specs(("OR", "TK", "TK_diff"), rank=RANK), progress=False)
    assert more.written == 3 and len(list((out / "TK_diff").rglob("*.*"))) == 3
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_byte_identical_across_runs_and_worker_counts(write_images, tmp_path):
    src = write_images(FILES)
    create_images(src, tmp_path / "one", image_specs(rank=RANK), workers=1, progress=False)
    create_images(src, tmp_path / "two", image_specs(rank=RANK), workers=2, progress=False)
    assert all_files(tmp_path / "one") == all_files(tmp_path / "two")


def test_workers_run_from_a_script_without_a_main_guard(write_images, tmp_path):
    """``python -`` with a four-line script: no ``if __name__ == "__main__":``, yet two workers run."""
    src = write_images(FILES)
    out = str(tmp_path / "out")
    script = (f"from tdfake.image_creation import create_images\n"
              f"from tdfake.transforms import spec\n"
              f"defaults = {{'rank': {RANK}, 'tucker_method': 'fast'}}\n"
              f"specs = [spec(kind, defaults=defaults) for kind in ('OR', 'TK', 'TK_diff')]\n"
              f"summary = create_images({str(src)!r}, {out!r}, specs, workers=2, progress=False)\n"
              f"print(summary.line())\n")
    done = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "3 written, 0 existing, 0 skipped" in done.stdout
    create_images(src, tmp_path / "one", image_specs(rank=RANK), workers=1, progress=False)
    assert all_files(tmp_path / "out" / "TK") == all_files(tmp_path / "one" / "TK")


def test_shards_partition_the_images(write_images, tmp_path):
    names = [f"d{i % 2}/img{i}.png" for i in range(7)]
    src = write_images(names, size=16)
    seen = []
    for index in range(3):
        out = tmp_path / f"shard{index}"
        create_images(src, out, image_specs(("OR",)), shard=(index, 3), progress=False)
        seen.append({p.relative_to(out / "OR").as_posix() for p in (out / "OR").rglob("*.png")})
        assert (out / f"skipped-shard-{index}-of-3.csv").is_file()
    assert set().union(*seen) == set(names) and sum(map(len, seen)) == len(names)
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "x", "1/0"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)


def test_paths_limit_the_run_to_listed_files(write_images, tmp_path):
    src = write_images(FILES)
    out = tmp_path / "out"
    summary = create_images(src, out, image_specs(("OR",)), paths=[FILES[2], FILES[0], FILES[0]], progress=False)
    assert (summary.written, summary.existing) == (2, 0)
    written = sorted(p.relative_to(out / "OR").as_posix() for p in (out / "OR").rglob("*.*"))
    assert written == sorted([FILES[0], FILES[2]])


def test_bad_inputs_are_converted_or_skipped_with_reason(write_images, tmp_path):
    src = write_images(["good.png"])
    (src / "corrupt.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (src / "empty.png").write_bytes(b"")
    (src / "notes.txt").write_text("not an image extension: ignored")
    rng = np.random.default_rng(0)
    cv2.imwrite(str(src / "gray.png"), rng.integers(0, 255, (16, 16), dtype=np.uint8))
    cv2.imwrite(str(src / "rgba.png"), rng.integers(0, 255, (16, 16, 4), dtype=np.uint8))
    cv2.imwrite(str(src / "deep.png"), rng.integers(0, 65535, (16, 16, 3), dtype=np.uint16))
    cv2.imwrite(str(src / "tiny.png"), rng.integers(0, 255, (4, 9, 3), dtype=np.uint8))
    out = tmp_path / "out"
    summary = create_images(src, out, image_specs(("OR", "TK", "TK_diff"), rank=RANK), progress=False)
    assert (summary.written, summary.skipped) == (4, 3)
    rows = read_skipped(out / "skipped.csv")
    assert rows[0] == ["path", "reason"] and [r[0] for r in rows[1:]] == ["corrupt.jpg", "empty.png", "tiny.png"]
    reasons = dict(rows[1:])
    assert "not a decodable image" in reasons["corrupt.jpg"] and "empty file" in reasons["empty.png"]
    assert "smaller than the Tucker rank" in reasons["tiny.png"]
    for name in ("gray.png", "rgba.png", "deep.png"):  # converted: OR re-encoded as 8-bit RGB
        stored = cv2.imread(str(out / "OR" / name), cv2.IMREAD_UNCHANGED)
        assert stored.dtype == np.uint8 and stored.shape == (16, 16, 3)
        assert (out / "TK_diff" / name).is_file()
    again = create_images(src, out, image_specs(("OR", "TK", "TK_diff"), rank=RANK), progress=False)
    assert (again.written, again.existing, again.skipped) == (0, 4, 3)
    assert read_skipped(out / "skipped.csv") == rows  # rewritten, not appended
    (src / "corrupt.jpg").unlink()
    create_images(src, out, image_specs(("OR",), rank=RANK), progress=False)
    assert [r[0] for r in read_skipped(out / "skipped.csv")[1:]] == ["empty.png"]  # tiny is fine for OR alone


def test_size_and_format_options(write_images, tmp_path):
    src = write_images(["a.jpg"], size=(40, 24))
    out = tmp_path / "out"
    create_images(src, out, image_specs(("OR", "TK"), rank=RANK), size=20, image_format="png", progress=False)
    assert images.read_rgb(out / "OR" / "a.png").shape == (20, 20, 3)
    assert images.read_rgb(out / "TK" / "a.png").shape == (20, 20, 3)


def test_argument_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        create_images(tmp_path / "missing", tmp_path / "out", image_specs(), progress=False)
    with pytest.raises(ValueError, match="ImageSpecs"):
        create_images(tmp_path, tmp_path / "out", ["TK"], progress=False)
    with pytest.raises(ValueError, match="share a folder"):
        create_images(tmp_path, tmp_path / "out", image_specs(("TK",)) + image_specs(("TK",), rank=RANK),
                      progress=False)


def test_cli_resume_and_summary(write_images, tmp_path, capsys):
    src = write_images(FILES)
    out = tmp_path / "out"
    argv = ["images", str(src), str(out), "--rank", "6", "6", "3", "--workers", "1", "--quiet"]
    assert main(argv) == 0
    assert "3 written, 0 existing, 0 skipped" in capsys.readouterr().out
    first = all_files(out)
    assert main(argv) == 0
    assert "0 written, 3 existing, 0 skipped" in capsys.readouterr().out
    assert all_files(out) == first
    assert main(argv + ["--shard", "5/2"]) == 2
    assert "shard" in capsys.readouterr().err
    assert main(["images", str(tmp_path / "nowhere"), str(out)]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_cli_makes_any_registered_kind_with_its_parameters(write_images, tmp_path, capsys):
    src = write_images(FILES)
    out = tmp_path / "out"
    assert main(["images", str(src), str(out), "--kinds", "OR", "blur", "--param", "sigma=1.5", "--workers", "1",
                 "--quiet"]) == 0
    made = images.read_rgb(out / "blur" / FILES[0])
    assert np.array_equal(made, cv2.GaussianBlur(images.read_rgb(src / FILES[0]), (0, 0), 1.5,
                                                 borderType=cv2.BORDER_REFLECT_101))
    record = json.loads((out / "blur.provenance.json").read_text())["params"]
    assert record["sigma"] == 1.5 and record["implementation"] == f"opencv-{cv2.__version__}"
    assert main(["images", str(src), str(out), "--kinds", "OR", "--param", "sigma=1.5"]) == 2
    assert "none of the kinds ['OR'] has such a parameter" in capsys.readouterr().err
