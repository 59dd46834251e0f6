"""``tdfake evaluate`` and ``tdfake predict``: score a trained arm (see :mod:`tdfake.evaluate`)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    evaluate = subparsers.add_parser(
        "evaluate",
        help="score a run's best checkpoint on its test split (or other data); write report.md/json",
        description=(
            "Score RUN_DIR/best.keras on the run's test split, choosing the decision threshold on its "
            "validation split, and write predictions.csv, report.md and report.json into RUN_DIR. "
            "With --data, score a manifest CSV (its test rows when it has a split column) or a folder "
            "of real/ and fake/ images instead, written into RUN_DIR/eval-<name> (or --out)."
        ),
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `tdfake train` / `tdfake run`")
    evaluate.add_argument("--data", metavar="MANIFEST_OR_FOLDER", help="other labelled data to score")
    evaluate.add_argument("--out", metavar="DIR", help="where to write the report for --data")
    evaluate.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                          help="bootstrap resamples for the 95%% intervals (default 1000; 0 skips them)")
    evaluate.set_defaults(func=run_evaluate)

    predict = subparsers.add_parser(
        "predict",
        help="P(fake) for images or folders of images, as CSV",
        description=(
            "Score image files and folders (searched recursively) with RUN_DIR/best.keras. Prints CSV "
            "(path, score, prediction, error) or writes it with -o. The prediction uses the threshold "
            "chosen on validation by `tdfake evaluate` (0.5 before the run was evaluated)."
        ),
    )
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument("paths", metavar="PATH", nargs="+", help="image files or folders")
    predict.add_argument("-o", "--output", metavar="CSV", help="write the CSV here instead of stdout")
    predict.add_argument("--threshold", type=float, help="decision threshold for the prediction column")
    predict.set_defaults(func=run_predict)


def run_evaluate(args: argparse.Namespace) -> int:
    from tdfake.evaluate import evaluate_run

    report = evaluate_run(args.run_dir, data=args.data, out_dir=args.out, n_bootstrap=args.bootstrap, verbose=1)
    print(report.to_markdown())
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from tdfake.evaluate import predict_paths

    table = predict_paths(args.run_dir, args.paths, threshold=args.threshold)
    if args.output:
        table.to_csv(args.output, index=False)
        print(f"tdfake: {len(table)} predictions written to {args.output}", file=sys.stderr)
    else:
        table.to_csv(sys.stdout, index=False)
    failed = int((table["error"] != "").sum())
    if failed:
        print(f"tdfake: {failed} files could not be read (see the error column)", file=sys.stderr)
    return 0
