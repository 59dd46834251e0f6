"""``tdfake images SRC OUT``: the OR / TK / TK_diff (or any registered kind's) image trees of a folder of crops."""

from __future__ import annotations

import argparse
import dataclasses
import os

import yaml

from tdfake import transforms
from tdfake.config import Config
from tdfake.constants import CP_RANK, TUCKER_RANK
from tdfake.tucker import METHODS


def _default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "images",
        help="write OUT/<kind>/<relative path> for every image under SRC (TK, TK_diff, ...)",
        description=(
            "For every image under SRC (any nesting) write OUT/<kind>/<same relative path> for each kind. "
            "Reruns skip finished images; bad files are listed in OUT/skipped.csv and the run goes on. "
            "Each kind's parameters are recorded in OUT/<kind>.provenance.json: a rerun with other "
            "parameters (rank, method, format, size, source) stops unless --force remakes that kind."
        ),
    )
    parser.add_argument("src", help="folder of input images (e.g. with REAL/ and FAKE/<method>/ inside)")
    parser.add_argument("out", help="output folder; gets one subfolder per kind")
    parser.add_argument("--kinds", nargs="+", default=["OR", "TK", "TK_diff"],
                        choices=transforms.names(), help="image kinds to write (default: OR TK TK_diff)")
    parser.add_argument("--rank", nargs=3, type=int, default=list(TUCKER_RANK), metavar=("H", "W", "C"),
                        help="Tucker rank (default: the study's 30 30 3)")
    parser.add_argument("--cp-rank", type=int, default=CP_RANK, help=f"CP rank for CP / CP_diff (default {CP_RANK})")
    parser.add_argument("--param", dest="params", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter of the kinds that have it (value read as YAML), e.g. --param sigma=2 for "
                             "blur; repeatable")
    parser.add_argument("--method", choices=METHODS, default=Config().tucker_method,
                        help="tensorly: the study's exact call; fast: batched randomized sketch + HOOI, many times "
                             "faster (docs/benchmarks.md; GPU when TensorFlow sees one); default %(default)s, as "
                             "the config's tucker_method")
    parser.add_argument("--workers", type=int, default=_default_workers(),
                        help="threads sharing the images (default: all CPUs available)")
    parser.add_argument("--shard", default="0/1", metavar="I/N",
                        help="process only images whose sorted index is I modulo N (for array jobs; default 0/1)")
    parser.add_argument("--format", dest="image_format", choices=["png", "jpg"], default=None,
                        help="output format (default: keep each input's format, as the study did; png is lossless)")
    parser.add_argument("--size", type=int, default=None, metavar="S", help="resize to S x S before the transforms")
    parser.add_argument("--force", action="store_true",
                        help="delete and remake a kind whose images were made with other parameters")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tdfake.image_creation import create_images, parse_shard

    summary = create_images(
        args.src,
        args.out,
        image_specs(args),
        workers=args.workers,
        shard=parse_shard(args.shard),
        image_format=args.image_format,
        size=args.size,
        progress=not args.quiet,
        replace_changed=args.force,
    )
    print(f"tdfake images: {summary.line()}")
    return 0


def image_specs(args: argparse.Namespace) -> list[transforms.ImageSpec]:
    """Each kind of ``--kinds`` with ``--rank``, ``--method`` and ``--cp-rank`` as the global settings, and the
    ``--param`` values of the parameters it has; every kind keeps its own folder name (``OUT/TK/``, ...)."""
    given = {}
    for item in args.params:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--param expects KEY=VALUE, got {item!r}")
        given[key.strip()] = yaml.safe_load(raw)
    settings = {"rank": args.rank, "tucker_method": args.method, "cp_rank": args.cp_rank}
    specs = []
    for kind in args.kinds:
        own = {key: value for key, value in given.items() if key in transforms.spec(kind).values()}
        specs.append(dataclasses.replace(transforms.spec(kind, own, defaults=settings), folder=kind))
    unused = set(given) - {key for spec in specs for key in spec.values()}
    if unused:
        raise ValueError(f"--param {', '.join(sorted(unused))}: none of the kinds {args.kinds} has such a parameter")
    return specs
