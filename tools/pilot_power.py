"""Power of the confirmatory study's comparisons, projected from the pilot's validation scores.

Reads ``PILOT/<variant>/val_scores.csv`` (tools/pilot.py), compares variants paired on the same
validation rows (Obuchowski's clustered interval, one seed each), and projects each comparison's
standard error to the confirmatory test pool and seeds:

    se² = se_val² · K_val / K_test  +  sd_seed² / r

the first term the test-sampling variance at ``K_test`` groups (variance falls as 1 / groups), the
second the seed-to-seed variance of Δ averaged over ``r`` seeds, for a few assumed seed sd's (one
seed per variant in the pilot cannot estimate it).  With those, the smallest difference each
comparison detects at 80 % power (two-sided α = 0.05) and the power of the non-inferiority test
(one-sided α = 0.025) at a true Δ of 0, on t with r − 1 df (Hillis's df is at least that).

    python tools/pilot_power.py runs/pilot --test-groups 3000 --seeds 5 --margin 0.02
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from tdfake import stats

PAIRS = [
    ("baseline_backbone_float32", "tk_r30_backbone_float32"),
    ("baseline_backbone_float32", "tk_r5_backbone_float32"),
    ("tk_r30_backbone_float32", "tk_r5_backbone_float32"),
    ("baseline_study_float32", "baseline_backbone_float32"),
]
SEED_SDS = (0.005, 0.01, 0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pilot", type=Path)
    parser.add_argument("--test-groups", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--margin", type=float, default=0.02)
    args = parser.parse_args()
    rows = []
    for a, b in PAIRS:
        files = [args.pilot / v / "val_scores.csv" for v in (a, b)]
        if not all(f.is_file() for f in files):
            continue
        va, vb = (pd.read_csv(f, dtype={"group": str}) for f in files)
        assert (va["path"] == vb["path"]).all()
        comparison = stats.paired_auroc(va["label"].to_numpy(), va["score"].to_numpy(), vb["score"].to_numpy(),
                                        groups=va["group"].to_numpy(), n_bootstrap=0)
        k_val = int(va["group"].nunique())
        se_test = comparison.se * np.sqrt(k_val / args.test_groups)
        for sd in SEED_SDS:
            se = float(np.sqrt(se_test ** 2 + sd ** 2 / args.seeds))
            df = args.seeds - 1
            rows.append({"a": a, "b": b, "val_auroc_a": round(comparison.auroc_a, 4),
                         "val_auroc_b": round(comparison.auroc_b, 4), "val_delta": round(comparison.delta, 4),
                         "val_se": round(comparison.se, 4), "val_groups": k_val, "test_groups": args.test_groups,
                         "seeds": args.seeds, "assumed_seed_sd": sd, "projected_se": round(se, 4),
                         "mdd_80": round(stats.minimum_detectable_difference(se, df=df), 4),
                         "ni_power_at_0": round(stats.non_inferiority_power(se, args.margin, df=df), 3)})
    table = pd.DataFrame(rows)
    table.to_csv(args.pilot / "power.csv", index=False)
    print(table.to_string(index=False))


main()
