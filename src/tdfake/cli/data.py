"""Data subcommands: ``manifest``, ``split``, ``faces``, ``demo-data`` (thin over tdfake's data modules)."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from tdfake.cli.options import add_download_arguments
from tdfake.constants import SEED, SPLIT_FRACTIONS, SPLIT_MODES
from tdfake.dataset_layouts import LAYOUTS
from tdfake.faces import DETECT_SIZE  # no TensorFlow: MTCNN is imported when a face is first sought


def add_detect_size_argument(parser: argparse.ArgumentParser) -> None:
    """``--detect-size N``: the longer side of the copy of each frame that MTCNN searches (0: full resolution)."""
    parser.add_argument("--detect-size", type=int, default=DETECT_SIZE, metavar="N",
                        help=f"search faces on a copy of each frame whose longer side is N px, then crop from the "
                             f"full frame (default {DETECT_SIZE}; 0: search the full frame; "
                             "crops for training and for prediction should use the same N)")


def register(subparsers) -> None:
    p = subparsers.add_parser("manifest", help="list the face crops of a data folder with labels, methods and groups",
                              description="Write a manifest CSV (root, path, label, method, video, group) of a "
                                          "data folder and print images and groups per class and method.")
    p.add_argument("data", help="data folder with REAL/ (or real/) and FAKE/ (or fake/), or Kaggle's "
                                "deepfake-faces download (faces_224/ and metadata.csv)")
    p.add_argument("-o", "--output", required=True, help="manifest CSV to write")
    p.add_argument("--layout", default="auto", choices=LAYOUTS)
    p.add_argument("--group-regex", help="folders layout: regex whose first capture group (on the file name "
                                          "without suffix) names the group")
    p.add_argument("--metadata", help="dfdc layout: DFDC's metadata.json (kaggle_dfdc: metadata.csv) when it "
                                      "is not in DATA")
    p.set_defaults(func=_manifest)

    p = subparsers.add_parser("split", help="split a manifest into train / val / test (grouped, stratified, seeded)",
                              description="Add a split column to a manifest: 81/9/10 by default, no group in two "
                                          "splits, each class at the fractions, seeded, independent of row order; "
                                          "print frames, videos and groups per split and class.")
    p.add_argument("manifest", help="manifest CSV (from `tdfake manifest`) or a data folder")
    p.add_argument("-o", "--output", required=True, help="split CSV to write (put it beside the run it feeds)")
    p.add_argument("--by", default="group", choices=SPLIT_MODES,
                   help="group: no video in two splits (default); frame: the study's leaky split")
    p.add_argument("--fractions", nargs=3, type=float, default=list(SPLIT_FRACTIONS), metavar=("TRAIN", "VAL", "TEST"))
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--per-class", type=int, help="sample N images per class first, an even share of every video "
                                                 "spread over its frames (the study: 10000)")
    p.add_argument("--official", help="folder with FaceForensics++'s train.json, val.json, test.json")
    p.set_defaults(func=_split)

    p = subparsers.add_parser("faces", help="extract square face crops from videos and images (MTCNN)",
                              description="Detect faces with MTCNN in videos (every Nth frame) and images under "
                                          "SRC, save square crops as OUT/<relative folder>/{video}_frame{N}.jpg; "
                                          "failures go to OUT/skipped.csv; re-running resumes. A FaceForensics++ "
                                          "or Celeb-DF download as it is (SRC holding original_sequences/ and "
                                          "manipulated_sequences/, or Celeb-real/, Celeb-synthesis/, "
                                          "YouTube-real/) becomes the crop tree OUT/REAL/ + OUT/FAKE/<Method>/.")
    p.add_argument("src", help="a video, an image, a folder of them, or a FaceForensics++ / Celeb-DF download")
    p.add_argument("out", help="output folder")
    add_download_arguments(p)
    p.add_argument("--every", type=int, default=10, help="keep every Nth video frame (default 10)")
    p.add_argument("--margin", type=float, default=1.3, help="crop side = margin x the face box's longer side")
    p.add_argument("--size", type=int, default=256, help="output side in pixels")
    p.add_argument("--min-confidence", type=float, default=0.9, help="ignore detections below this score")
    add_detect_size_argument(p)
    p.set_defaults(func=_faces)

    p = subparsers.add_parser("demo-data", help="make the built-in offline demo dataset",
                              description="Write real face 'videos' and self-blended fakes (REAL/, "
                                          "FAKE/SelfBlended/) made from photos that installed packages ship.")
    p.add_argument("out", help="output folder")
    p.add_argument("--n-per-class", type=int, default=200)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames-per-video", type=int, default=5)
    p.add_argument("--strength", type=float, default=1.0, help="blending artefact strength (1: clear, 0.5: subtle)")
    p.add_argument("--unpaired", dest="paired", action="store_false",
                   help="each fake's colour source is a donor outside the set (one real video + its fake per group) "
                        "instead of the paired real video (FaceForensics++ pairs)")
    p.set_defaults(func=_demo)


def _write_csv(table, output: str) -> Path:
    """Write a manifest or split table to ``output`` (making its folder); returns the path."""
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return path


def _manifest(args: argparse.Namespace) -> int:
    from tdfake.datasets import build_manifest, summary

    with warnings.catch_warnings(record=True) as caught:  # printed with the summary, not lost on stderr
        warnings.simplefilter("always")
        manifest = build_manifest(args.data, layout=args.layout, group_regex=args.group_regex, metadata=args.metadata)
    output = _write_csv(manifest, args.output)
    print(summary(manifest).to_string())
    for warning in caught:
        print(f"warning: {warning.message}")
    print(f"{len(manifest)} images, {manifest['group'].nunique()} groups -> {output}")
    return 0


def _split(args: argparse.Namespace) -> int:
    from tdfake.datasets import build_manifest, read_manifest
    from tdfake.split import split_manifest, split_summary

    source = Path(args.manifest)
    manifest = build_manifest(source) if source.is_dir() else read_manifest(source)
    split = split_manifest(manifest, fractions=tuple(args.fractions), by=args.by, seed=args.seed,
                           per_class=args.per_class, official=args.official)
    output = _write_csv(split, args.output)
    print(split_summary(split).to_string())
    print(f"split by {'official lists' if args.official else args.by}, seed {args.seed} -> {output}")
    return 0


def _faces(args: argparse.Namespace) -> int:
    from tdfake.dataset_faces import extract_download
    from tdfake.dataset_layouts import download_layout
    from tdfake.faces import extract_faces

    options = {"every": args.every, "margin": args.margin, "size": args.size, "min_confidence": args.min_confidence,
               "detect_size": args.detect_size or None}
    if Path(args.src).is_dir() and download_layout(args.src) is not None:
        result = extract_download(args.src, args.out, args.compression, args.methods, **options)
    elif args.compression or args.methods:
        raise ValueError(f"{args.src}: not a FaceForensics++ or Celeb-DF download; --compression and --methods "
                         "pick from one")
    else:
        result = extract_faces(args.src, args.out, **options)
    print(f"{result.written} crops written, {result.existing} already there, {result.skipped} skipped, "
          f"{result.resumed} files finished earlier (see {Path(args.out) / 'skipped.csv'})")
    return 0


def _demo(args: argparse.Namespace) -> int:
    import time

    from tdfake.demo import make_demo_data

    start = time.perf_counter()
    out = make_demo_data(args.out, n_per_class=args.n_per_class, size=args.size, seed=args.seed,
                         frames_per_video=args.frames_per_video, strength=args.strength,
                         paired=args.paired, progress=True)
    print(f"demo data in {out} ({2 * args.n_per_class} images, {time.perf_counter() - start:.1f} s)")
    return 0
