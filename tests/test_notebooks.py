"""The six notebooks run top to bottom (papermill) on the demo data with tiny settings, in two ways.

*Fresh* (:func:`test_notebook_runs_on_its_own_in_a_fresh_project`): each notebook alone, in a
project folder of its own holding only ``pyproject.toml``, ``configs/`` and ``notebooks/`` (as a
fresh clone has them, without ``runs/`` and ``data/``), so a notebook that needs another's
outputs fails.  It makes its data, split and images and trains what it shows (tiny settings).

*After `tdfake run`* (:func:`test_notebook_runs_top_to_bottom`): the notebooks whose point is what
a finished study holds run on the output folder of the session's tiny `tdfake run` (fixture
``tiny_study``), as a user runs them after `tdfake run`: 01 describes its data, 05 compares the three
finished arms (paired tests) and draws the figures, 06 reuses the sweep of fixture ``tiny_sweep`` (one
new rank and the study's own; the sweep itself is tested in tests/test_sweep.py).  02–04 only reuse
what the fresh run makes, so they run fresh only (each copy of the study costs ~1.5 GB of copying).
Only the notebooks of :data:`READ_ONLY` run on the shared study
itself, and fail if they write into it; every other one runs on its own copy, so no result depends
on the order the notebooks run in.

The helpers they call (:mod:`tdfake.notebook`) and the render tool's clean-up
(``tools/render_notebooks.py``) are checked here on their own as well.
"""

import importlib.util
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tdfake.config import Config
from tdfake.notebook import project_root, setup

papermill = pytest.importorskip("papermill", reason="papermill is a dev dependency: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_data_description", "02_tucker_image_creation", "03_baseline", "04_tk", "05_tk_diff",
             "06_rank_sweep"]
SWEEP_NOTEBOOK = "06_rank_sweep"
SWEEP_RANKS = [5, 30]
"""06's ranks in the test: those of fixture ``tiny_sweep`` (one new rank, and the tiny study's own), and 06's
defaults (in a fresh project both train)."""
FRESH_PROJECT = ("pyproject.toml", "configs", "notebooks")
"""What a fresh project folder holds: a clone's files the notebooks read, no ``runs/`` and no ``data/``."""
READ_ONLY = {"01_data_description"}
"""Notebooks that only read the study; the others (02's ``prepare`` rewrites images/skipped.csv, 03–05
rewrite their arm's config.yaml, 05 the figures, 06 the sweep table) each run on a copy."""
ARM_NOTEBOOKS = {"baseline": "03_baseline", "tk": "04_tk", "tk_diff": "05_tk_diff"}
AFTER_RUN = ["01_data_description", "05_tk_diff", "06_rank_sweep"]
"""The notebooks also run on the finished tiny study (see the module doc)."""


def code_cells(name: str) -> list:
    book = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    return [c for c in book.cells if c.cell_type == "code"]


def test_committed_notebooks_carry_no_outputs():
    for name in NOTEBOOKS:
        code = code_cells(name)
        assert all(not c.outputs and c.execution_count is None for c in code), name
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name}: exactly one cell tagged 'parameters'"


def test_arm_notebooks_make_the_same_calls_with_their_own_arm():
    bodies = {}
    for arm, name in ARM_NOTEBOOKS.items():
        code = code_cells(name)
        parameters = code[0]
        assert "parameters" in parameters.metadata.get("tags", []), f"{name}: the parameters cell comes first"
        assert parameters.source.splitlines()[0].startswith(f'arm = "{arm}"'), name
        bodies[arm] = [c.source for c in code[1:]]
    baseline, tk, tk_diff = bodies.values()
    assert baseline == tk == tk_diff[:len(baseline)], "03, 04 and 05 differ in more than their arm"


def test_setup_finds_the_project_root_from_the_notebooks_folder(monkeypatch):
    monkeypatch.chdir(ROOT / "notebooks")
    assert project_root() == ROOT
    cfg = setup("configs/demo.yaml", epochs=2, data_dir="data/mine")
    expected = Config.from_yaml(ROOT / "configs/demo.yaml").override(epochs=2, data_dir="data/mine").rooted(ROOT)
    assert cfg == expected
    assert Path(cfg.out_dir) == ROOT / "runs/demo" and Path(cfg.data_dir) == ROOT / "data/mine"


def test_setup_outside_a_project_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no tdfake project.*root="):
        setup()
    cfg = setup(ROOT / "configs/demo.yaml", root=tmp_path, epochs=3)
    assert cfg.epochs == 3 and Path(cfg.out_dir) == tmp_path / "runs/demo"


def test_setup_rejects_unknown_overrides(monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(KeyError, match="epoch"):
        setup(epoch=3)


@pytest.fixture
def study_for(request, tmp_path):
    """``study_for(name)``: the overrides the notebook ``name`` runs on (the shared study, or a copy)."""
    from tiny_models import copy_study, remove_study

    copies = []

    def study(name: str) -> dict:
        if name in READ_ONLY:
            return request.getfixturevalue("tiny_study_unchanged")
        if name == SWEEP_NOTEBOOK:
            source = request.getfixturevalue("tiny_sweep")["overrides"]
        else:
            source = request.getfixturevalue("tiny_study")
        copies.append(copy_study(source, tmp_path / "study"))
        return copies[-1]

    yield study
    for copied in copies:
        remove_study(copied)


def test_the_sweep_notebook_asks_for_the_ranks_the_shared_sweep_trained():
    from tiny_models import TINY_SWEEP_RANKS

    assert sorted(SWEEP_RANKS) == sorted(TINY_SWEEP_RANKS)  # so 06 reuses every arm of ``tiny_sweep``


@pytest.mark.slow
@pytest.mark.parametrize("name", AFTER_RUN)
def test_notebook_runs_top_to_bottom(name, study_for, tmp_path):
    executed = tmp_path / f"{name}.ipynb"
    overrides = study_for(name)
    parameters = {"overrides": overrides}
    if name == SWEEP_NOTEBOOK:
        parameters["ranks"] = SWEEP_RANKS
        trained = {p: p.stat().st_mtime_ns for p in Path(overrides["out_dir"]).glob("sweep/rank_*/*/best.keras")}
        assert len(trained) == 2
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"), str(executed), parameters=parameters, cwd=str(ROOT / "notebooks"),
        kernel_name="python3", progress_bar=False,
    )
    outputs = [o for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code" for o in c.outputs]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert figures, f"{name}: no figure was drawn as an image"
    if name == SWEEP_NOTEBOOK:  # the sweep's arms were reused, not trained again
        assert {p: p.stat().st_mtime_ns for p in trained} == trained


def executed_outputs(executed: Path) -> tuple[list, str]:
    """Every code cell's outputs of an executed notebook, and their text (streams, plain text, Markdown) joined."""
    outputs = [o for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code" for o in c.outputs]
    text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                     + o.get("data", {}).get("text/markdown", "") for o in outputs)
    return outputs, text


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_on_its_own_in_a_fresh_project(name, tmp_path):
    """Each notebook alone, on its defaults but the tiny settings, in a project folder with nothing made yet."""
    from tiny_models import TINY_STUDY

    project = tmp_path / "project"
    project.mkdir()
    for item in FRESH_PROJECT:
        source = ROOT / item
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, project / item)
    executed = tmp_path / f"{name}.ipynb"
    parameters = {"overrides": dict(TINY_STUDY)}  # no out_dir / demo_dir: the config's, inside the fresh project
    try:
        papermill.execute_notebook(
            str(project / "notebooks" / f"{name}.ipynb"), str(executed), parameters=parameters,
            cwd=str(project / "notebooks"), kernel_name="python3", progress_bar=False,
        )
        assert (project / "data" / "demo").is_dir(), f"{name} did not make the demo data in the fresh project"
    finally:
        for made in ("runs", "data"):  # checkpoints: tens of MB per arm
            shutil.rmtree(project / made, ignore_errors=True)
    outputs, text = executed_outputs(executed)
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{name}: no figure was drawn as an image"
    assert "**Conclusion.**" in text, f"{name}: no conclusion written from its results"
    assert "Config(" not in text, f"{name}: shows the Config repr"
    for noise in ("Could not find cuda drivers", "failed call to cuInit", "absl::InitializeLog"):
        assert noise not in text, f"{name}: TensorFlow's start-up line {noise!r} reached the notebook"


# ------------------------------------------------------------------------------------------- render tool

def render_tool():
    spec = importlib.util.spec_from_file_location("render_notebooks", ROOT / "tools" / "render_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_render_drops_the_injected_parameters_and_keeps_what_differs():
    book = new_notebook(cells=[
        new_code_cell('config = "configs/demo.yaml"  # the config\noverrides = {}  # fields',
                      metadata={"tags": ["parameters"]}),
        new_code_cell('# Parameters\nconfig = "configs/demo.yaml"\noverrides = {"epochs": 1}\n',
                      metadata={"tags": ["injected-parameters"]}),
        new_code_cell("x = 1"),
    ])
    tidied = render_tool().tidy(book)
    assert [c.source for c in tidied.cells[1:]] == ["x = 1"]
    assert tidied.cells[0].source.splitlines()[-1] == '# rendered with: overrides = {"epochs": 1}'
    assert "rendered with: config" not in tidied.cells[0].source


def test_render_relinks_the_notebooks_links_to_where_the_page_lands():
    body = ("See [the study](../docs/study.md#flaws), [a figure](03_baseline_files/roc.png) "
            "and [the web](https://example.org/a.md).")
    relinked = render_tool().relink(body, ROOT / "docs" / "notebooks")
    assert relinked == ("See [the study](../study.md#flaws), [a figure](03_baseline_files/roc.png) "
                        "and [the web](https://example.org/a.md).")
    assert (ROOT / "docs" / "notebooks" / "../study.md").exists()


def test_render_cleans_streams_of_bars_colour_codes_and_tensorflow_start_up(monkeypatch):
    from tdfake import tf_startup

    monkeypatch.setattr(tf_startup, "has_nvidia_driver", lambda: False)  # the CUDA lines are noise here
    noisy = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
             "I0000 00:00:1.2 17 cudart_stub.cc:31] "
             "Could not find cuda drivers on your machine, GPU will not be used.\n"
             "tdfake images: 0img [00:00, ?img/s]\n"
             "tdfake images:  50%|#  | 1/2 [00:00<00:00]\rtdfake images: 100%|##| 2/2 [00:01<00:00]\n"
             "\x1b[1mEpoch 1/5\x1b[0m\n")
    empty_bar = new_output("stream", name="stderr", text="tdfake images: 0img [00:00, ?img/s]\n")
    widget = new_output("display_data", data={"text/plain": "tdfake images:   0%|  | 0/80 [00:00<?, ?img/s]",
                                              "application/vnd.jupyter.widget-view+json": {"model_id": "1"}})
    cell = new_code_cell("run()", outputs=[new_output("stream", name="stderr", text=noisy), empty_bar, widget])
    tidied = render_tool().tidy(new_notebook(cells=[cell]))
    outputs = tidied.cells[0].outputs
    assert len(outputs) == 1  # the stream that held only an empty bar is gone, and the widget
    assert outputs[0]["text"] == "tdfake images: 100%|##| 2/2 [00:01<00:00]\nEpoch 1/5\n"
