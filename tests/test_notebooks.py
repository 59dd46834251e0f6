"""The five notebooks run top to bottom (papermill) on the demo data with tiny settings.

They share one output folder, in order, as a user would run them: 02 makes the split and the
images, 03–05 train one arm each (one epoch at Xception's minimum input size), 05 compares.
"""

from pathlib import Path

import pytest

papermill = pytest.importorskip("papermill", reason="papermill is a dev dependency: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_data_description", "02_tucker_image_creation", "03_baseline", "04_tk", "05_tk_diff"]


@pytest.fixture(scope="module")
def tiny_overrides(tmp_path_factory):
    out = tmp_path_factory.mktemp("notebooks")
    return {
        "out_dir": str(out / "run"), "graphs_dir": str(out / "graphs"), "demo_dir": str(out / "demo"),
        "demo_n_per_class": 40, "demo_size": 128, "image_size": 71, "batch_size": 8, "epochs": 1,
        "train_fraction": 0.6, "val_fraction": 0.2, "test_fraction": 0.2,
    }


def test_committed_notebooks_carry_no_outputs():
    import nbformat

    for name in NOTEBOOKS:
        book = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), name
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name}: exactly one cell tagged 'parameters'"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(name, tiny_overrides, tmp_path):
    executed = tmp_path / f"{name}.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"), str(executed),
        parameters={"overrides": tiny_overrides}, cwd=str(ROOT / "notebooks"),
        kernel_name="python3", progress_bar=False,
    )
    assert executed.is_file()
