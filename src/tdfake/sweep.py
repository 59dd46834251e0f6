"""Detection against Tucker rank: the TK and TK_diff arms retrained at ranks [r, r, 3] on one split.

The study tried one rank, [30, 30, 3].  A lower rank keeps less of the face in ``TK`` and
leaves more of it in ``TK_diff``; a sweep shows where each arm's detection comes from.  Every
rank trains ``tk`` and ``tk_diff`` with the config's settings on the *same* split (the one in
``cfg.out_dir``); the baseline is trained once, as the reference every rank is read against.

Layout under ``cfg.out_dir`` (beside a ``tdfake run`` of the same config, whose steps it reuses)::

    split.csv  images/OR/  baseline/      the run's own split, OR images and baseline arm
    images/TK/  tk/  tk_diff/             the config's own rank: the run's arms, reused as they are
    sweep/rank_<r>/images/TK|TK_diff/     every other rank's images ...
    sweep/rank_<r>/tk/  sweep/rank_<r>/tk_diff/   ... and its two arms
    sweep/sweep.csv  sweep/sweep.png      one row per (rank, arm), and AUROC against rank

Every step is reused while its provenance record matches (see :mod:`tdfake.study`), so an
interrupted sweep resumes and a larger list of ranks trains only the new ones.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tdfake.config import ARMS, Config

TUCKER_ARMS = ("tk", "tk_diff")
SWEEP_COLUMNS = ["rank", "arm", "kind", "auroc", "auroc_ci_low", "auroc_ci_high", "accuracy_at_threshold",
                 "accuracy_at_threshold_ci_low", "accuracy_at_threshold_ci_high", "threshold", "accuracy",
                 "accuracy_ci_low", "accuracy_ci_high", "n_real", "n_fake", "n_bootstrap_units", "bootstrap_unit",
                 "run_dir"]
"""sweep.csv's columns; ``rank`` is empty on the baseline's row (it has no Tucker step)."""


def sweep_dir(cfg: Config) -> Path:
    """Where sweep.csv, the figure and the other ranks' images and arms go."""
    return Path(cfg.out_dir) / "sweep"


def rank_of(cfg: Config, r: int) -> list[int]:
    """The config's rank with height and width set to ``r`` (the channel rank is kept: 3 in the study)."""
    return [int(r), int(r), int(cfg.rank[2])]


def rank_root(cfg: Config, r: int) -> Path:
    """Folder holding rank ``r``'s images and arms: ``out_dir`` itself for the config's own rank."""
    return Path(cfg.out_dir) if rank_of(cfg, r) == list(cfg.rank) else sweep_dir(cfg) / f"rank_{int(r)}"


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
    """Train and evaluate the baseline once and ``tk``/``tk_diff`` at every rank; write sweep.csv and the figure.

    Returns the table written to ``sweep/sweep.csv`` (see :data:`SWEEP_COLUMNS`).  ``force``
    retrains arms whose recorded settings differ from ``cfg`` (as ``tdfake run --force``).
    """
    from tdfake.plots import plot_sweep
    from tdfake.study import Prepared, make_arm_images, prepare, run_arm

    ranks = check_ranks(ranks)
    prepared = prepare(cfg, kinds=["OR"])
    print(f"tdfake sweep: baseline, then ranks {', '.join(map(str, ranks))} ({2 * len(ranks)} Tucker arms)")
    rows = [_row(None, "baseline", run_arm(cfg, "baseline", prepared, force=force), Path(cfg.out_dir) / "baseline")]
    for r in ranks:
        rank_cfg = cfg.override(rank=rank_of(cfg, r))
        root = rank_root(cfg, r)
        kinds = [ARMS[arm] for arm in TUCKER_ARMS]
        split = make_arm_images(rank_cfg, prepared.data_dir, prepared.split, root / "images", kinds)
        at_rank = Prepared(split=split, images_root=root / "images", data_dir=prepared.data_dir)
        for arm in TUCKER_ARMS:
            print(f"tdfake sweep: rank {r}, {arm}")
            report = run_arm(rank_cfg, arm, at_rank, force=force, run_dir=root / arm)
            rows.append(_row(r, arm, report, root / arm))
    table = pd.DataFrame(rows, columns=SWEEP_COLUMNS)
    out = sweep_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "sweep.csv", index=False)
    plot_sweep(table, out / "sweep.png")
    return table


def _row(rank: int | None, arm: str, report, run_dir: Path) -> dict:
    summary = report.summary()
    low, high = report.ci["accuracy_at_chosen"]
    return {"rank": rank, "arm": arm, "kind": ARMS[arm], **{k: summary[k] for k in SWEEP_COLUMNS if k in summary},
            "accuracy_at_threshold_ci_low": low, "accuracy_at_threshold_ci_high": high, "run_dir": str(run_dir)}


def read_sweep(out_dir: str | Path) -> pd.DataFrame | None:
    """A finished sweep's table (``out_dir/sweep/sweep.csv``), or None when there is none."""
    path = Path(out_dir) / "sweep" / "sweep.csv"
    return pd.read_csv(path, dtype={"rank": "Int64"}) if path.is_file() else None


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
