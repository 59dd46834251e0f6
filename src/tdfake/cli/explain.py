"""``tdfake explain``: Grad-CAM of a trained arm, or of every arm of a study (see :mod:`tdfake.explain`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="Grad-CAM: where an arm looks, drawn over the image it sees (PNG per image; grid for a study)",
        description=(
            "Grad-CAM on the network's last convolutional block (Xception's block14_sepconv2_act; another "
            "backbone's last layer with a spatial output) for each image, drawn over the image the "
            "arm sees (OR, TK or TK_diff). RUN is one arm folder (`tdfake train`) or a `tdfake run` "
            "folder: then every finished arm explains the same images and OUT/explain_grid.png shows "
            "them side by side. Without images, N real and N fake images of the test split (seeded). "
            "Writes OUT/<arm>/<image>.png and OUT/<arm>/explain.csv; unreadable images are skipped "
            "and listed in OUT/<arm>/skipped.csv."
        ),
    )
    parser.add_argument("run_dir", metavar="RUN", help="an arm folder (e.g. runs/demo/tk) or a study folder "
                                                       "(e.g. runs/demo)")
    parser.add_argument("paths", metavar="IMAGE_OR_FOLDER", nargs="*",
                        help="images or folders to explain (default: test images of the run's split)")
    parser.add_argument("-o", "--out", metavar="OUT", help="output folder (default: RUN/explain)")
    parser.add_argument("--n-per-class", type=int, default=2, metavar="N",
                        help="test images per class when no images are given (default 2)")
    parser.add_argument("--target", choices=("predicted", "fake", "real"), default="predicted",
                        help="class whose score is explained: each image's own decision at the run's "
                             "validation threshold (default), or always fake / always real")
    parser.set_defaults(func=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    from tdfake.explain import explain_run, explain_study
    from tdfake.layout import is_run

    run_dir = Path(args.run_dir)
    options = {"paths": args.paths or None, "out": args.out, "n_per_class": args.n_per_class, "target": args.target}
    table = explain_run(run_dir, **options) if is_run(run_dir) else explain_study(run_dir, **options)
    print(table.to_string(index=False))
    return 0
