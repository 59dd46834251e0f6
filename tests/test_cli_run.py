"""``tdfake run`` puts the figures where it is told: the config's graphs_dir, or ``--graphs DIR``.

The study itself is replaced by a recorder here (tests/test_study.py runs it for real); what
is checked is which folder the command hands it, so the demo never overwrites the tracked graphs/.
"""

from pathlib import Path

import pandas as pd
import pytest

from tdfake import study
from tdfake.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = str(ROOT / "configs" / "demo.yaml")


@pytest.fixture
def recorded(monkeypatch):
    """The configs ``tdfake run`` passes to the study, which returns an empty results table."""
    configs = []

    def record(cfg, force=False):
        configs.append(cfg)
        columns = ["test_set", "accuracy", "auroc", "thresh_test_eer", "study_accuracy", "study_auroc"]
        return pd.DataFrame(columns=columns)

    monkeypatch.setattr(study, "run_study", record)
    return configs


def test_demo_figures_go_under_the_run_folder_not_the_tracked_graphs(recorded):
    assert main(["run", "--config", DEMO]) == 0
    (cfg,) = recorded
    assert Path(cfg.graphs_dir) == Path("runs/demo/graphs") and Path(cfg.graphs_dir).parent == Path(cfg.out_dir)


def test_graphs_flag_overrides_the_config(recorded, tmp_path):
    assert main(["run", "--config", DEMO, "--graphs", str(tmp_path / "figures"), "--set", "graphs_dir=ignored"]) == 0
    assert recorded[0].graphs_dir == str(tmp_path / "figures")
