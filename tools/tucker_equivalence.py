"""May the fast Tucker path stand in for the study's tensorly call?  The pre-registered check, on trained TK runs.

The confirmatory ``tk`` runs trained and were tested on images made by ``tucker_method: tensorly``.
This tool scores each of them again on the same test rows with images made by ``tucker_method:
fast`` and compares the two, paired row by row, the training seeds random (``tdfake.stats.paired_auroc``
with ``seed_effect="random"``).  The pre-registration (docs/preregistration.md) calls the fast path
inference-equivalent only if the 95 % interval of AUROC(fast images) − AUROC(tensorly images) lies
within ±0.005.

    python tools/tucker_equivalence.py score runs/confirmatory            # each tk run with its checkpoint
    python tools/tucker_equivalence.py compare runs/confirmatory    # writes runs/confirmatory/tucker_equivalence.csv

``score`` writes ``<run>/tucker_equivalence/<set>/predictions.csv`` (path, label, group, score) for
every run of the arm that still has its checkpoint, skipping runs already scored, so it can follow
the study run by run (and ``tdfake archive`` keeps the scores once the checkpoints are gone).  The
fast images go to ``OUT/test_sets/<set>/images/<kind>_method-fast/``.  ``compare`` needs no
checkpoint: it reads those scores and the runs' own scores on the tensorly images, and writes its row to
``OUT/tucker_equivalence.csv`` (``-o`` elsewhere), where ``tdfake report OUT`` finds it for the page.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from tdfake import layout, stats, transforms
from tdfake.datasets import read_manifest
from tdfake.image_creation import create_images
from tdfake.images import derived_path

FOLDER = "tucker_equivalence"
BOUND = 0.005  # the pre-registered equivalence bound on the AUROC difference


def fast_spec(run: layout.Run) -> transforms.ImageSpec:
    """The run's image kind and parameters with ``tucker_method: fast`` (its own folder, never the tensorly one's)."""
    spec = run.spec
    defaults = {f.name: getattr(run.cfg, f.name) for f in dataclasses.fields(run.cfg)}  # as Config.image_spec
    return transforms.spec(spec.kind, {**vars(spec.params), "method": "fast"}, defaults=defaults)


def runs_of(out_dir: Path, arm: str) -> list[Path]:
    """The run folders of ``arm`` in a study folder, every training seed, in seed order."""
    found = [out_dir / arm] + [folder / arm for _, folder in sorted(layout.seed_folders(out_dir).items())]
    return [run_dir for run_dir in found if (run_dir / layout.CONFIG_FILE).is_file()]


def score(out_dir: Path, arm: str, test_set: str) -> None:
    """Score every eligible run of ``arm`` on fast-made images of ``test_set`` (see the module doc)."""
    for run_dir in runs_of(out_dir, arm):
        target = run_dir / FOLDER / test_set / layout.PREDICTIONS_FILE
        scored_on_set = (layout.test_set_report_dir(run_dir, test_set) / layout.REPORT_JSON).is_file()
        if target.is_file() or not layout.is_run(run_dir) or not scored_on_set:
            why = "already scored" if target.is_file() else "no checkpoint" if not layout.is_run(run_dir) else \
                f"not yet scored on {test_set} with its own images"
            print(f"{run_dir}: {why}; skipped")
            continue
        from tdfake.evaluate import load_run_model, score_files  # TensorFlow only once a network scores

        rows = read_manifest(layout.test_set_dir(out_dir, test_set) / layout.MANIFEST_FILE)
        run = layout.load_run(run_dir)
        if run.spec.fingerprint().get("tucker_method") != "tensorly":
            raise ValueError(f"{run_dir}: its images are not tensorly's ({run.spec.fingerprint()}); nothing to check")
        spec = fast_spec(run)
        images_root = layout.test_set_dir(out_dir, test_set) / layout.IMAGES_DIR
        scored = []
        for root, part in rows.groupby("root", sort=True):
            create_images(root, images_root, [spec], workers=run.cfg.workers, image_format=run.cfg.image_format,
                          paths=part["path"].tolist(), replace_changed=True)
            files = [derived_path(images_root, spec.folder, rel, run.cfg.image_format) for rel in part["path"]]
            usable = part.assign(file=[str(f) if f.is_file() else None for f in files]).dropna(subset=["file"])
            usable["score"] = score_files(load_run_model(run), usable["file"].tolist(), run.cfg,
                                         verbose=1 if sys.stdout.isatty() else 2)  # no bar frames in a log
            scored.append(usable)
        table = pd.concat(scored, ignore_index=True)[["root", "path", "label", "group", "score"]]
        target.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(target, index=False)
        print(f"{run_dir}: {len(table)} rows scored on {spec.folder} images -> {target}")


def compare(out_dir: Path, arm: str, test_set: str) -> pd.DataFrame:
    """One row: AUROC on fast images − AUROC on tensorly images, seeds random, and the equivalence verdict."""
    paired_runs, seeds = [], []
    for run_dir in runs_of(out_dir, arm):
        fast_file = run_dir / FOLDER / test_set / layout.PREDICTIONS_FILE
        if not fast_file.is_file():
            continue
        own = layout.test_predictions(run_dir, test_set)[["path", "label", "group", "score"]]
        other = pd.read_csv(fast_file, dtype={"path": str, "group": str})[["path", "score"]]
        paired = own.merge(other, on="path", suffixes=("_tensorly", "_fast")).sort_values("path")
        paired_runs.append(paired)
        seeds.append(int(pd.read_json(run_dir / layout.RUN_INFO_FILE, typ="series")["seed"]))
    if len(paired_runs) < 2:
        raise SystemExit(f"{out_dir}: {len(paired_runs)} {arm} runs scored on fast images; the random-seed "
                         "comparison needs at least 2 (run `score` first)")
    common = set.intersection(*(set(t["path"]) for t in paired_runs))
    tables = [t[t["path"].isin(common)].reset_index(drop=True) for t in paired_runs]
    y, groups = tables[0]["label"].to_numpy(), tables[0]["group"].to_numpy()
    a = np.stack([t["score_tensorly"].to_numpy() for t in tables])
    b = np.stack([t["score_fast"].to_numpy() for t in tables])
    result = stats.paired_auroc(y, a, b, groups, seed_effect="random")
    low, high = result.ci
    return pd.DataFrame([{
        "test_set": test_set, "arm": arm, "seeds": " ".join(map(str, seeds)), "n_rows": len(y),
        "n_groups": len(set(groups)), "auroc_tensorly": float(result.auroc_a), "auroc_fast": float(result.auroc_b),
        "delta_auroc": float(result.delta), "ci_low": float(low), "ci_high": float(high), "df": float(result.df),
        "bound": BOUND, "equivalent": bool(-BOUND < low and high < BOUND),
    }])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("score", "compare"))
    parser.add_argument("out_dir", type=Path, help="the confirmatory study folder (tdfake run's out_dir)")
    parser.add_argument("--arm", default="tk")
    parser.add_argument("--test-set", default="dfdc_test")
    parser.add_argument("-o", "--output", type=Path,
                        help=f"compare: write the row to this CSV (default OUT_DIR/{layout.TUCKER_EQUIVALENCE_CSV})")
    args = parser.parse_args(argv)
    if args.step == "score":
        score(args.out_dir, args.arm, args.test_set)
        return 0
    table = compare(args.out_dir, args.arm, args.test_set)
    print(table.T.to_string(header=False))
    output = args.output or args.out_dir / layout.TUCKER_EQUIVALENCE_CSV
    output.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(output, index=False)
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
