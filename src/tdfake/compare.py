"""``tdfake compare RUN_A RUN_B``: a paired comparison of any two finished runs that scored the same rows.

Two arms of one study, the same arm of two studies (say two configs), or two training seeds: B is
compared with A on every test set both scored (the own test split, and each extra test set both
have a report on), paired on the same rows (:func:`tdfake.results.compare_scored`).  With
``data`` both are first scored on that folder or manifest (``tdfake evaluate RUN --data``), and
only that is compared.  Two study folders are compared arm by arm.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from tdfake import layout
from tdfake.constants import OWN_TEST_SET
from tdfake.evaluate import evaluate_run
from tdfake.results import compare_scored, scored_rows

COLUMNS = ["run_a", "run_b", "test_set", "arm_a", "arm_b"]
"""The columns in front of :func:`tdfake.results.compare_scored`'s in compare.csv."""


def run_pairs(run_a: os.PathLike | str, run_b: os.PathLike | str) -> list[tuple[Path, Path]]:
    """The run folders to compare: the two runs, or the arms two study folders both finished."""
    run_a, run_b = Path(run_a), Path(run_b)
    if layout.is_run(run_a) and layout.is_run(run_b):
        return [(run_a, run_b)]
    if layout.is_run(run_a) != layout.is_run(run_b):
        raise ValueError(f"{run_a} and {run_b}: give two run folders or two study folders, not one of each")
    arms_b = {d.name for d in layout.find_runs([run_b])}
    pairs = [(d, run_b / d.name) for d in layout.find_runs([run_a]) if d.name in arms_b]
    if not pairs:
        raise FileNotFoundError(f"{run_a} and {run_b} have no finished arm in common")
    return pairs


def compare_runs(run_a: os.PathLike | str, run_b: os.PathLike | str, data: os.PathLike | str | None = None,
                 n_bootstrap: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Δ = B − A (AUROC, and accuracy at each run's validation threshold) on every test set both scored."""
    rows = []
    for a, b in run_pairs(run_a, run_b):
        arms = {"run_a": str(a), "run_b": str(b), "arm_a": layout.load_run(a).arm, "arm_b": layout.load_run(b).arm}
        if data is not None:
            name = layout.data_name(data)
            tables = [_scored_on(run, data) for run in (a, b)]
            first, second = scored_rows([a], name, tables[:1]), scored_rows([b], name, tables[1:])
            rows.append({**arms, "test_set": name, **compare_scored(first, second, n_bootstrap, seed)})
            continue
        sets = [OWN_TEST_SET] + sorted(set(layout.test_set_names([a])) & set(layout.test_set_names([b])))
        for name in sets:
            compared = compare_scored(scored_rows([a], name), scored_rows([b], name), n_bootstrap, seed)
            rows.append({**arms, "test_set": name, **compared})
    table = pd.DataFrame(rows)
    return table[COLUMNS + [c for c in table.columns if c not in COLUMNS]]


def _scored_on(run_dir: Path, data: os.PathLike | str) -> pd.DataFrame:
    """The run's scores of ``data`` (evaluated once into ``run_dir/eval-<name>``, reused after)."""
    out = layout.eval_dir(run_dir, data)
    if not (out / layout.PREDICTIONS_FILE).is_file():
        evaluate_run(run_dir, data=data, out_dir=out)
    table = pd.read_csv(out / layout.PREDICTIONS_FILE, dtype={"path": str, "group": str})
    return table[table["split"] == "test"].reset_index(drop=True)
