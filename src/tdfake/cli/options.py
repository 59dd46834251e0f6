"""Command-line options shared by several commands: the config-driven ones (``tdfake train``, ``tdfake run``),
and what to read of a dataset download (``tdfake faces``, ``tdfake evaluate``)."""

from __future__ import annotations

import argparse


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` plus the overrides every config-driven command accepts."""
    parser.add_argument("--config", default="configs/demo.yaml",
                        help="YAML config: configs/demo.yaml (default) or configs/paper.yaml (the study)")
    parser.add_argument("--out-dir", help="output folder (overrides out_dir)")
    parser.add_argument("--epochs", type=int, help="epochs per arm (overrides epochs)")
    parser.add_argument("--seeds", type=int, nargs="+", metavar="S",
                        help="training seeds, one run folder per arm and seed (overrides seeds; the split and "
                             "images stay those of the config's seed)")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config field, e.g. --set image_size=128 (repeatable)")


def load_config(args: argparse.Namespace):
    """The config file with the command line's overrides applied (``--set`` first, then the named flags)."""
    from tdfake.config import Config  # late, as every import of the CLI's handlers (see tdfake.cli)

    cfg = Config.from_yaml(args.config).override_from_strings(args.assignments)
    direct = {"out_dir": args.out_dir, "epochs": args.epochs, "seeds": args.seeds}
    return cfg.override(**{k: v for k, v in direct.items() if v is not None})


def add_download_arguments(parser: argparse.ArgumentParser) -> None:
    """``--compression`` / ``--methods``: what to read of a FaceForensics++ (or Celeb-DF) download."""
    parser.add_argument("--compression", metavar="LEVEL",
                        help="FaceForensics++ download: the compression to read (raw, c23, c40; default: the one "
                             "downloaded)")
    parser.add_argument("--methods", nargs="+", metavar="METHOD",
                        help="FaceForensics++ download: the manipulations to read, e.g. NeuralTextures Deepfakes "
                             "(default: every one downloaded), with the originals they were made from")
