"""``tdfake evaluate`` and ``tdfake predict``: score a trained arm (see :mod:`tdfake.evaluate`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tdfake.cli.data import add_detect_size_argument
from tdfake.cli.options import add_download_arguments
from tdfake.dataset_layouts import LAYOUTS

DEFAULT_FRAMES = 32  # tdfake.video_io.DEFAULT_FRAMES (not imported: `tdfake --help` stays free of TensorFlow)


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """``--frames K`` / ``--every N``: which frames of each video are scored."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--frames", type=int, default=DEFAULT_FRAMES, metavar="K",
                       help=f"frames per video, evenly spaced from first to last (default {DEFAULT_FRAMES}, "
                            "as DeepfakeBench)")
    group.add_argument("--every", type=int, metavar="N", help="every Nth frame of each video instead of --frames")
    add_detect_size_argument(parser)


def register(subparsers) -> None:
    evaluate = subparsers.add_parser(
        "evaluate",
        help="score a run's best checkpoint on its test split (or other data); write report.md/json",
        description=(
            "Score RUN_DIR/best.keras on the run's test split, choosing the decision threshold on its "
            "validation split, and write predictions.csv, report.md and report.json into RUN_DIR. "
            "With --data, score a manifest CSV (its test rows when it has a split column) or a folder "
            "of real/ and fake/ images instead, written into RUN_DIR/eval-<name> (or --out). A --data "
            "folder of videos (real/ and fake/, or any layout `tdfake manifest` reads) is scored video by "
            "video (mean of the sampled frames' scores): video-level and frame-level reports; RUN_DIR may "
            "then be a `tdfake run` folder (every finished arm, each into OUT/<arm>). So is a FaceForensics++ "
            "or Celeb-DF download as it is; where the folder holds the dataset's official test list "
            "(FF++ test.json, Celeb-DF List_of_testing_videos.txt), only its videos are scored."
        ),
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `tdfake train` / `tdfake run`")
    evaluate.add_argument("--data", metavar="MANIFEST_OR_FOLDER", help="other labelled data (images or videos)")
    evaluate.add_argument("--out", metavar="DIR", help="where to write the report for --data")
    evaluate.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                          help="bootstrap resamples for the 95%% intervals (default 1000; 0 skips them)")
    add_sampling_arguments(evaluate)
    evaluate.add_argument("--layout", default="auto", choices=LAYOUTS,
                          help="how --data is laid out (default: recognised, or an error saying what was seen)")
    add_download_arguments(evaluate)
    official = evaluate.add_mutually_exclusive_group()
    official.add_argument("--test-list", metavar="FILE",
                          help="videos: score only those of this official test list (FF++ test.json, Celeb-DF "
                               "List_of_testing_videos.txt); default: the one in --data, if there")
    official.add_argument("--all-videos", action="store_true",
                          help="videos: score every video, even where --data holds an official test list")
    evaluate.set_defaults(func=run_evaluate)

    predict = subparsers.add_parser(
        "predict",
        help="P(fake) for images, videos or folders of them",
        description=(
            "Score image and video files and folders (searched recursively) with RUN's best.keras; RUN is "
            "an arm folder or a `tdfake run` folder (every finished arm). Images only: prints CSV (path, "
            "score, prediction, error; per-arm columns for several arms) or writes it with -o CSV. With "
            "videos: the largest face of each sampled frame, cropped as `tdfake faces` does, becomes each "
            "arm's input image; writes frames.csv and videos.csv (and images.csv for the images of the "
            "call) into -o DIR (default RUN/predict) and prints a short table. Predictions use the "
            "threshold each run chose on validation (0.5 before it was evaluated)."
        ),
    )
    predict.add_argument("run_dir", metavar="RUN")
    predict.add_argument("paths", metavar="PATH", nargs="+", help="image or video files, or folders of them")
    predict.add_argument("-o", "--output", metavar="CSV_OR_DIR",
                         help="images only: the CSV to write instead of stdout; with videos: the output folder")
    predict.add_argument("--threshold", type=float, help="decision threshold for every arm's prediction")
    add_sampling_arguments(predict)
    predict.add_argument("--annotate", metavar="DIR", help="one score-over-time PNG per video into DIR")
    predict.set_defaults(func=run_predict)


def _detector(args: argparse.Namespace):
    """The face detector of ``--detect-size`` (0: full resolution)."""
    from tdfake.faces import FaceDetector

    return FaceDetector(detect_size=args.detect_size or None)


def run_evaluate(args: argparse.Namespace) -> int:
    from tdfake.dataset_layouts import official_test_list
    from tdfake.evaluate import evaluate_run
    from tdfake.layout import find_runs
    from tdfake.video import evaluate_videos, holds_videos, list_videos

    if args.data is not None and holds_videos(args.data):
        test_list = False if args.all_videos else args.test_list or True
        if test_list is True:
            test_list = official_test_list(args.data, args.layout, list_videos) or False
        if test_list:
            print(f"tdfake: scoring the videos of the test list {test_list} (--all-videos scores every video)",
                  file=sys.stderr)
        for done in evaluate_videos(find_runs([args.run_dir]), args.data, out_dir=args.out,
                                    n_bootstrap=args.bootstrap, frames=args.frames, every=args.every,
                                    data_layout=args.layout, compression=args.compression, methods=args.methods,
                                    test_list=test_list, detector=_detector(args)):
            print((done.out / "report.md").read_text())
            print(f"tdfake: {done.run.arm}: report, videos.csv and frames.csv in {done.out}", file=sys.stderr)
        return 0
    video_only = {"--compression": args.compression, "--methods": args.methods, "--test-list": args.test_list,
                  "--all-videos": args.all_videos}
    given = [flag for flag, value in video_only.items() if value]
    if given:
        raise ValueError(f"{', '.join(given)}: only for a --data folder of videos; {args.data} holds none")
    report = evaluate_run(args.run_dir, data=args.data, out_dir=args.out, n_bootstrap=args.bootstrap, verbose=1,
                          data_layout=args.layout)
    print(report.to_markdown())
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from tdfake import layout
    from tdfake.video import predict, predict_images, short_table, split_paths

    images, videos = split_paths(args.paths)
    runs = layout.find_runs([args.run_dir])
    if videos:
        out = Path(args.output) if args.output else Path(args.run_dir) / layout.PREDICT_DIR
        if out.suffix.lower() == ".csv":
            raise ValueError(f"-o {out}: with videos, -o names a folder (frames.csv, videos.csv go into it)")
        done = predict(runs, images, videos, out, frames=args.frames, every=args.every, threshold=args.threshold,
                       annotate_dir=args.annotate, detector=_detector(args))
        print(short_table(done.videos, list(done.thresholds)))
        written = [layout.FRAMES_CSV, layout.VIDEOS_CSV] + ([layout.IMAGES_CSV] if images else [])
        print(f"tdfake: {', '.join(written)} written to {out}" +
              (f"; {len(done.figures)} figures in {args.annotate}" if args.annotate else ""), file=sys.stderr)
        return 0
    table = predict_images(runs, images, threshold=args.threshold)
    if args.output:
        table.to_csv(args.output, index=False)
        print(f"tdfake: {len(table)} predictions written to {args.output}", file=sys.stderr)
    else:
        table.to_csv(sys.stdout, index=False)
    failed = int((table["error"] != "").sum())
    if failed:
        print(f"tdfake: {failed} files could not be read (see the error column)", file=sys.stderr)
    return 0
