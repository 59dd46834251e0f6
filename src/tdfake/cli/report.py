"""``tdfake report``: results pages and the README's headline table, made from runs' CSVs (:mod:`tdfake.report`)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="write a results page's generated tables (run card, comparisons, per-seed results) from a "
                       "run's CSVs",
        description="Fill the generated blocks of a results page from results.csv, seeds.csv, comparisons.csv and "
                    "the run card (card.yaml), leaving the typed prose around them as it is; a new page gets every "
                    "block and a 'Reading' section for prose. The sources are copied into the folder beside the "
                    "page (PAGE.md -> PAGE/) so the committed page can be regenerated from them. With --headline, "
                    "fill README.md's headline table from the folders given (or those its marker names).",
    )
    parser.add_argument("folders", nargs="*", metavar="RUN_OR_FOLDER",
                        help="a finished `tdfake run` folder (runs/NAME) or a page's folder (docs/results/NAME)")
    parser.add_argument("--out", metavar="PAGE.md",
                        help="the page to write (default: RUN_OR_FOLDER.md, beside the folder); one folder only")
    parser.add_argument("--card", metavar="CARD.yaml",
                        help="the run card (default: card.yaml in the page's folder, else in RUN_OR_FOLDER); "
                             "one folder only")
    parser.add_argument("--machine", action="store_true",
                        help="first write this machine's CPU model, instruction set, cores and BLAS into the card "
                             "(run it on the machine that ran the study)")
    parser.add_argument("--headline", metavar="README.md",
                        help="fill this file's headline block instead, one column per folder")
    parser.set_defaults(func=report)


def report(args: argparse.Namespace) -> int:
    from tdfake.report import write_headline, write_page  # late, as every import of the CLI's handlers

    if args.headline:
        if args.out or args.card or args.machine:
            raise ValueError("--headline fills the README's table only; write pages (--out, --card, --machine) "
                             "in a separate call")
        write_headline(args.headline, args.folders)  # logs what it wrote
        return 0
    if not args.folders:
        raise ValueError("name a run folder (runs/NAME) or a page's folder (docs/results/NAME), or give --headline")
    if len(args.folders) > 1 and (args.out or args.card):
        raise ValueError("--out and --card name one page's files; give one folder with them")
    for folder in args.folders:
        write_page(folder, args.out, args.card, fill_machine_fields=args.machine)  # logs what it wrote
    return 0
