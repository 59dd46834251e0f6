"""tools/tucker_equivalence.py: trained TK runs scored on fast-made test images against their tensorly-made ones.

Two `tk` runs (training seeds 42 and 43, the hand-weighted red model of tests/tiny_models.py) of a
study whose images are tensorly's, scored on a test set as `tdfake run` scores its extra sets; the
tool then scores them on the same rows made by the fast path and compares, seeds random.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from tiny_models import face_split, tiny_config, write_run

from tdfake import layout, report
from tdfake.test_sets import evaluate_on_set, set_manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import tucker_equivalence  # noqa: E402

SPLITS = ["train", "val", "test", "train", "val", "test", "val", "train"]


@pytest.fixture
def study(tmp_path):
    out = tmp_path / "study"
    split = face_split(out / "data", (np.linspace(0.3, 0.55, len(SPLITS)), np.linspace(0.45, 0.7, len(SPLITS))),
                       SPLITS)
    test = face_split(tmp_path / "held_apart", (np.linspace(0.3, 0.6, 12), np.linspace(0.4, 0.7, 12)), ["test"] * 12)
    cfg = tiny_config(tucker_method="tensorly")
    runs = [write_run(out, "tk", split, cfg, evaluate=True),
            write_run(out, "tk", split, cfg.override(seed=43), evaluate=True, run_dir=out / "seed_43" / "tk")]
    rows = set_manifest(out, "dfdc_test", test["root"].iloc[0])
    for run_dir in runs:
        evaluate_on_set(run_dir, "dfdc_test", rows, out, n_bootstrap=0)
    return out, runs


def test_fast_images_are_scored_once_and_compared_with_seeds_random(study, tmp_path, capsys):
    out, runs = study
    assert tucker_equivalence.main(["score", str(out)]) == 0
    fast_folder = layout.test_set_dir(out, "dfdc_test") / layout.IMAGES_DIR / "TK_method-fast"
    assert len(list(fast_folder.rglob("*.png"))) == 24
    assert tucker_equivalence.main(["score", str(out)]) == 0  # a second call finds both runs done
    assert capsys.readouterr().out.count("already scored") == 2

    csv = tmp_path / "equivalence.csv"
    assert tucker_equivalence.main(["compare", str(out), "-o", str(csv)]) == 0
    row = pd.read_csv(csv).iloc[0]
    deltas = []
    for run_dir in runs:  # Δ is the mean over seeds of AUROC(fast) − AUROC(tensorly) on the same rows
        own = layout.test_predictions(run_dir, "dfdc_test").sort_values("path")
        fast = pd.read_csv(run_dir / "tucker_equivalence" / "dfdc_test" / "predictions.csv").sort_values("path")
        assert list(own["path"]) == list(fast["path"]) and len(own) == 24
        deltas.append(roc_auc_score(fast["label"], fast["score"]) - roc_auc_score(own["label"], own["score"]))
    assert row["delta_auroc"] == pytest.approx(np.mean(deltas))
    assert row["seeds"] == "42 43" and row["n_rows"] == 24 and row["ci_low"] <= row["delta_auroc"] <= row["ci_high"]
    assert row["equivalent"] == (-0.005 < row["ci_low"] and row["ci_high"] < 0.005)


def test_the_check_becomes_a_block_of_the_study_s_page(study, tmp_path):
    """`compare` writes OUT/tucker_equivalence.csv by default; `tdfake report` shows it on the page with its verdict."""
    out, _ = study
    assert tucker_equivalence.main(["score", str(out)]) == 0
    assert tucker_equivalence.main(["compare", str(out)]) == 0
    row = pd.read_csv(out / "tucker_equivalence.csv").iloc[0]
    fixture = Path(__file__).resolve().parent / "data" / "report" / "demo_tiny"
    folder = tmp_path / "page_sources"
    shutil.copytree(fixture, folder)
    shutil.copy(out / "tucker_equivalence.csv", folder)
    text = report.write_page(folder, tmp_path / "page.md").read_text()
    assert "## The fast Tucker path against tensorly's" in text
    verdict = "inference-equivalent" if row["equivalent"] else "equivalence not shown"
    interval = f"{row['delta_auroc']:+.4f} [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}] (df {row['df']:.0f})"
    assert f"| {interval} | ±0.005 | {verdict} |" in text
