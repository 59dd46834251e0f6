"""``tdfake robustness``: trained arms scored under perturbed input crops (see :mod:`tdfake.robustness`)."""

from __future__ import annotations

import argparse

from tdfake.perturb import PERTURBATIONS

SHOWN = ["arm", "perturbation", "setting", "auroc", "auroc_ci_low", "auroc_ci_high", "delta_auroc", "p_auroc",
         "accuracy_at_threshold", "n_real", "n_fake"]


def register(subparsers) -> None:
    levels = "; ".join(f"{name}: {', '.join(p.label(level) for level in p.levels)}"
                       for name, p in PERTURBATIONS.items())
    parser = subparsers.add_parser(
        "robustness",
        help="AUROC and accuracy of trained arms under JPEG, blur, noise and resizing of the input crops",
        description=(
            "Score each RUN (a run folder, or a study folder: all its finished arms) on its test split (or "
            "--data) with every crop perturbed at each level, the arm's TK/TK_diff image made from the "
            "perturbed crop; thresholds are the ones each arm chose on its validation split. Writes "
            f"robustness.csv and robustness.png under OUT (default RUN/robustness). Levels: {levels} "
            "(DeeperForensics-1.0's where it defines them). Resumable: finished arm x condition scores are reused."
        ),
    )
    parser.add_argument("runs", metavar="RUN", nargs="+", help="run folders or `tdfake run` output folders")
    parser.add_argument("--data", metavar="FOLDER_OR_MANIFEST",
                        help="score these images instead of the runs' test split")
    parser.add_argument("-o", "--out", metavar="OUT", help="output folder (default: RUN/robustness)")
    parser.add_argument("--perturbations", nargs="+", choices=list(PERTURBATIONS), default=list(PERTURBATIONS),
                        metavar="NAME", help=f"which perturbations (default all: {' '.join(PERTURBATIONS)})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap resamples for the 95%% intervals (default 1000; 0 skips them)")
    parser.set_defaults(func=run_robustness)


def run_robustness(args: argparse.Namespace) -> int:
    from tdfake.layout import ROBUSTNESS_CSV, ROBUSTNESS_FIGURE
    from tdfake.plots import plot_robustness
    from tdfake.robustness import default_out, robustness

    out = args.out if args.out is not None else default_out(args.runs)
    table = robustness(args.runs, data=args.data, out=out, perturbations=args.perturbations, seed=args.seed,
                       n_bootstrap=args.bootstrap)
    plot_robustness(table, f"{out}/{ROBUSTNESS_FIGURE}")
    print(table[SHOWN].to_string(index=False, float_format="{:.3f}".format))
    print(f"\n{out}/{ROBUSTNESS_CSV} and {out}/{ROBUSTNESS_FIGURE} written")
    return 0
