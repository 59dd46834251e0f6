"""The rank sweep (tdfake.sweep, `tdfake sweep`): ranks checked, the figure's contents, and a tiny sweep end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_models import copy_study, remove_study, tiny_study_argv

from tdfake import layout
from tdfake.cli import main
from tdfake.config import Config
from tdfake.images import read_rgb
from tdfake.layout import read_sweep
from tdfake.plots import plot_sweep
from tdfake.sweep import SWEEP_COLUMNS, check_ranks, rank_root
from tdfake.tucker import tk_image


def test_ranks_are_checked_and_the_config_rank_lives_in_the_run_folder(tmp_path):
    assert check_ranks([30, 5, 5, 10]) == [5, 10, 30]
    for bad in ([0], [2.5], [], [True]):
        with pytest.raises(ValueError, match="--ranks"):
            check_ranks(bad)
    cfg = Config().override(out_dir=str(tmp_path))
    assert rank_root(cfg, 30) == tmp_path  # the study's own rank: `tdfake run`'s arms
    assert rank_root(cfg, 5) == tmp_path / "sweep" / "rank_5" == layout.sweep_dir(tmp_path) / "rank_5"
    assert read_sweep(tmp_path) is None  # no sweep yet


def test_sweep_figure_draws_each_arm_against_rank_and_the_baseline_band(tmp_path):
    table = pd.DataFrame([
        {"rank": None, "arm": "baseline", "auroc": 0.80, "auroc_ci_low": 0.70, "auroc_ci_high": 0.90,
         "n_bootstrap_units": 10, "bootstrap_unit": "group"},
        *({"rank": r, "arm": arm, "auroc": a, "auroc_ci_low": a - 0.1, "auroc_ci_high": a + 0.05}
          for arm, values in (("tk", (0.6, 0.7, 0.85)), ("tk_diff", (0.9, 0.8, 0.7)))
          for r, a in zip((5, 10, 30), values)),
    ])
    fig = plot_sweep(table, tmp_path / "sweep.png")
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    np.testing.assert_allclose(lines["TK"].get_xdata(), [5, 10, 30])
    np.testing.assert_allclose(lines["TK"].get_ydata(), [0.6, 0.7, 0.85])
    np.testing.assert_allclose(lines["TK_diff"].get_ydata(), [0.9, 0.8, 0.7])
    np.testing.assert_allclose(lines["baseline (OR) 0.800"].get_ydata(), [0.8, 0.8])
    band = next(p for p in ax.patches if p.get_label() == "baseline (OR) 95 % CI")
    assert (band.get_y(), band.get_y() + band.get_height()) == pytest.approx((0.70, 0.90))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["5", "10", "30"]
    assert "10 test groups" in ax.get_title()
    assert (tmp_path / "sweep.png").stat().st_size > 0


@pytest.mark.slow
def test_sweep_trains_new_ranks_on_the_shared_split_and_reuses_the_run(tiny_sweep, tmp_path, capsys):
    out = Path(tiny_sweep["overrides"]["out_dir"])  # `tdfake sweep --ranks 30 5` on a copy of the tiny study
    own = {arm: (out / arm / "best.keras").stat().st_mtime_ns for arm in ("baseline", "tk", "tk_diff")}
    assert own == tiny_sweep["before"]  # the run's arms reused, not retrained

    table = read_sweep(out)
    assert list(table.columns) == SWEEP_COLUMNS and "accuracy" not in SWEEP_COLUMNS
    assert table["arm"].tolist() == ["baseline", "tk", "tk_diff", "tk", "tk_diff"]
    assert [None if pd.isna(r) else int(r) for r in table["rank"]] == [None, 5, 5, 30, 30]
    assert table["seed"].eq(Config().seed).all()
    for _, row in table.iterrows():
        report = json.loads((Path(row["run_dir"]) / "report.json").read_text())
        assert row["auroc"] == pytest.approx(report["auroc"])
        assert row["threshold"] == pytest.approx(report["chosen"]["threshold"])
        assert row["accuracy_at_threshold"] == pytest.approx(report["chosen"]["metrics"]["accuracy"])
        assert row["accuracy_at_0.5"] == pytest.approx(report["at_study_threshold"]["accuracy"])
    assert Path(table.loc[3, "run_dir"]) == out / "tk"  # rank 30 is the run's own arm
    rank5 = layout.sweep_dir(out) / "rank_5"
    assert Path(table.loc[1, "run_dir"]) == rank5 / "tk"

    # each arm at rank 5 against the same arm at the config's rank 30, paired on the test rows
    compared = pd.read_csv(layout.sweep_dir(out) / layout.SWEEP_COMPARISONS_CSV)
    assert compared[["arm", "rank_a", "rank_b"]].values.tolist() == [["tk", 30, 5], ["tk_diff", 30, 5]]
    by = table.assign(rank=table["rank"].astype("Int64")).set_index(["arm", "rank"])["auroc"]
    for row in compared.itertuples():
        assert (row.auroc_a, row.auroc_b) == pytest.approx((by[(row.arm, 30)], by[(row.arm, 5)]))
        assert row.delta_auroc == pytest.approx(by[(row.arm, 5)] - by[(row.arm, 30)])
        assert row.delta_auroc_ci_low <= row.delta_auroc <= row.delta_auroc_ci_high and 0 <= row.p_auroc <= 1
        assert row.verdict_auroc in ("higher", "lower", "no detectable difference")

    # rank 5 trained on the run's own split, on TK images of rank [5, 5, 3]
    shared = pd.read_csv(out / "split.csv")
    for arm in ("tk", "tk_diff"):
        pd.testing.assert_frame_equal(pd.read_csv(rank5 / arm / "split.csv")[shared.columns], shared)
        params = json.loads((rank5 / arm / "training.provenance.json").read_text())["params"]
        assert params["rank"] == [5, 5, 3]
    first = shared.iloc[0]
    crop, saved = read_rgb(Path(first["root"]) / first["path"]), read_rgb(rank5 / "images" / "TK" / first["path"])
    off = {r: np.abs(saved.astype(float) - tk_image(crop, (r, r, 3), "fast")).mean() for r in (5, 30)}
    assert off[5] < 2 < off[30]  # rank 5's image, up to the JPEG the demo's format keeps
    assert (layout.sweep_dir(out) / layout.SWEEP_FIGURE).stat().st_size > 0

    # run again on a copy: everything finished is reused
    again = copy_study(tiny_sweep["overrides"], tmp_path / "again")
    try:
        copy = Path(again["out_dir"])
        stamps = {arm: (copy / "sweep" / "rank_5" / arm / "best.keras").stat().st_mtime_ns for arm in ("tk", "tk_diff")}
        capsys.readouterr()
        assert main(tiny_study_argv(again, "sweep") + ["--ranks", "30", "5"]) == 0
        assert {arm: (copy / "sweep" / "rank_5" / arm / "best.keras").stat().st_mtime_ns for arm in stamps} == stamps
        rerun = read_sweep(copy)
        assert rerun["run_dir"].tolist() == [d.replace(str(out), str(copy), 1) for d in table["run_dir"]]
        pd.testing.assert_frame_equal(rerun.drop(columns="run_dir"), table.drop(columns="run_dir"))
        printed = capsys.readouterr().out
        assert "[5, 5, 3]" in printed and "accuracy @val threshold [95% CI]" in printed
    finally:
        remove_study(again)
