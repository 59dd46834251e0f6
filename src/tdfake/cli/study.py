"""``tdfake run`` (the whole study, resumable) and ``tdfake graphs`` (regenerate a run's figures).

The tf.data input pipeline is :mod:`tdfake.pipeline`; the study end to end is :mod:`tdfake.study`.
"""

from __future__ import annotations

import argparse
import time

from tdfake.cli.options import add_config_arguments, load_config


def run(args: argparse.Namespace) -> int:
    from tdfake.study import run_study

    cfg = load_config(args)
    if args.graphs is not None:
        cfg = cfg.override(graphs_dir=args.graphs)
    start = time.perf_counter()
    results = run_study(cfg, force=args.force)
    minutes = (time.perf_counter() - start) / 60
    print(f"\n{cfg.out_dir}/results.md written; graphs in {cfg.graphs_dir}/ ({minutes:.1f} min)")
    print(results[["test_set", "accuracy", "auroc", "thresh_test_eer", "study_accuracy", "study_auroc"]].to_string())
    return 0


def graphs(args: argparse.Namespace) -> int:
    from tdfake.plots import save_all

    written = save_all(args.out_dir, args.graphs_dir)
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run", help="the study end to end: data, split, OR/TK/TK_diff images, three arms, results, graphs",
        description="Demo data (or the configured data) -> one split shared by all arms -> OR/TK/TK_diff "
                    "images -> train and evaluate baseline, tk, tk_diff -> results.md, results.csv, graphs/. "
                    "Re-running resumes: finished steps are not redone; steps made with other settings "
                    "are made anew, except trained arms, which stop the run unless --force.",
    )
    add_config_arguments(parser)
    parser.add_argument("--force", action="store_true",
                        help="retrain from scratch the arms trained with other settings than the config's")
    parser.add_argument("--graphs", metavar="DIR",
                        help="write the figures to DIR (overrides graphs_dir; `--graphs graphs/` refreshes the "
                             "README's figures)")
    parser.set_defaults(func=run)

    parser = subparsers.add_parser("graphs", help="regenerate the figures of a finished run")
    parser.add_argument("out_dir", help="a `tdfake run` output folder (e.g. runs/demo)")
    parser.add_argument("--graphs-dir", help="where to write the PNGs (default: the run config's graphs_dir)")
    parser.set_defaults(func=graphs)
