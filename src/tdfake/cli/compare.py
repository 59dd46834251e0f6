"""``tdfake compare``: a paired test between two finished runs on the rows both scored (see :mod:`tdfake.compare`)."""

from __future__ import annotations

import argparse
from pathlib import Path

SHOWN = ["test_set", "arm_a", "arm_b", "n_rows", "n_groups", "auroc_a", "auroc_b", "delta_auroc", "delta_auroc_ci_low",
         "delta_auroc_ci_high", "p_auroc", "verdict_auroc", "delta_accuracy_at_threshold", "p_accuracy_at_threshold"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="paired test of two finished runs (or two study folders, arm by arm) on the same rows",
        description="Delta = B - A in AUROC (DeLong, or clustered by the split's groups with a group bootstrap) and "
                    "in accuracy at each run's own validation threshold, on every test set both runs scored, with "
                    "a verdict at alpha 0.05. With --data both are scored on that folder or manifest first.",
    )
    parser.add_argument("run_a", metavar="RUN_A", help="a run folder (e.g. runs/demo/baseline) or a study folder")
    parser.add_argument("run_b", metavar="RUN_B", help="the run (or study) compared against RUN_A")
    parser.add_argument("--data", metavar="MANIFEST_OR_FOLDER", help="score both on these labelled images instead")
    parser.add_argument("-o", "--output", metavar="CSV", help="write the table here (default: print it only)")
    parser.add_argument("--bootstrap", type=int, default=2000, metavar="N",
                        help="group bootstrap resamples beside the clustered interval (default 2000; 0 skips it)")
    parser.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from tdfake.compare import compare_runs  # late, as every import of the CLI's handlers (see tdfake.cli)

    table = compare_runs(args.run_a, args.run_b, data=args.data, n_bootstrap=args.bootstrap)
    print(table[SHOWN].to_string(index=False, float_format="{:.4f}".format))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.output, index=False)
        print(f"tdfake: written to {args.output}")
    return 0
