"""Cached steps are reused only when made with the same parameters: split, images, reports (runs: test_train)."""

from __future__ import annotations

import json
import logging
import os

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import image_specs
from tiny_models import tiny_config, write_run

from tdfake import provenance
from tdfake.cli import main
from tdfake.config import Config
from tdfake.evaluate import load_or_make_report
from tdfake.image_creation import create_images
from tdfake.images import read_rgb
from tdfake.study import load_or_make_split

NAMES = [f"real/r{i:02d}.png" for i in range(10)] + [f"fake/f{i:02d}.png" for i in range(10)]


def test_a_record_compares_as_json_holds_it_numpy_tuples_and_nan_alike(tmp_path):
    path = tmp_path / "step.provenance.json"
    provenance.write_record(path, "step", {"n": np.int64(3), "rank": (5, 5, 3), "margin": float("nan"),
                                           "flag": np.bool_(True), "by_seed": {42: np.float32(0.5)}})
    assert json.loads(path.read_text())["params"] == {"n": 3, "rank": [5, 5, 3], "margin": None, "flag": True,
                                                      "by_seed": {"42": 0.5}}
    assert provenance.unchanged(path, {"n": 3, "rank": [5, 5, 3], "margin": np.nan, "flag": True,
                                       "by_seed": {"42": 0.5}})  # NaN equals NaN once both are null
    assert provenance.differences({"margin": None}, {"margin": 0.02}) == {"margin": (None, 0.02)}


def test_fingerprint_covers_names_sizes_and_times(tmp_path):
    files = [tmp_path / "a.png", tmp_path / "b.png"]
    for f in files:
        f.write_bytes(b"12345")
    first = provenance.file_fingerprint(files, root=tmp_path)
    assert first == provenance.file_fingerprint(reversed(files), root=tmp_path)  # order does not matter
    assert first["files"] == 2
    os.utime(files[0], ns=(1, 1))
    assert provenance.file_fingerprint(files, root=tmp_path) != first
    assert provenance.file_fingerprint(files[:1], root=tmp_path) != first


def test_record_names_version_commit_and_differences(tmp_path):
    path = provenance.record_path(tmp_path, "split")
    provenance.write_record(path, "split", {"rank": (30, 30, 3), "seed": 42})
    record = provenance.read_record(path)
    assert record["tdfake_version"] and "git_commit" in record and record["params"]["rank"] == [30, 30, 3]
    changed = provenance.differences(record["params"], {"rank": [5, 5, 3], "seed": 42})
    assert changed == {"rank": ([30, 30, 3], [5, 5, 3])}
    assert provenance.describe(changed) == "rank [30, 30, 3] -> [5, 5, 3]"


def _split_config(data, out, **kw):
    return Config().override(data_dir=str(data), layout="folders", per_class=None, out_dir=str(out),
                             train_fraction=0.6, val_fraction=0.2, test_fraction=0.2, workers=1, **kw)


def test_split_is_reused_when_unchanged_and_remade_when_settings_or_data_change(write_images, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="tdfake")
    data = write_images(NAMES, size=8)
    out = tmp_path / "run"
    first = load_or_make_split(_split_config(data, out), data)
    written = (out / "split.csv").stat().st_mtime_ns
    pd.testing.assert_frame_equal(load_or_make_split(_split_config(data, out), data), first)
    assert (out / "split.csv").stat().st_mtime_ns == written  # reused, not rewritten

    reseeded = load_or_make_split(_split_config(data, out, seed=7), data)
    assert "seed 42 -> 7" in caplog.text
    caplog.clear()
    assert not reseeded["split"].equals(first["split"])
    record = json.loads((out / "split.provenance.json").read_text())
    assert record["params"]["seed"] == 7 and record["params"]["manifest"]["rows"] == 20

    write_images(["real/r10.png"], size=8, root=data)  # new data: the split is made anew
    grown = load_or_make_split(_split_config(data, out, seed=7), data)
    assert "manifest" in caplog.text and len(grown) == 21


def test_images_refuse_other_parameters_unless_replacing(write_images, tmp_path):
    src = write_images(NAMES[:2], size=40)
    out = tmp_path / "out"
    create_images(src, out, image_specs(("OR", "TK"), rank=(30, 30, 3), method="fast"), progress=False)
    tk = out / "TK" / NAMES[0]
    made = tk.stat().st_mtime_ns
    again = create_images(src, out, image_specs(("OR", "TK"), rank=(30, 30, 3), method="fast"), progress=False)
    assert again.existing == 2 and tk.stat().st_mtime_ns == made  # same parameters: reused

    with pytest.raises(provenance.ProvenanceMismatch, match=r"rank \[30, 30, 3\] -> \[5, 5, 3\].*--force"):
        create_images(src, out, image_specs(("OR", "TK"), rank=(5, 5, 3), method="fast"), progress=False)
    assert tk.stat().st_mtime_ns == made  # nothing touched
    # OR does not depend on the rank, so its images stay; TK is cleared and made at rank 5
    summary = create_images(src, out, image_specs(("OR", "TK"), rank=(5, 5, 3), method="fast"), progress=False,
                            replace_changed=True)
    assert summary.written == 2
    from tdfake.tucker import tk_image

    np.testing.assert_array_equal(read_rgb(tk), tk_image(read_rgb(src / NAMES[0]), (5, 5, 3), "fast"))
    assert json.loads((out / "TK.provenance.json").read_text())["params"]["rank"] == [5, 5, 3]
    assert json.loads((out / "OR.provenance.json").read_text())["params"]["image_format"] is None


def test_images_of_another_tucker_implementation_are_made_anew(write_images, tmp_path, monkeypatch):
    """The record names what computed the images; a changed fast path (FAST_VERSION) does not reuse them."""
    from tdfake import tucker

    src = write_images(NAMES[:2], size=40)
    out = tmp_path / "out"
    create_images(src, out, image_specs(("OR", "TK"), rank=(30, 30, 3), method="fast"), progress=False)
    record = json.loads((out / "TK.provenance.json").read_text())["params"]
    assert record["implementation"] == f"fast-{tucker.FAST_VERSION}" == tucker.implementation("fast")
    assert "implementation" not in json.loads((out / "OR.provenance.json").read_text())["params"]
    assert tucker.implementation("tensorly").startswith("tensorly-")
    monkeypatch.setattr(tucker, "FAST_VERSION", tucker.FAST_VERSION + 1)
    with pytest.raises(provenance.ProvenanceMismatch, match=r"implementation fast-\d+ -> fast-\d+.*--force"):
        create_images(src, out, image_specs(("OR", "TK"), rank=(30, 30, 3), method="fast"), progress=False)


def test_images_cli_refuses_in_one_line_and_force_remakes(write_images, tmp_path, capsys):
    src = write_images(NAMES[:2], size=40)
    out = tmp_path / "out"
    base = ["images", str(src), str(out), "--kinds", "TK", "--quiet", "--workers", "1"]
    assert main(base + ["--rank", "30", "30", "3"]) == 0
    capsys.readouterr()
    assert main(base + ["--rank", "5", "5", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rank [30, 30, 3] -> [5, 5, 3]" in err and "--force" in err
    assert main(base + ["--rank", "5", "5", "3", "--force"]) == 0
    assert "2 written" in capsys.readouterr().out


def _report_run(tmp_path, write_images):
    """A baseline run folder with an untrained 2-layer model (no training), as `tdfake run` lays it out."""
    size = 16
    data = write_images(NAMES, size=size, root=tmp_path / "data")
    splits = ["train", "train", "val", "val", "test", "test", "train", "val", "test", "train"] * 2
    split = pd.DataFrame({"root": str(data), "path": NAMES, "label": [0] * 10 + [1] * 10,
                          "method": ["real"] * 10 + ["fake"] * 10, "video": NAMES, "group": NAMES, "split": splits})
    model = keras.Sequential([keras.Input((size, size, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    return write_run(tmp_path / "out", "baseline", split, tiny_config(image_size=size, batch_size=4), model=model)


def test_report_is_reused_until_checkpoint_or_threshold_change(tmp_path, write_images):
    run = _report_run(tmp_path, write_images)
    first = load_or_make_report(run)
    written = (run / "report.json").stat().st_mtime_ns
    assert load_or_make_report(run).auroc == first.auroc
    assert (run / "report.json").stat().st_mtime_ns == written  # reused

    cfg = Config.from_yaml(run / "config.yaml")
    cfg.override(threshold="youden").to_yaml(run / "config.yaml")
    assert load_or_make_report(run).chosen.method == "youden"  # a new threshold method: evaluated anew
    written = (run / "report.json").stat().st_mtime_ns

    keras.models.load_model(run / "best.keras").save(run / "best.keras")  # a new checkpoint
    load_or_make_report(run)
    assert (run / "report.json").stat().st_mtime_ns > written
