"""``tdfake train``: train one arm from a config into a run folder.

Examples::

    tdfake train --config configs/demo.yaml --arm baseline          # demo data, made on first use
    tdfake train --config configs/paper.yaml --arm tk --split runs/paper/split.csv --images data/images
    tdfake train --config configs/demo.yaml --arm tk_diff --resume --epochs 12 --set batch_size=8
    tdfake train --config my.yaml --arm tk_r5          # any arm the config names under `arms:`
"""

from __future__ import annotations

import argparse

from tdfake.cli.options import add_config_arguments, load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train one arm (baseline / tk / tk_diff, or any arm of the config) into a run folder",
        description="Train the config's backbone (Xception, the study's, or small_cnn) on one arm's images. "
                    "Without --split/--images the config's data is prepared first (demo data, split, "
                    "the arm's images). The run folder gets "
                    "config.yaml, split.csv, history.csv, best.keras, last.keras and "
                    "training.provenance.json; an existing run is never replaced without --force.",
    )
    add_config_arguments(parser)
    parser.add_argument("--arm", required=True,
                        help="which arm to train: one the config names under `arms:` (the study's: baseline, tk, "
                             "tk_diff)")
    parser.add_argument("--split", help="split CSV (manifest rows + split column); default: prepare from the config")
    parser.add_argument("--images", help="folder holding the arm's images (OR/, TK/, TK_diff/, ...); with --split")
    parser.add_argument("--run-dir", help="output folder (default: <out_dir>/<arm>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from last.keras and history.csv (same settings; a larger --epochs is fine)")
    parser.add_argument("--force", action="store_true",
                        help="retrain from scratch when the run folder holds a run that cannot be continued")
    parser.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tdfake.datasets import read_manifest

    cfg = load_config(args)
    cfg.image_spec(args.arm)  # an arm the config does not name fails here, naming the config's arms
    if bool(args.split) != bool(args.images):
        raise ValueError("give --split and --images together, or neither to prepare from the config")
    if args.split:
        split_path = Path(args.split)
        if not split_path.is_file():
            raise FileNotFoundError(f"{split_path}: no such split file; make one with `tdfake split`")
        split_df = read_manifest(split_path)
        images_root = Path(args.images)
    else:
        from tdfake.study import prepare

        prepared = prepare(cfg, [args.arm])
        split_df, images_root = prepared.split, prepared.images_root

    from tdfake.layout import arm_dir, training_seeds
    from tdfake.train import train_arm

    seeds = training_seeds(cfg)
    if args.run_dir and len(seeds) > 1:
        raise ValueError("--run-dir names one run folder; give one seed with it, or leave it out for one per seed")
    for seed in seeds:
        run_dir = Path(args.run_dir) if args.run_dir else arm_dir(cfg.out_dir, args.arm, seed, cfg.seed)
        train_arm(cfg, args.arm, split_df, images_root, run_dir, resume=args.resume, force=args.force, seed=seed)
        # With several workers (TF_CONFIG) only the chief writes its run folder.
        print(f"run folder: {run_dir}" if run_dir.is_dir() else "run folder: the chief's (this worker writes none)")
    return 0
