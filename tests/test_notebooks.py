"""The six notebooks run top to bottom (papermill) on the demo data with tiny settings.

They run on the output folder of the session's tiny `tdfake run` (fixture ``tiny_study``), as a
user runs them after `tdfake run`: 02 reuses the split and images, 03–05 reuse their finished
arm (training itself is tested in tests/test_train.py and tests/test_study.py), 05 compares and
draws the figures, 06 reuses the sweep of fixture ``tiny_sweep`` (one new rank and the study's own;
the sweep itself is tested in tests/test_sweep.py).  Only the notebooks of :data:`READ_ONLY` run on
the shared study itself, and fail if they write into it; every other one runs on its own copy,
so no result depends on the order the notebooks run in.
The helpers they call (:mod:`tdfake.notebook`) are checked here on their own as well.
"""

from pathlib import Path

import nbformat
import pytest

from tdfake.config import Config
from tdfake.notebook import project_root, setup

papermill = pytest.importorskip("papermill", reason="papermill is a dev dependency: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_data_description", "02_tucker_image_creation", "03_baseline", "04_tk", "05_tk_diff",
             "06_rank_sweep"]
SWEEP_NOTEBOOK = "06_rank_sweep"
SWEEP_RANKS = [5, 30]
"""06's ranks in the test: those of fixture ``tiny_sweep`` (one new rank, and the tiny study's own)."""
READ_ONLY = {"01_data_description"}
"""Notebooks that only read the study; the others (02's ``prepare`` rewrites images/skipped.csv, 03–05
rewrite their arm's config.yaml, 05 the figures, 06 the sweep table) each run on a copy."""
ARM_NOTEBOOKS = {"baseline": "03_baseline", "tk": "04_tk", "tk_diff": "05_tk_diff"}


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
@pytest.mark.parametrize("name", NOTEBOOKS)
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
