"""``tdfake graphs``: gather a finished study's tables and draw every figure into its graphs folder.

What is drawn depends on what the study folder holds (all read through :mod:`tdfake.layout`):

* every arm with a ``history.csv``: its training curves; the learning-rate schedule of the first;
* every evaluated arm: ROC curves, confusion matrices, the comparison bars (with the extra test sets);
* ``comparisons.csv`` (``tdfake run``): the forest plot of the paired comparisons;
* the split's first real and fake test crops as each arm sees them (the "Tucker example");
* ``sweep/sweep.csv`` and ``robustness/robustness.csv``: their figures;
* the finished arms: the Grad-CAM grid (this loads each arm's checkpoint, see :mod:`tdfake.explain`).

The figures of a several-seed study are those of the config's own seed (``OUT/<arm>/``); the
forest plot pools every seed.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from tdfake import layout, plots
from tdfake.config import Config
from tdfake.constants import LABEL_NAMES
from tdfake.datasets import read_manifest
from tdfake.explain import plot_explain_grid
from tdfake.images import read_rgb
from tdfake.metrics import Report
from tdfake.test_sets import load_set_reports


def draw_graphs(out_dir: os.PathLike | str, graphs_dir: os.PathLike | str | None = None,
                arms: Sequence[str] | None = None) -> dict[str, Path]:
    """Regenerate the standard figures of a ``tdfake run`` folder; returns name → file written.

    ``graphs_dir`` defaults to the config's ``graphs_dir``; ``arms`` to the study folder's
    (:func:`tdfake.layout.study_arms`).  Arms without a report are left out of the result figures.
    """
    out_dir = Path(out_dir)
    arms = layout.study_arms(out_dir) if arms is None else arms
    started = layout.started_arms(out_dir, arms)
    first, present = started[0], [run.name for run in started]
    cfg = Config.from_yaml(first / layout.CONFIG_FILE)
    graphs = Path(graphs_dir) if graphs_dir is not None else Path(cfg.graphs_dir)
    split = read_manifest(first / layout.SPLIT_FILE)
    written: dict[str, Path] = {}

    def save(name: str, figure_of: Callable[[Path], object], arm: str | None = None) -> None:
        target = graphs / plots.GRAPH_FILES[name].format(arm=arm)
        figure_of(target)
        written[name if arm is None else f"{name}_{arm}"] = target

    histories = {arm: _history(out_dir / arm) for arm in present}
    for arm, history in histories.items():
        if history is not None:
            save("history", functools.partial(plots.plot_history, history, arm), arm=arm)
    history = histories[first.name]
    if history is not None:
        steps = math.ceil(int((split["split"] == "train").sum()) / int(cfg.batch_size))
        save("learning_rate", lambda p: plots.plot_learning_rate(cfg, len(history) * steps + 1, history, steps, p))

    evaluated = layout.evaluated_arms(out_dir, arms)
    reports = {arm: Report.from_json(out_dir / arm / layout.REPORT_JSON) for arm in evaluated}
    if reports:
        save("roc", lambda p: plots.plot_roc(reports, p))
        save("confusion", lambda p: plots.plot_confusion(reports, "study", p))
        by_run = load_set_reports([out_dir / arm for arm in reports])
        test_sets = {name: {Path(run).name: report for run, report in runs.items()} for name, runs in by_run.items()}
        save("comparison", lambda p: plots.plot_comparison(reports, True, p, test_sets))
    comparisons_csv = out_dir / layout.COMPARISONS_CSV
    if comparisons_csv.is_file():
        comparisons = pd.read_csv(comparisons_csv)
        if len(comparisons):
            save("forest", lambda p: plots.plot_forest(comparisons, p))

    examples = _first_test_crops(split)
    if examples:
        specs = {arm: Config.from_yaml(out_dir / arm / layout.CONFIG_FILE).image_spec(arm) for arm in present}
        save("tucker", lambda p: plots.plot_arm_images(examples, specs, p))
    sweep = layout.read_sweep(out_dir)
    if sweep is not None:
        save("sweep", lambda p: plots.plot_sweep(sweep, p))
    robustness = layout.read_robustness(out_dir)
    if robustness is not None:
        save("robustness", lambda p: plots.plot_robustness(robustness, p))
    finished = [run.name for run in layout.finished_arms(out_dir, present)]
    if finished:
        save("explain", lambda p: plot_explain_grid(out_dir, p, arms=tuple(finished)))
    return written


def _history(run_dir: Path) -> pd.DataFrame | None:
    path = run_dir / layout.HISTORY_FILE
    return pd.read_csv(path) if path.is_file() and path.stat().st_size else None


def _first_test_crops(split: pd.DataFrame) -> dict:
    """The first real and the first fake crop of the test split (the Tucker example's images)."""
    test = split[split["split"] == "test"]
    examples = {}
    for label, name in LABEL_NAMES.items():
        rows = test[test["label"] == label]
        if len(rows):
            examples[name] = read_rgb(Path(rows.iloc[0]["root"]) / rows.iloc[0]["path"])
    return examples
