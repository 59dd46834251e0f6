"""What the notebooks call, so each one is prose, one ``parameters`` cell and a few calls.

``setup`` replaces the set-up cell every notebook would otherwise repeat: find the project root
(notebooks run from ``notebooks/``, the CLI from the root, and both must share ``runs/``, ``data/``
and the figures), load the config, apply the notebook's overrides, and have Jupyter draw the package's figures
(``tdfake.plots`` and ``tdfake.describe`` return matplotlib ``Figure`` objects, which IPython
shows only as text until PNG display is switched on).  The arm steps (``arm_data``,
``show_report``, ``beside_study``, ``show_curves``, ``show_explanations``) are the body of
``03_baseline``, ``04_tk`` and ``05_tk_diff``: those three notebooks make the same calls and differ
only in their ``arm`` parameter.  ``compare_arms`` is the closing comparison of ``05_tk_diff``;
``show_sweep`` and ``show_rank_examples`` are the body of ``06_rank_sweep``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from IPython import get_ipython
from IPython.display import Markdown, display
from matplotlib_inline.backend_inline import set_matplotlib_formats

from tdfake import layout, plots
from tdfake.config import ARMS, Config
from tdfake.datasets import read_manifest
from tdfake.explain import explain_arm, plot_explanation, split_examples
from tdfake.graphs import draw_graphs
from tdfake.images import read_rgb
from tdfake.layout import load_run
from tdfake.metrics import Report, side_by_side, study_table
from tdfake.results import results_table
from tdfake.split import split_summary
from tdfake.study import Prepared, prepare
from tdfake.sweep import run_sweep, sweep_markdown


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding the project.

    The project is recognised by its ``pyproject.toml`` and ``configs/`` folder.
    """
    start = Path.cwd() if start is None else Path(start)
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / "pyproject.toml").is_file() and (folder / "configs").is_dir():
            return folder
    raise FileNotFoundError(
        f"{start}: no tdfake project (pyproject.toml and configs/) here or above; start Jupyter inside the "
        "project, or pass root= to tdfake.notebook.setup"
    )


def setup(config: str | Path = "configs/demo.yaml", root: str | Path | None = None, **overrides) -> Config:
    """The notebook's config: ``config`` (relative to the project root) with ``overrides``, folders rooted there.

    ``overrides`` are any :class:`~tdfake.config.Config` fields (``data_dir``, ``epochs``, ...);
    relative folders in them are taken from the project root too, like the CLI's from the shell's.
    """
    if get_ipython() is not None:  # inside Jupyter / IPython: show returned figures as images
        set_matplotlib_formats("png")
    root = project_root() if root is None else Path(root)
    return Config.from_yaml(root / config).override(**overrides).rooted(root)


def _check_arm(arm: str) -> None:
    if arm not in ARMS:
        raise ValueError(f"arm {arm!r} is not one of {', '.join(ARMS)}; set `arm` in the parameters cell")


def arm_data(cfg: Config, arm: str) -> Prepared:
    """The split all arms share and this arm's images, made on first use and reused after; shows the split."""
    _check_arm(arm)
    prepared = prepare(cfg, kinds=[ARMS[arm]])
    display(split_summary(prepared.split))
    return prepared


def show_report(report: Report, arm: str) -> None:
    """The arm's test report (study-shaped table, threshold chosen on validation, intervals) as Markdown."""
    display(Markdown(report.to_markdown(title=f"{arm} ({ARMS[arm]}) on the test split")))


def beside_study(report: Report, arm: str) -> pd.DataFrame:
    """This run's table next to the study's published one for the same arm."""
    return side_by_side({"ours": report.table, "study": study_table(arm)})


def show_curves(cfg: Config, arm: str, report: Report) -> None:
    """Training curves, the test ROC and the confusion matrices of one arm."""
    history = pd.read_csv(Path(cfg.out_dir) / arm / layout.HISTORY_FILE)
    display(plots.plot_history(history, arm))
    display(plots.plot_roc({arm: report}))
    display(plots.plot_confusion({arm: report}))


def show_explanations(cfg: Config, arm: str, n_per_class: int = 2) -> None:
    """Grad-CAM of ``n_per_class`` real and fake test images, over the image the arm sees (:mod:`tdfake.explain`)."""
    _check_arm(arm)
    run = load_run(Path(cfg.out_dir) / arm)
    explanation = explain_arm(run, split_examples([run], n_per_class))
    for index in range(len(explanation.table)):
        display(plot_explanation(explanation, index))


def compare_arms(cfg: Config) -> None:
    """Every evaluated arm side by side (table and figure), and the run's figures written to ``cfg.graphs_dir``."""
    arms = layout.evaluated_arms(cfg.out_dir)
    if not arms:
        raise FileNotFoundError(f"{cfg.out_dir}: no finished arm (no <arm>/report.json); run 03, 04 or 05 first")
    reports = {arm: Report.from_json(Path(cfg.out_dir) / arm / layout.REPORT_JSON) for arm in arms}
    display(results_table(reports))
    display(plots.plot_comparison(reports))
    written = draw_graphs(cfg.out_dir, cfg.graphs_dir)
    print(f"{len(written)} figures written to {cfg.graphs_dir}: {', '.join(p.name for p in written.values())}")


def show_sweep(cfg: Config, ranks) -> pd.DataFrame:
    """Train (or reuse) the rank sweep of :mod:`tdfake.sweep`; show its table and figure; return the table."""
    table = run_sweep(cfg, ranks)
    display(Markdown(sweep_markdown(table)))
    display(plots.plot_sweep(table))
    return table


def show_rank_examples(cfg: Config, ranks) -> None:
    """The first fake test crop of the run's split at every rank (see :func:`tdfake.plots.plot_rank_examples`)."""
    split = read_manifest(Path(cfg.out_dir) / layout.SPLIT_FILE)
    row = split[(split["split"] == "test") & (split["label"] == 1)].iloc[0]
    image = read_rgb(Path(row["root"]) / row["path"])
    display(plots.plot_rank_examples(image, sorted(ranks), cfg.tucker_method, int(cfg.rank[2])))
