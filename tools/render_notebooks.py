"""Execute the six notebooks and write a rendered Markdown copy of each, figures beside it.

The committed notebooks carry no outputs; ``docs/notebooks/`` shows a reader on the web what
they produce.  Run from anywhere, after ``tdfake run --config configs/demo.yaml`` (the arm
notebooks then reuse the finished run instead of training again)::

    python tools/render_notebooks.py                        # the demo run -> docs/notebooks/
    python tools/render_notebooks.py --out /tmp/render --set epochs=1 --set out_dir=/tmp/run

``--set key=value`` overrides config fields as ``tdfake run --set`` does; values are YAML.
Each notebook is executed with papermill (from ``notebooks/``, as in Jupyter) into a temporary
folder and converted with nbconvert's Markdown exporter; its figures land in
``<out>/<name>_files/``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import papermill
import yaml
from nbconvert import MarkdownExporter
from nbconvert.filters import strip_ansi
from nbconvert.writers import FilesWriter

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("01_data_description", "02_tucker_image_creation", "03_baseline", "04_tk", "05_tk_diff",
             "06_rank_sweep")


def parse_assignments(assignments: list[str]) -> dict:
    """``["epochs=1", "rank=[10, 10, 3]"]`` -> ``{"epochs": 1, "rank": [10, 10, 3]}``."""
    values = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects key=value, got {item!r}")
        values[key.strip()] = yaml.safe_load(raw)
    return values


def render(name: str, parameters: dict, out: Path, workdir: Path) -> Path:
    """Execute ``notebooks/<name>.ipynb`` with ``parameters``; write ``out/<name>.md`` and its figures."""
    executed = workdir / f"{name}.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"), str(executed), parameters=parameters,
        cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False,
    )
    book = nbformat.read(executed, as_version=4)
    for cell in book.cells:  # Keras progress bars colour their text; Markdown shows the codes raw
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                output["text"] = strip_ansi(output["text"])
    body, resources = MarkdownExporter().from_notebook_node(book, resources={"output_files_dir": f"{name}_files"})
    body = body.replace(f"{ROOT}/", "")  # project-relative paths: the reader's clone is elsewhere
    shutil.rmtree(out / f"{name}_files", ignore_errors=True)  # no stale figures from an earlier render
    FilesWriter(build_directory=str(out)).write(body, resources, notebook_name=name)
    return out / f"{name}.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/demo.yaml", help="config, relative to the project root")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field (repeatable)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "notebooks"), help="where the Markdown goes")
    parser.add_argument("notebooks", nargs="*", default=list(NOTEBOOKS), metavar="NAME",
                        help=f"which notebooks (default: all six, in order: {' '.join(NOTEBOOKS)})")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernels inherit it: less TensorFlow start-up noise
    unknown = sorted(set(args.notebooks) - set(NOTEBOOKS))
    if unknown:
        parser.error(f"no notebook {', '.join(unknown)} in notebooks/; choose from {' '.join(NOTEBOOKS)}")
    parameters = {"config": args.config, "overrides": parse_assignments(args.assignments)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tdfake-render-") as workdir:
        for name in args.notebooks:
            print(f"{name}: executing", flush=True)
            print(f"{name}: {render(name, parameters, out, Path(workdir))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
