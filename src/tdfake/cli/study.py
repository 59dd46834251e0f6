"""``tdfake run`` (the whole study, resumable), ``tdfake sweep`` (TK arms against Tucker rank) and
``tdfake graphs`` (regenerate a run's figures), ``tdfake archive`` (a study without its checkpoints) and
``tdfake restore`` (an archive back into a study folder, to continue it).

The tf.data input pipeline is :mod:`tdfake.pipeline`; the study end to end is :mod:`tdfake.study`.
"""

from __future__ import annotations

import argparse
import time

from tdfake.cli.options import add_config_arguments, load_config


def run(args: argparse.Namespace) -> int:
    from tdfake.graphs import draw_graphs
    from tdfake.study import run_study

    cfg = load_config(args)
    if args.graphs is not None:
        cfg = cfg.override(graphs_dir=args.graphs)
    start = time.perf_counter()
    study = run_study(cfg, force=args.force)
    draw_graphs(cfg.out_dir, cfg.graphs_dir)
    minutes = (time.perf_counter() - start) / 60
    print(f"\n{cfg.out_dir}/results.md written; graphs in {cfg.graphs_dir}/ ({minutes:.1f} min)")
    print(study.results[["test_set", "seed", "auroc", "accuracy_at_threshold", "accuracy_at_0.5",
                         "study_auroc", "study_accuracy_at_0.5"]].to_string())
    if len(study.comparisons):
        print("\npaired comparisons (delta = b - a):")
        print(study.comparisons[["test_set", "arm_a", "arm_b", "delta_auroc", "delta_auroc_ci_low",
                                 "delta_auroc_ci_high", "p_auroc", "verdict_auroc", "non_inferior"]]
              .to_string(index=False, float_format="{:.3f}".format))
    return 0


def sweep(args: argparse.Namespace) -> int:
    from tdfake.layout import SWEEP_CSV, SWEEP_FIGURE, sweep_dir
    from tdfake.sweep import run_sweep, sweep_markdown

    cfg = load_config(args)
    start = time.perf_counter()
    table = run_sweep(cfg, args.ranks, force=args.force)
    minutes = (time.perf_counter() - start) / 60
    print(f"\n{sweep_dir(cfg.out_dir)}/{SWEEP_CSV} and {SWEEP_FIGURE} written ({minutes:.1f} min)")
    print(sweep_markdown(table))
    return 0


def graphs(args: argparse.Namespace) -> int:
    from tdfake.graphs import draw_graphs

    written = draw_graphs(args.out_dir, args.graphs_dir)
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def archive(args: argparse.Namespace) -> int:
    from tdfake.archive import archive_study

    archived = archive_study(args.out_dir, args.dest)
    for run_dir in archived:
        print(run_dir)
    print(f"tdfake archive: {len(archived)} evaluated runs in {args.dest} "
          f"(continue the study with `tdfake restore {args.dest} --config ...`, then `tdfake run`)")
    return 0


def restore(args: argparse.Namespace) -> int:
    from tdfake.archive import restore_study

    cfg = load_config(args)
    restored = restore_study(args.archive, cfg)
    for run_dir in restored:
        print(run_dir)
    print(f"tdfake restore: {len(restored)} archived runs in {cfg.out_dir}; `tdfake run` with the same --config "
          "and --set options keeps their results and trains the missing runs")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run", help="the study end to end: data, split, the arms' images, every arm, results, graphs",
        description="Demo data (or the configured data) -> one split shared by all arms -> each arm's images "
                    "(OR/TK/TK_diff for the study's arms) -> train and evaluate every arm of the config (`arms:`; "
                    "baseline, tk, tk_diff by default) -> results.md, results.csv, comparisons.csv (the config's "
                    "`comparisons:`), graphs/. "
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

    parser = subparsers.add_parser(
        "sweep", help="TK and TK_diff arms trained at several Tucker ranks on one split, against the baseline",
        description="Train the tk and tk_diff arms at Tucker ranks [r, r, 3] for every r of --ranks, all on the "
                    "config's one split (out_dir/split.csv), and the baseline once as the reference; write "
                    "out_dir/sweep/sweep.csv (rank, arm, AUROC with its 95%% interval, accuracy at the validation "
                    "threshold) and sweep.png. Finished steps are reused, including a `tdfake run` of the same "
                    "config (its arms are the config's own rank); other ranks go to out_dir/sweep/rank_<r>/.",
    )
    add_config_arguments(parser)
    parser.add_argument("--ranks", type=int, nargs="+", required=True, metavar="R",
                        help="the ranks r to sweep, e.g. --ranks 5 10 20 30 60")
    parser.add_argument("--force", action="store_true",
                        help="retrain from scratch the arms trained with other settings than the config's")
    parser.set_defaults(func=sweep)

    parser = subparsers.add_parser("graphs", help="regenerate the figures of a finished run")
    parser.add_argument("out_dir", help="a `tdfake run` output folder (e.g. runs/demo)")
    parser.add_argument("--graphs-dir", help="where to write the PNGs (default: the run config's graphs_dir)")
    parser.set_defaults(func=graphs)

    parser = subparsers.add_parser(
        "archive", help="copy a study's evaluated runs without checkpoints, logs or images (to keep or commit)",
        description="Copy OUT_DIR's manifest, split, test-set manifests and every evaluated run (config, split, "
                    "history, predictions and reports on every test set, provenance records) into DEST, leaving out "
                    "checkpoints, TensorBoard logs and images, and mark each run with archive.json. The places the "
                    "config names (data, test sets, weights, output folders) are written as placeholders such as "
                    "${data_dir}; `tdfake restore` fills them in on the next machine.",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", help="a `tdfake run` output folder (e.g. runs/confirmatory)")
    parser.add_argument("dest", metavar="DEST", help="where the archive goes (made if missing; brought up to date)")
    parser.set_defaults(func=archive)

    parser = subparsers.add_parser(
        "restore", help="copy an archive into the config's out_dir, to continue its study here",
        description="Copy ARCHIVE (made by `tdfake archive`) into the config's out_dir, each placeholder such as "
                    "${data_dir} filled in with the config's setting, so the study continues wherever its data "
                    "lie here. Then `tdfake run` with the same --config and --set options keeps the archived runs' "
                    "results and trains only the missing runs. A run already trained in out_dir is kept.",
    )
    parser.add_argument("archive", metavar="ARCHIVE", help="an archive folder (e.g. docs/results/confirmatory/archive)")
    add_config_arguments(parser)
    parser.set_defaults(func=restore)
