"""Grad-CAM (tdfake.explain, `tdfake explain`) against closed forms, on Xception and on a study folder.

The hand-weighted model is Conv2D(1, 1×1, ReLU) picking the red channel → global average pooling →
Dense(1, sigmoid) with a positive weight.  The gradient of P(fake) with respect to the conv output
is the same at every position, so the normalised Grad-CAM map of "fake" is red / max(red), and that
of "real" (the gradient's sign flipped) is zero.  Its score is :func:`tiny_models.expected_score`.
No training; the study folder's run folders are :func:`tiny_models.write_run`'s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tiny_models import SIZE, expected_score, face, face_split, red_conv_model, red_model, tiny_config, write_run

from tdfake import layout
from tdfake.arms import STUDY_ARMS
from tdfake.cli import main
from tdfake.config import Config
from tdfake.evaluate import evaluate_run
from tdfake.explain import grad_cam, label_from_path, plot_explain_grid, target_layer
from tdfake.images import read_rgb, write_rgb
from tdfake.layout import EXPLAIN_GRID
from tdfake.metrics import Report
from tdfake.model import build_xception
from tdfake.plots import DPI
from tdfake.transforms import spec


def test_grad_cam_of_the_red_model_is_the_red_channel_for_fake_and_zero_for_real():
    images = np.stack([face(red, seed) for seed, red in enumerate((0.2, 0.45, 0.6, 0.85))]
                      + [np.zeros((SIZE, SIZE, 3), np.uint8)])
    batch = images.astype(np.float32) / 255.0
    red = images[..., 0].astype(np.float64)
    peak = red.max(axis=(1, 2), keepdims=True)
    expected = np.divide(red, peak, out=np.zeros_like(red), where=peak > 0)
    model = red_conv_model()
    assert target_layer(model).name == "red"

    maps, scores = grad_cam(model, batch, target="fake")
    assert maps.shape == (5, SIZE, SIZE)
    np.testing.assert_allclose(maps, expected, atol=1e-6)
    np.testing.assert_allclose(scores, [expected_score(image) for image in images], atol=1e-6)
    assert not maps[-1].any()  # an all-zero map stays zero, no NaN

    maps, _ = grad_cam(model, batch, target="real")
    np.testing.assert_array_equal(maps, 0.0)

    threshold = 0.5
    maps, scores = grad_cam(model, batch, target="predicted", threshold=threshold)
    called_fake = scores >= threshold
    assert called_fake.any() and not called_fake.all()
    np.testing.assert_allclose(maps[called_fake], expected[called_fake], atol=1e-6)
    np.testing.assert_array_equal(maps[~called_fake], 0.0)

    with pytest.raises(ValueError, match="target must be one of predicted, fake, real"):
        grad_cam(model, batch, target="both")
    with pytest.raises(ValueError, match="no layer with a 4-D"):
        target_layer(red_model())


def test_xception_maps_come_from_its_last_block_at_its_spatial_size():
    model = build_xception(71, weights=None, head="avg")
    layer = target_layer(model)
    assert layer.name == "block14_sepconv2_act"
    batch = np.random.default_rng(0).random((2, 71, 71, 3), dtype=np.float32)
    maps, scores = grad_cam(model, batch, target="fake")
    assert maps.shape == (2, *layer.output.shape[1:3])
    assert np.isfinite(maps).all() and maps.min() >= 0.0 and maps.max() <= 1.0
    np.testing.assert_allclose(scores, model.predict(batch, verbose=0).reshape(-1), atol=1e-5)


def test_labels_come_from_real_and_fake_folders(tmp_path):
    assert label_from_path(tmp_path / "Fake" / "NeuralTextures" / "x.png") == "fake"
    assert label_from_path(tmp_path / "real" / "x.png") == "real"
    assert label_from_path(tmp_path / "photos" / "x.png") == ""


ARM_KINDS = {arm: entry["input"] for arm, entry in STUDY_ARMS.items()}  # baseline OR, tk TK, tk_diff TK_diff
KIND_RED = {"OR": 0.0, "TK": 0.1, "TK_diff": -0.15}  # each kind's images a little redder or greener


def _kind_image(kind: str, row) -> np.ndarray:
    """A stand-in for the arm's image of a row: the face with its red level shifted by the kind's."""
    label, i = int(row["label"]), int(row["path"][-6:-4])
    return face(float(row["red"]) + KIND_RED[kind], 100 * label + i)


@pytest.fixture
def study(tmp_path):
    """A `tdfake run` folder with three hand-weighted arms; 3 test images per class; baseline evaluated."""
    reds = (np.linspace(0.2, 0.6, 6), np.linspace(0.45, 0.85, 6))
    split = face_split(tmp_path / "data", reds, lambda i: ["train", "val", "test"][i % 3])
    split["red"] = np.concatenate(reds)  # an extra column the runs carry along (read by _kind_image)
    cfg = tiny_config(batch_size=4, rank=[8, 8, 3], tucker_method="fast")
    out = tmp_path / "out"
    for arm in ARM_KINDS:
        write_run(out, arm, split, cfg, model=red_conv_model(), image_of=_kind_image)
    evaluate_run(out / "baseline", n_bootstrap=0)
    return out


def test_explain_a_study_writes_each_arms_pngs_and_the_grid(study, capsys):
    assert main(["explain", str(study)]) == 0
    printed = capsys.readouterr().out
    threshold = Report.from_json(study / "baseline" / "report.json").chosen.threshold
    assert [layout.chosen_threshold(study / arm) for arm in ARM_KINDS] == [threshold, 0.5, 0.5]
    tables = {}
    for arm, kind in ARM_KINDS.items():
        assert f"{arm} ({kind}): Grad-CAM of 4 images" in printed
        table = pd.read_csv(study / "explain" / arm / "explain.csv", keep_default_na=False)
        assert table["label"].tolist() == ["real", "real", "fake", "fake"]
        for row in table.itertuples():
            rel = row.path.split("/data/")[1]
            assert row.score == pytest.approx(expected_score(study / "images" / kind / rel), abs=1e-5)
            cut = threshold if arm == "baseline" else 0.5  # only the baseline has a report.json
            assert row.decision == ("fake" if row.score >= cut else "real")
            png = read_rgb(row.png)
            assert png.shape == (round(3.9 * DPI), round(7 * DPI), 3) and png.std() > 0
            assert row.png == str(study / "explain" / arm / rel.replace("/", "__"))
        tables[arm] = table
    assert tables["baseline"]["path"].tolist() == tables["tk"]["path"].tolist() == tables["tk_diff"]["path"].tolist()

    fig = plot_explain_grid(study)  # the same seeded images, drawn again (as for graphs/)
    assert len(fig.axes) == 4 * 3
    top = [ax.get_title() for ax in fig.axes[:3]]
    assert [t.split(",")[0] for t in top] == ["baseline (OR)", "TK", "TK_diff"]
    assert [t.splitlines()[0].split(", ")[1] for t in top] == [f"threshold {threshold:.3f}"] + ["threshold 0.500"] * 2
    for ax, table in zip(fig.axes[:3], tables.values()):
        assert f"P(fake) {table['score'].iloc[0]:.3f} → {table['decision'].iloc[0]}" in ax.get_title()
    names = [ax.get_ylabel().splitlines() for ax in fig.axes[::3]]
    shown = tables["tk"]
    assert names == [[label, path.rsplit("/", 1)[1]] for label, path in zip(shown["label"], shown["path"])]
    grid = read_rgb(study / layout.EXPLAIN_DIR / EXPLAIN_GRID)
    width, height = fig.get_size_inches() * DPI
    assert grid.shape == (round(height), round(width), 3)

    assert main(["explain", str(study / "tk"), "--n-per-class", "1", "--target", "fake"]) == 0
    single = pd.read_csv(study / "tk" / "explain" / "tk" / "explain.csv")
    assert single["label"].tolist() == ["real", "fake"] and set(single["path"]) <= set(tables["tk"]["path"])


def test_explain_given_images_stages_them_and_lists_the_broken_one(study, tmp_path, capsys):
    mine = tmp_path / "mine"
    write_rgb(mine / "fake" / "b.png", face(0.8, 7))
    write_rgb(mine / "real" / "a.png", face(0.3, 8))
    (mine / "fake" / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "explained"
    assert main(["explain", str(study), str(mine), "-o", str(out)]) == 0
    for arm, kind in ARM_KINDS.items():
        table = pd.read_csv(out / arm / "explain.csv")
        assert table["path"].tolist() == [str(mine / "real" / "a.png"), str(mine / "fake" / "b.png")]
        assert table["label"].tolist() == ["real", "fake"]
        for row in table.itertuples():
            seen = spec(kind, defaults={"rank": (8, 8, 3), "tucker_method": "fast"}).apply(read_rgb(row.path))
            assert row.score == pytest.approx(expected_score(seen), abs=1e-5)
            assert read_rgb(row.png).shape == (round(3.9 * DPI), round(7 * DPI), 3)
        assert pd.read_csv(out / arm / "skipped.csv")["path"].tolist() == ["fake/broken.png"]
    assert (out / EXPLAIN_GRID).is_file()

    assert main(["explain", str(study / "baseline"), str(mine / "fake" / "broken.png"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "baseline: none of the 1 images could be used (broken.png: not a decodable" in err[0]


def test_explain_errors_are_one_line(tmp_path, capsys):
    assert main(["explain", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a run folder (no best.keras) nor a study folder holding arms" in err[0]
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / "best.keras").write_bytes(b"")
    assert main(["explain", str(tmp_path / "baseline")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{tmp_path / 'baseline' / 'config.yaml'}: missing" in err[0]


def test_the_arm_notebooks_show_the_arms_explanations(study, monkeypatch):
    from tdfake import notebook

    shown = []
    monkeypatch.setattr(notebook, "display", shown.append)
    cfg = Config.from_yaml(study / "tk" / "config.yaml")
    notebook.show_explanations(cfg, "tk")
    assert len(shown) == 4
    titles = [fig._suptitle.get_text() for fig in shown]
    assert all(t.startswith("TK: P(fake) ") for t in titles)
    assert [t.split("true ")[1].split(" ")[0] for t in titles] == ["real", "real", "fake", "fake"]
    with pytest.raises(ValueError, match="arm 'nope' is not one of"):
        notebook.show_explanations(cfg, "nope")
