"""The confirmatory study's pilot: a few training variants scored on the validation split only.

Why: the pre-registration (docs/preregistration.md) fixes the input scaling, the dtype policy and
the expected size of the effects before any confirmatory run, from data that no test set holds.
The pilot reads the confirmatory config's own split, keeps a seeded third of its training groups
and all of its validation rows, and never reads a test row (own test split or test set).

Each variant is one arm with a few config overrides, trained for ``--epochs`` into
``OUT/<variant>/`` (resumable: a finished variant is not trained again); ``OUT/pilot.csv`` gets one
row per variant and epoch (validation AUROC, loss) with the variant's training images/s.

    python tools/pilot.py --config configs/confirmatory.yaml --set data_dir=PATH --out runs/pilot
"""

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tdfake import study
from tdfake.config import Config
from tdfake.evaluate import score_files
from tdfake.model import load_model
from tdfake.pipeline import image_paths, select_subset
from tdfake.train import train_arm

VARIANTS = {
    "baseline_study_float32": ("baseline", {"preprocess": "study"}),
    "baseline_backbone_float32": ("baseline", {"preprocess": "backbone"}),
    "tk_r5_backbone_float32": ("tk", {"preprocess": "backbone", "rank": [5, 5, 3]}),
    "tk_r30_backbone_float32": ("tk", {"preprocess": "backbone"}),
}
"""Variant name -> (arm, config overrides)."""


def pilot_rows(split: pd.DataFrame, train_share: float, seed: int) -> pd.DataFrame:
    """A seeded ``train_share`` of the split's training groups and every validation row; no test row."""
    train = split[split["split"] == "train"]
    groups = np.array(sorted(train["group"].unique()))
    keep = np.random.default_rng(seed).choice(groups, size=round(len(groups) * train_share), replace=False)
    rows = pd.concat([train[train["group"].isin(keep)], split[split["split"] == "val"]])
    assert not (rows["split"] == "test").any()
    return rows.reset_index(drop=True)


def score_validation(cfg: Config, rows: pd.DataFrame, images_root: Path, folder: str, run_dir: Path) -> None:
    """``run_dir/val_scores.csv``: the best checkpoint's P(fake) for every validation row (made once)."""
    out = run_dir / "val_scores.csv"
    if out.is_file():
        return
    val = select_subset(rows, "val")
    scores = score_files(load_model(run_dir / "best.keras", compile=False),
                         image_paths(val, images_root, folder, cfg.image_format), cfg)
    val[["path", "label", "group"]].assign(score=scores).to_csv(out, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default="runs/pilot")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-share", type=float, default=1 / 3)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    cfg = Config.from_yaml(args.config).override_from_strings(args.set)
    out = Path(args.out)
    data_dir = study.data_folder(cfg)
    rows = pilot_rows(study.load_or_make_split(cfg, data_dir), args.train_share, cfg.seed)
    print(f"pilot rows: {int((rows['split'] == 'train').sum())} train, {int((rows['split'] == 'val').sum())} val")
    table = []
    for name in args.variants:
        arm, overrides = VARIANTS[name]
        vcfg = cfg.override(**overrides, epochs=args.epochs)
        rank = "r" + "-".join(map(str, vcfg.rank))
        images_root = out / f"images_{vcfg.tucker_method}_{rank}"
        used = study.make_arm_images(vcfg, data_dir, rows, images_root, [arm])
        start = time.perf_counter()
        run_dir = train_arm(vcfg, arm, used, images_root, out / name, resume=True, seed=cfg.seed)
        seconds = time.perf_counter() - start
        score_validation(vcfg, used, images_root, vcfg.image_spec(arm).folder, run_dir)
        history = pd.read_csv(run_dir / "history.csv")
        n_train = int((used["split"] == "train").sum())
        for _, epoch in history.iterrows():
            table.append({"variant": name, "arm": arm, **{k: str(v) for k, v in overrides.items()},
                          "epoch": int(epoch["epoch"]) + 1, "val_auc": round(float(epoch["val_auc"]), 4),
                          "val_loss": round(float(epoch["val_loss"]), 4), "train_rows": n_train,
                          "train_seconds_this_call": round(seconds, 1)})
        pd.DataFrame(table).to_csv(out / "pilot.csv", index=False)
        print(pd.DataFrame(table).to_string(index=False), flush=True)


main()
