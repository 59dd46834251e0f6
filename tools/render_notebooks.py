"""Execute the six notebooks and write a rendered Markdown copy of each, figures beside it.

The committed notebooks carry no outputs; ``docs/notebooks/`` shows a reader on the web what
they produce.  Run from anywhere, after ``tdfake run --config configs/demo.yaml`` (the arm
notebooks then reuse the finished run instead of training again)::

    python tools/render_notebooks.py                        # the demo run -> docs/notebooks/
    python tools/render_notebooks.py --out /tmp/render --set epochs=1 --set out_dir=/tmp/run

``--set key=value`` overrides config fields as ``tdfake run --set`` does; values are YAML.
Each notebook is executed with papermill (from ``notebooks/``, as in Jupyter) into a temporary
folder and converted with nbconvert's Markdown exporter; its figures land in
``<out>/<name>_files/``.  What a reader would only skip is left out (:func:`tidy`): papermill's
injected-parameters cell (the ``--set`` values, if any, are noted in the parameters cell instead),
TensorFlow's start-up lines, progress bars (widgets, carriage-return frames, bars over nothing) and
colour codes.
"""

from __future__ import annotations

import argparse
import os
import re
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

from tdfake.tf_startup import drop_noise

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


WIDGET = "application/vnd.jupyter.widget-view+json"
"""An output Jupyter draws as a widget (tqdm's bars in a notebook); Markdown can show only its stale text."""


def stream_text(text: str) -> str:
    """A stream output as a reader should see it: no colour codes, no TensorFlow start-up noise, and of each
    carriage-return-redrawn line (a progress bar) only its last frame; empty progress bars dropped."""
    text = strip_ansi(text)
    text = drop_noise(text.encode()).decode()
    lines = [line.rsplit("\r", 1)[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r")
             for line in text.split("\n")]
    lines = [line for line in lines if not re.search(r": 0[a-z]* \[00:00", line)]  # tqdm over nothing
    return "\n".join(lines)


def tidy(book: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``book`` without papermill's injected-parameters cell and with readable stream outputs.

    An injected value that is not the notebook's own default is kept as a comment under the
    parameters cell (``# rendered with: epochs = 1``), so the page says what it ran with.
    """
    injected = [c for c in book.cells if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    own = [c for c in book.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if injected and own:
        defaults = {line.split("#", 1)[0].strip() for line in own[0].source.splitlines()}
        changed = [line.strip() for line in injected[0].source.splitlines()
                   if "=" in line and not line.startswith("#") and line.strip() not in defaults]
        own[0].source += "".join(f"\n# rendered with: {line}" for line in changed)
    cells = []
    for cell in book.cells:
        if any(cell is c for c in injected):
            continue
        outputs = []
        for output in cell.get("outputs", []):
            if WIDGET in output.get("data", {}):  # a progress-bar widget: its text is the bar's first frame
                continue
            if output.get("output_type") == "stream":
                output["text"] = stream_text(output["text"])
                if not output["text"].strip():
                    continue
            outputs.append(output)
        if cell.cell_type == "code":
            cell.outputs = outputs
        cells.append(cell)
    book.cells = cells
    return book


MARKDOWN_LINK = re.compile(r"\]\((?![a-z]+:|#)([^)\s#]+)")


def relink(body: str, out: Path) -> str:
    """``body`` with each link that a notebook writes relative to ``notebooks/`` made relative to ``out``.

    A notebook's prose links ``../docs/study.md`` as seen from ``notebooks/``; its rendered copy lives in
    ``out`` (``docs/notebooks/``), where that link would lead nowhere.  Links to nothing in the project (the
    exported figures, which are relative to ``out`` already) are left as they are.
    """
    def moved(link: re.Match) -> str:
        target = (ROOT / "notebooks" / link.group(1)).resolve()
        if not target.exists():
            return link.group(0)
        return f"]({Path(os.path.relpath(target, out.resolve())).as_posix()}"
    return MARKDOWN_LINK.sub(moved, body)


def render(name: str, parameters: dict, out: Path, workdir: Path) -> Path:
    """Execute ``notebooks/<name>.ipynb`` with ``parameters``; write ``out/<name>.md`` and its figures."""
    executed = workdir / f"{name}.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"), str(executed), parameters=parameters,
        cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False,
    )
    book = tidy(nbformat.read(executed, as_version=4))
    body, resources = MarkdownExporter().from_notebook_node(book, resources={"output_files_dir": f"{name}_files"})
    body = relink(body.replace(f"{ROOT}/", ""), out)  # project-relative paths: the reader's clone is elsewhere
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
