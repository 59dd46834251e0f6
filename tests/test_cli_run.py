"""``tdfake run`` puts the figures where it is told: the config's graphs_dir, or ``--graphs DIR``.

The study and the figures are replaced by recorders here (tests/test_study.py runs them for real);
what is checked is which folders the command hands them, so the demo never overwrites the tracked
graphs/, and that the command draws the figures itself (``run_study`` draws nothing).
"""

from pathlib import Path

import pandas as pd
import pytest

from tdfake import graphs, study
from tdfake.cli import main
from tdfake.results import COMPARISON_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
DEMO = str(ROOT / "configs" / "demo.yaml")


@pytest.fixture
def recorded(monkeypatch):
    """The configs ``tdfake run`` passes to the study (which returns empty tables) and the folders it draws."""
    calls = {"configs": [], "graphs": []}

    def record(cfg, force=False):
        calls["configs"].append(cfg)
        columns = ["test_set", "seed", "auroc", "accuracy_at_threshold", "accuracy_at_0.5", "study_auroc",
                   "study_accuracy_at_0.5"]
        return study.StudyResults(results=pd.DataFrame(columns=columns), seeds=pd.DataFrame(),
                                  comparisons=pd.DataFrame(columns=COMPARISON_COLUMNS))

    def draw(out_dir, graphs_dir=None):
        calls["graphs"].append((out_dir, graphs_dir))
        return {}

    monkeypatch.setattr(study, "run_study", record)
    monkeypatch.setattr(graphs, "draw_graphs", draw)
    return calls


def test_demo_figures_go_under_the_run_folder_not_the_tracked_graphs(recorded):
    assert main(["run", "--config", DEMO]) == 0
    (cfg,) = recorded["configs"]
    assert Path(cfg.graphs_dir) == Path("runs/demo/graphs") and Path(cfg.graphs_dir).parent == Path(cfg.out_dir)
    assert recorded["graphs"] == [(cfg.out_dir, cfg.graphs_dir)]  # the command draws, once, into that folder


def test_graphs_flag_overrides_the_config(recorded, tmp_path):
    assert main(["run", "--config", DEMO, "--graphs", str(tmp_path / "figures"), "--set", "graphs_dir=ignored"]) == 0
    assert recorded["configs"][0].graphs_dir == str(tmp_path / "figures")
    assert recorded["graphs"] == [(recorded["configs"][0].out_dir, str(tmp_path / "figures"))]


def test_seeds_flag_sets_the_training_seeds(recorded):
    assert main(["run", "--config", DEMO, "--seeds", "1", "2", "3"]) == 0
    assert list(recorded["configs"][0].seeds) == [1, 2, 3]


def test_train_takes_the_configs_arm_names(tmp_path, capsys):
    """--arm is any arm of the config; another name stops before any data is made, naming the config's arms."""
    config = tmp_path / "control.yaml"
    arms = "arms:\n  baseline: {input: OR}\n  tk_r5: {input: TK, rank: [5, 5, 3]}\n"
    config.write_text(Path(DEMO).read_text() + arms)
    assert main(["train", "--config", str(config), "--arm", "tk", "--out-dir", str(tmp_path / "run")]) == 2
    assert "arm 'tk' is not one of the config's arms (baseline, tk_r5)" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
