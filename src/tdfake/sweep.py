"""Detection against Tucker rank: the TK and TK_diff arms retrained at ranks [r, r, 3] on one split.

Each rank is the config with its ``tk`` and ``tk_diff`` arms (``{input: TK}``, ``{input: TK_diff}``
unless the config says otherwise) given that rank, so their images are made and their runs
fingerprinted as any arm's (:mod:`tdfake.transforms`, :mod:`tdfake.train`).

The study tried one rank, [30, 30, 3].  A lower rank keeps less of the face in ``TK`` and
leaves more of it in ``TK_diff``; a sweep shows where each arm's detection comes from.  Every
rank trains ``tk`` and ``tk_diff`` with the config's settings on the *same* split (the one in
``cfg.out_dir``); the baseline is trained once, as the reference every rank is read against.

Layout under ``cfg.out_dir`` (beside a ``tdfake run`` of the same config, whose steps it reuses)::

    split.csv  images/OR/  baseline/      the run's own split, OR images and baseline arm
    images/TK/  tk/  tk_diff/             the config's own rank: the run's arms, reused as they are
    sweep/rank_<r>/images/TK|TK_diff/     every other rank's images ...
    sweep/rank_<r>/tk/  sweep/rank_<r>/tk_diff/   ... and its two arms (other training seeds: rank_<r>/seed_<s>/)
    sweep/sweep.csv  sweep/sweep.png      one row per (rank, arm, training seed), and AUROC against rank
    sweep/sweep_comparisons.csv           each rank's arm against the same arm at the config's rank, paired

With several training seeds (``seeds``) every arm is trained once per seed, and the paired
comparison pools the seeds as :mod:`tdfake.results` does.

Every step is reused while its provenance record matches (see :mod:`tdfake.study`), so an
interrupted sweep resumes and a larger list of ranks trains only the new ones.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from tdfake import layout
from tdfake.arms import STUDY_ARMS
from tdfake.config import Config
from tdfake.constants import OWN_TEST_SET
from tdfake.plots import plot_sweep
from tdfake.results import compare_scored, scored_rows
from tdfake.study import Prepared, make_arm_images, prepare, run_arm

logger = logging.getLogger(__name__)

TUCKER_ARMS = ("tk", "tk_diff")
SWEEP_COLUMNS = ["rank", "arm", "kind", "seed", "auroc", "auroc_ci_low", "auroc_ci_high", "accuracy_at_threshold",
                 "accuracy_at_threshold_ci_low", "accuracy_at_threshold_ci_high", "threshold", "accuracy_at_0.5",
                 "accuracy_at_0.5_ci_low", "accuracy_at_0.5_ci_high", "n_real", "n_fake", "n_bootstrap_units",
                 "bootstrap_unit", "run_dir"]
"""sweep.csv's columns; ``rank`` is empty on the baseline's row (it has no Tucker step)."""


def rank_of(cfg: Config, r: int) -> list[int]:
    """The config's rank with height and width set to ``r`` (the channel rank is kept: 3 in the study)."""
    return [int(r), int(r), int(cfg.rank[2])]


def rank_config(cfg: Config, r: int) -> Config:
    """``cfg`` at rank r: the Tucker rank and the ``tk`` / ``tk_diff`` arms' rank set to :func:`rank_of`.

    The arms keep their other settings (added as the study's when the config has no such arm).
    """
    rank = rank_of(cfg, r)
    arms = {**cfg.arms, **{arm: {**cfg.arms.get(arm, STUDY_ARMS[arm]), "rank": rank} for arm in TUCKER_ARMS}}
    return cfg.override(rank=rank, arms=arms)


def rank_root(cfg: Config, r: int) -> Path:
    """Folder holding rank ``r``'s images and arms: ``out_dir`` itself for the config's own rank."""
    return Path(cfg.out_dir) if rank_of(cfg, r) == list(cfg.rank) else layout.sweep_dir(cfg.out_dir) / f"rank_{int(r)}"


def check_ranks(ranks) -> list[int]:
    """The ranks as sorted distinct positive integers; a clear error otherwise."""
    values = []
    for r in ranks:
        if isinstance(r, bool) or not float(r).is_integer() or int(r) < 1:
            raise ValueError(f"--ranks: {r!r} is not a positive integer; give ranks such as 5 10 20 30 60")
        values.append(int(r))
    if not values:
        raise ValueError("--ranks: give at least one rank, e.g. --ranks 5 10 20 30 60")
    return sorted(set(values))


def run_sweep(cfg: Config, ranks, force: bool = False) -> pd.DataFrame:
    """Train and evaluate the baseline once and ``tk``/``tk_diff`` at every rank, for every training seed;
    write sweep.csv, sweep_comparisons.csv and the figure.

    Returns the table written to ``sweep/sweep.csv`` (see :data:`SWEEP_COLUMNS`).  ``force``
    retrains arms whose recorded settings differ from ``cfg`` (as ``tdfake run --force``).
    """
    ranks = check_ranks(ranks)
    seeds = layout.training_seeds(cfg)
    prepared = prepare(cfg, ["baseline"])
    logger.info("tdfake sweep: baseline, then ranks %s (%d Tucker arms%s)", ", ".join(map(str, ranks)),
                2 * len(ranks), f" x {len(seeds)} seeds" if len(seeds) > 1 else "")
    rows = []
    for seed in seeds:
        run_dir = layout.arm_dir(cfg.out_dir, "baseline", seed, cfg.seed)
        report = run_arm(cfg, "baseline", prepared, force=force, seed=seed)
        rows.append(_row(None, "baseline", cfg.image_spec("baseline").kind, seed, report, run_dir))
    runs: dict[tuple[int, str], list[Path]] = {}
    for r in ranks:
        rank_cfg = rank_config(cfg, r)
        root = rank_root(cfg, r)
        split = make_arm_images(rank_cfg, prepared.data_dir, prepared.split, root / layout.IMAGES_DIR, TUCKER_ARMS)
        at_rank = Prepared(split=split, images_root=root / layout.IMAGES_DIR, data_dir=prepared.data_dir)
        for arm in TUCKER_ARMS:
            for seed in seeds:
                logger.info("tdfake sweep: rank %s, %s%s", r, arm, f", seed {seed}" if len(seeds) > 1 else "")
                run_dir = layout.arm_dir(root, arm, seed, cfg.seed)
                report = run_arm(rank_cfg, arm, at_rank, force=force, run_dir=run_dir, seed=seed)
                rows.append(_row(r, arm, rank_cfg.image_spec(arm).kind, seed, report, run_dir))
                runs.setdefault((r, arm), []).append(run_dir)
    table = pd.DataFrame(rows, columns=SWEEP_COLUMNS)
    out = layout.sweep_dir(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / layout.SWEEP_CSV, index=False)
    sweep_comparisons(cfg, runs).to_csv(out / layout.SWEEP_COMPARISONS_CSV, index=False)
    plot_sweep(table, out / layout.SWEEP_FIGURE)
    return table


def sweep_comparisons(cfg: Config, runs: dict[tuple[int, str], list[Path]]) -> pd.DataFrame:
    """Each rank's Tucker arm against the same arm at the config's own rank (the study's 30), paired on the
    test split's rows; empty when the config's rank was not swept."""
    own = int(cfg.rank[0])
    rows = []
    for (r, arm), dirs in sorted(runs.items()):
        if r != own and (own, arm) in runs:
            compared = compare_scored(scored_rows(runs[(own, arm)], OWN_TEST_SET), scored_rows(dirs, OWN_TEST_SET),
                                      seed=cfg.seed)
            rows.append({"arm": arm, "rank_a": own, "rank_b": r, **compared})
    return pd.DataFrame(rows)


def _row(rank: int | None, arm: str, kind: str, seed: int, report, run_dir: Path) -> dict:
    summary = report.summary()
    return {"rank": rank, "arm": arm, "kind": kind, "seed": seed,
            **{k: summary[k] for k in SWEEP_COLUMNS if k in summary}, "run_dir": str(run_dir)}


def sweep_markdown(table: pd.DataFrame) -> str:
    """The sweep as a Markdown table: AUROC with its interval and the accuracy at the validation threshold."""
    def interval(row, name: str) -> str:
        return f"{row[name]:.3f} [{row[name + '_ci_low']:.3f}, {row[name + '_ci_high']:.3f}]"

    shown = pd.DataFrame({
        "rank": ["—" if pd.isna(r) else f"[{int(r)}, {int(r)}, 3]" for r in table["rank"]],
        "arm": table["arm"],
        "AUROC [95% CI]": [interval(row, "auroc") for _, row in table.iterrows()],
        "accuracy @val threshold [95% CI]": [interval(row, "accuracy_at_threshold") for _, row in table.iterrows()],
    })
    return shown.to_markdown(index=False)
