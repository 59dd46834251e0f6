"""What the notebooks call, so each one is prose, one ``parameters`` cell and a few calls.

``setup`` replaces the set-up cell every notebook would otherwise repeat: find the project root
(notebooks run from ``notebooks/``, the CLI from the root, and both must share ``runs/``, ``data/``
and the figures), load the config, apply the notebook's overrides, and have Jupyter draw the package's figures
(``tdfake.plots`` and ``tdfake.describe`` return matplotlib ``Figure`` objects, which IPython
shows only as text until PNG display is switched on); ``show_config`` then says in two lines what
the notebook runs on.  The arm steps (``arm_data``, ``show_report`` (beside the study's published
table), ``show_curves``, ``show_explanations``) are the body of
``03_baseline``, ``04_tk`` and ``05_tk_diff``: those three notebooks make the same calls and differ
only in their ``arm`` parameter.  ``show_comparisons`` is the closing comparison of ``05_tk_diff``;
``sweep_ranks``, ``show_sweep`` and ``show_rank_examples`` are the body of ``06_rank_sweep``.  Every notebook ends
with a ``conclude_*`` call: a few sentences written from that notebook's own results, as Markdown.

Importing this module quiets TensorFlow's CUDA-probing start-up lines in the kernel, as the
``tdfake`` command does (:mod:`tdfake.tf_startup`), and shows the package's messages (its
``logging`` records, INFO and up) in the cell's output as plain lines (:func:`tdfake.console.show_messages`);
``logging.getLogger("tdfake").setLevel(logging.WARNING)`` keeps only the warnings.
"""

# ruff: noqa: E402  (tdfake.tf_startup must be installed before TensorFlow is first imported)
from __future__ import annotations

from pathlib import Path

import pandas as pd
from IPython import get_ipython
from IPython.display import Markdown, display
from matplotlib_inline.backend_inline import set_matplotlib_formats

from tdfake import console, tf_startup

tf_startup.install()  # before the imports below: several of them import TensorFlow
console.show_messages()

from tdfake import layout, plots
from tdfake.arms import study_results
from tdfake.config import Config
from tdfake.constants import OWN_TEST_SET
from tdfake.explain import explain_arm, plot_explanation, split_examples
from tdfake.graphs import draw_graphs
from tdfake.images import read_rgb
from tdfake.layout import load_run
from tdfake.metrics import Report, side_by_side, study_table, table_markdown
from tdfake.results import compare_arms, comparisons_markdown, results_table
from tdfake.split import split_summary
from tdfake.study import Prepared, data_folder, load_or_make_split, prepare
from tdfake.sweep import TUCKER_ARMS, run_sweep, sweep_markdown


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


def _shown(path: str | Path | None, root: Path | None = None) -> str:
    """``path`` as a reader of the notebook knows it: relative to the project root when it lies inside."""
    if path is None:
        return ""
    path = Path(path)
    try:
        root = project_root() if root is None else root
        return path.resolve().relative_to(root).as_posix()
    except (FileNotFoundError, ValueError):
        return str(path)


def show_config(cfg: Config, overrides: dict | None = None) -> None:
    """What the notebook runs on, in two lines (data, run folder, Tucker rank, training), instead of the Config repr."""
    if cfg.data_dir is not None:
        data = f"`{_shown(cfg.data_dir)}`"
    else:
        data = (f"the built-in demo dataset (`{_shown(cfg.demo_dir)}`, {cfg.demo_n_per_class} real + "
                f"{cfg.demo_n_per_class} fake crops of {cfg.demo_size} px)")
    seeds = layout.training_seeds(cfg)
    weights = "from scratch" if cfg.weights is None else f"from {cfg.weights} weights"
    changed = ", ".join(f"`{key}={value!r}`" for key, value in (overrides or {}).items()) or "none"
    display(Markdown(
        f"Config **{cfg.name}**: data {data}; run folder `{_shown(cfg.out_dir)}`; Tucker rank {list(cfg.rank)} "
        f"({cfg.tucker_method}); {cfg.backbone} {weights} at {cfg.image_size} px, {cfg.epochs} "
        f"epoch{'s' if cfg.epochs != 1 else ''} of batch {cfg.batch_size}; split seed {cfg.seed}, "
        f"training seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}.  \n"
        f"Overrides of the config file: {changed}."
    ))


def _check_arm(cfg: Config, arm: str) -> None:
    if arm not in cfg.arms:
        raise ValueError(f"arm {arm!r} is not one of the config's arms ({', '.join(cfg.arms)}); set `arm` in the "
                         "parameters cell, or add the arm to the config's `arms:`")


def _interval(value: float, ci) -> str:
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


# --------------------------------------------------------------------------- 01 and 02

def conclude_data(cfg: Config, manifest: pd.DataFrame, sizes: pd.DataFrame, errors: pd.DataFrame) -> None:
    """01's conclusion: how many images of each class, their sizes, and what the config's Tucker rank keeps of each.

    ``sizes`` is :func:`tdfake.describe.image_sizes`, ``errors`` :func:`tdfake.describe.tucker_error_vs_rank`;
    the error is read at the config's rank, or at the nearest rank the table holds.
    """
    counts = manifest.groupby("label").agg(images=("path", "size"), videos=("video", "nunique"))
    n = {label: counts.loc[label] if label in counts.index else None for label in (0, 1)}
    shapes = sorted({f"{h} × {w}" for h, w in zip(sizes["height"], sizes["width"])})
    text = [f"**Conclusion.** The data holds {len(manifest)} crops: "
            + ", ".join(f"{int(c.images)} {name} from {int(c.videos)} videos"
                        for name, c in (("real", n[0]), ("fake", n[1])) if c is not None)
            + f", in {manifest['group'].nunique()} groups; "
            + (f"every crop read is {shapes[0]} px." if len(shapes) == 1 else
               f"the crops read come in {len(shapes)} sizes ({', '.join(shapes[:4])}"
               f"{', ...' if len(shapes) > 4 else ''}).")]
    ranks = sorted(set(errors["rank"]))
    if ranks:
        r = min(ranks, key=lambda value: (abs(value - int(cfg.rank[0])), value))
        at = errors[errors["rank"] == r].set_index("class")
        if {"real", "fake"} <= set(at.index):
            real, fake = at.loc["real"], at.loc["fake"]
            gap = fake["rel_error"] - real["rel_error"]
            spread = max(real["rel_error_std"], fake["rel_error_std"])
            rank_note = "the config's rank" if r == int(cfg.rank[0]) else f"the rank nearest the config's {cfg.rank[0]}"
            text.append(
                f"At rank [{r}, {r}, {cfg.rank[2]}] ({rank_note}) the Tucker reconstruction misses "
                f"{real['rel_error']:.1%} of a real crop and {fake['rel_error']:.1%} of a fake one (relative error; "
                f"PSNR {real['psnr']:.1f} and {fake['psnr']:.1f} dB): "
                + (f"the gap between the classes ({gap:+.2%}) is smaller than the spread within a class "
                   f"(sd up to {spread:.1%}), so the reconstruction error alone does not separate them; whatever the "
                   "TK and TK_diff arms learn has to come from where the error lies, not from how large it is."
                   if abs(gap) < spread else
                   f"fakes are {'less' if gap > 0 else 'more'} low-rank than reals by more than the spread within a "
                   f"class (sd up to {spread:.1%}), a difference the TK_diff arm can see.")
            )
    display(Markdown(" ".join(text)))


def conclude_images(reference: pd.DataFrame, counts: dict[str, int], n_rows: int) -> None:
    """02's conclusion: the fast path against tensorly on the reference images, and the trees written."""
    fast, tensorly = reference["fast"], reference["tensorly"]
    better = int((fast <= tensorly + 1e-9).sum())
    written = ", ".join(f"{kind} {count}" for kind, count in counts.items())
    complete = all(count >= n_rows for count in counts.values())
    display(Markdown(
        f"**Conclusion.** On {len(reference)} crops the fast path's mean relative error is {fast.mean():.4f} against "
        f"tensorly's {tensorly.mean():.4f} (largest difference {(fast - tensorly).abs().max():.4f}; fast at least as "
        f"good on {better} of {len(reference)}), so the TK images follow the study's decomposition. The trees hold "
        f"{written} images for the split's {n_rows} usable rows"
        + ("." if complete else "; some are missing, see `images/skipped.csv`.")
    ))


# --------------------------------------------------------------------------- 03, 04 and 05

def arm_data(cfg: Config, arm: str) -> Prepared:
    """The split all arms share and this arm's images, made on first use and reused after; shows the split."""
    _check_arm(cfg, arm)
    prepared = prepare(cfg, [arm])
    display(split_summary(prepared.split))
    return prepared


def show_report(cfg: Config, arm: str, report: Report) -> None:
    """The arm's test report as Markdown, its study-shaped table beside the study's published one for the arm
    (when the study had the arm)."""
    text = report.to_markdown(title=f"{arm} ({cfg.image_spec(arm).folder}) on the test split")
    if study_results(arm) is not None:
        own = table_markdown(report.table)
        text = text.replace(own, table_markdown(side_by_side({"ours": report.table, "study": study_table(arm)})), 1)
    display(Markdown(text))


def conclude_arm(cfg: Config, arm: str, report: Report) -> None:
    """03–05's conclusion: the arm's AUROC and accuracy with their intervals, and the study's AUROC against them
    (when the study had the arm)."""
    low, high = report.ci["auroc"]
    chosen = report.chosen
    text = (f"**Conclusion.** On {report.n_real} real and {report.n_fake} fake test crops, `{arm}` "
            f"({cfg.image_spec(arm).folder}) reaches AUROC {_interval(report.auroc, report.ci['auroc'])} and accuracy "
            f"{_interval(chosen.metrics.accuracy, report.ci['accuracy_at_chosen'])} at the threshold chosen on "
            f"{chosen.source} ({chosen.threshold:.3f}); {report.accuracy:.3f} at the study's fixed 0.5. The 95 % "
            f"intervals resample {report.ci_basis()}.")
    published = study_results(arm)
    if published is not None:
        study = published["auroc"]
        where = "inside" if low <= study <= high else ("above" if study > high else "below")
        text += (f" The study's published AUROC for this arm, {study:.3f} on other data (FaceForensics++ c40), lies "
                 f"{where} this interval.")
    if high - low > 0.1:
        text += (f" The interval is {high - low:.2f} wide: too wide to rank the arms from their own reports; the "
                 "paired test on the same test rows (end of 05, or `tdfake compare`) is the one to read.")
    display(Markdown(text))


def show_curves(cfg: Config, arm: str, report: Report) -> None:
    """Training curves, the test ROC and the confusion matrices of one arm."""
    history = pd.read_csv(Path(cfg.out_dir) / arm / layout.HISTORY_FILE)
    display(plots.plot_history(history, arm))
    display(plots.plot_roc({arm: report}))
    display(plots.plot_confusion({arm: report}))


def show_explanations(cfg: Config, arm: str, n_per_class: int = 2) -> None:
    """Grad-CAM of ``n_per_class`` real and fake test images, over the image the arm sees (:mod:`tdfake.explain`)."""
    _check_arm(cfg, arm)
    run = load_run(Path(cfg.out_dir) / arm)
    explanation = explain_arm(run, split_examples([run], n_per_class))
    for index in range(len(explanation.table)):
        display(plot_explanation(explanation, index))


def _arms_markdown(cfg: Config, reports: dict[str, Report]) -> str:
    table = results_table(reports, cfg)
    return pd.DataFrame({
        "input": table["images"],
        "AUROC [95% CI]": [_interval(r.auroc, r.ci["auroc"]) for r in reports.values()],
        "accuracy @val threshold [95% CI]": [_interval(r.chosen.metrics.accuracy, r.ci["accuracy_at_chosen"])
                                             for r in reports.values()],
        "accuracy @0.5 [95% CI]": [_interval(r.accuracy, r.ci["accuracy"]) for r in reports.values()],
        "study AUROC": table["study_auroc"].map(_published),
        "study accuracy @0.5": table["study_accuracy_at_0.5"].map(_published),
    }, index=table.index).to_markdown(disable_numparse=True)


def _published(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.3f}"


def show_comparisons(cfg: Config) -> pd.DataFrame:
    """Every evaluated arm side by side (table, figure, paired tests on the same test rows); the run's figures
    written to ``cfg.graphs_dir``.  Returns the paired comparisons (:func:`tdfake.results.compare_arms`)."""
    arms = layout.evaluated_arms(cfg.out_dir, cfg.arms)
    if not arms:
        raise FileNotFoundError(f"{cfg.out_dir}: no finished arm (no <arm>/report.json); run 03, 04 or 05 first")
    reports = {arm: Report.from_json(Path(cfg.out_dir) / arm / layout.REPORT_JSON) for arm in arms}
    display(Markdown(_arms_markdown(cfg, reports)))
    display(plots.plot_comparison(reports))
    comparisons = compare_arms({arm: [Path(cfg.out_dir) / arm] for arm in arms}, [OWN_TEST_SET],
                               cfg.comparison_specs(), seed=cfg.seed)
    if len(comparisons):
        display(Markdown(comparisons_markdown(comparisons)))
    written = draw_graphs(cfg.out_dir, cfg.graphs_dir)
    print(f"{len(written)} figures written to {_shown(cfg.graphs_dir)}/")
    return comparisons


def conclude_comparison(cfg: Config, comparisons: pd.DataFrame) -> None:
    """05's conclusion: the best arm by AUROC and what the paired tests say about each pair of arms."""
    arms = layout.evaluated_arms(cfg.out_dir, cfg.arms)
    reports = {arm: Report.from_json(Path(cfg.out_dir) / arm / layout.REPORT_JSON) for arm in arms}
    best = max(reports, key=lambda arm: reports[arm].auroc)
    text = [f"**Conclusion.** {len(arms)} arm{'s' if len(arms) > 1 else ''} finished "
            f"({', '.join(f'`{a}`' for a in arms)}); the highest test AUROC is `{best}`'s, "
            f"{_interval(reports[best].auroc, reports[best].ci['auroc'])}."]
    if not len(comparisons):
        text.append("No pair of arms to test: run 03 and 04 (or `tdfake run`) for the paired comparison.")
    for row in comparisons.itertuples():
        text.append(f"`{row.arm_b}` against `{row.arm_a}`: ΔAUROC {row.delta_auroc:+.3f} "
                    f"[{row.delta_auroc_ci_low:+.3f}, {row.delta_auroc_ci_high:+.3f}], {row.verdict_auroc}"
                    + ("" if row.non_inferior is None or pd.isna(row.non_inferior) else
                       f" ({'non-inferior' if row.non_inferior else 'non-inferiority not shown'} at margin "
                       f"{row.margin:.2f})") + ".")
    if len(comparisons) and not (comparisons["verdict_auroc"] != "no detectable difference").any():
        text.append(f"On {int(comparisons['n_groups'].iloc[0])} test groups no difference between arms is "
                    "detectable; a larger test set (or more training seeds) is needed to tell them apart.")
    display(Markdown(" ".join(text)))


# --------------------------------------------------------------------------- 06

def sweep_ranks(cfg: Config, ranks, with_own_rank: bool = True) -> list[int]:
    """``ranks``, sorted, and the config's own rank r when ``with_own_rank`` and its ``tk`` and ``tk_diff`` arms
    have already finished (after `tdfake run` or notebooks 04 and 05): reused, so it costs no training."""
    chosen = sorted({int(r) for r in ranks})
    own = int(cfg.rank[0])
    if with_own_rank and own not in chosen and layout.evaluated_arms(cfg.out_dir, TUCKER_ARMS) == list(TUCKER_ARMS):
        chosen = sorted([*chosen, own])
    return chosen


def show_sweep(cfg: Config, ranks) -> pd.DataFrame:
    """Train (or reuse) the rank sweep of :mod:`tdfake.sweep`; show its table and figure; return the table."""
    table = run_sweep(cfg, ranks)
    display(Markdown(sweep_markdown(table)))
    display(plots.plot_sweep(table))
    return table


def show_rank_examples(cfg: Config, ranks) -> None:
    """The first fake test crop of the run's split at every rank (see :func:`tdfake.plots.plot_rank_examples`).

    The split is the run's own (``split.csv``), made here, with the data, when nothing has made it yet.
    """
    split = load_or_make_split(cfg, data_folder(cfg))
    row = split[(split["split"] == "test") & (split["label"] == 1)].iloc[0]
    image = read_rgb(Path(row["root"]) / row["path"])
    display(plots.plot_rank_examples(image, sorted(ranks), cfg.tucker_method, int(cfg.rank[2])))


def conclude_sweep(cfg: Config, table: pd.DataFrame) -> None:
    """06's conclusion: each Tucker arm's AUROC from the lowest to the highest rank, against the baseline's interval,
    and the paired tests against the config's own rank (``sweep_comparisons.csv``) when it was swept."""
    seed = cfg.seed if cfg.seed in set(table["seed"]) else table["seed"].iloc[0]
    rows = table[table["seed"] == seed]
    base = rows[rows["arm"] == "baseline"].iloc[0]
    baseline = _interval(base.auroc, (base.auroc_ci_low, base.auroc_ci_high))
    text = [f"**Conclusion.** The baseline reaches AUROC {baseline}."]
    for arm in ("tk", "tk_diff"):
        at = rows[rows["arm"] == arm].sort_values("rank")
        if at.empty:
            continue
        inside = int(((at["auroc"] >= base.auroc_ci_low) & (at["auroc"] <= base.auroc_ci_high)).sum())
        best = at.loc[at["auroc"].idxmax()]
        trace = ", ".join(f"{a:.3f} at r={int(r)}" for r, a in zip(at["rank"], at["auroc"]))
        text.append(f"`{arm}` ({at['kind'].iloc[0]}): {trace}; highest at r={int(best['rank'])}; {inside} of {len(at)} "
                    "within the baseline's interval.")
    comparisons = layout.sweep_dir(cfg.out_dir) / layout.SWEEP_COMPARISONS_CSV
    paired = pd.read_csv(comparisons) if comparisons.is_file() and comparisons.stat().st_size > 1 else pd.DataFrame()
    swept = set(int(r) for r in table["rank"].dropna())
    paired = paired[paired["rank_b"].isin(swept)] if len(paired) else paired
    for row in paired.itertuples():
        text.append(f"Paired against rank {int(row.rank_a)}, `{row.arm}` at r={int(row.rank_b)}: ΔAUROC "
                    f"{row.delta_auroc:+.3f} [{row.delta_auroc_ci_low:+.3f}, {row.delta_auroc_ci_high:+.3f}], "
                    f"{row.verdict_auroc}.")
    seeds = table["seed"].nunique()
    text.append(f"{'One training seed' if seeds == 1 else f'{seeds} training seeds'} per rank and "
                f"{int(base.n_bootstrap_units)} test groups: steps between neighbouring ranks that stay inside each "
                "other's intervals are not evidence of a trend.")
    display(Markdown(" ".join(text)))
