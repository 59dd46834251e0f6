"""The config object: YAML round trip, overrides, the shipped configs."""

from pathlib import Path

import pytest

from tdfake.config import Config

ROOT = Path(__file__).resolve().parents[1]


def test_paper_config_is_the_study():
    cfg = Config.from_yaml(ROOT / "configs/paper.yaml")
    assert cfg.rank == [30, 30, 3]
    assert (cfg.image_size, cfg.batch_size, cfg.epochs) == (256, 32, 100)
    assert (cfg.base_lr, cfg.max_lr, cfg.step_size, cfg.gamma, cfg.clr_mode) == (1e-3, 7e-3, 300, 0.99994, "exp_range")
    assert (cfg.train_fraction, cfg.val_fraction, cfg.test_fraction) == (0.81, 0.09, 0.10)
    assert cfg.per_class == 10000 and cfg.weights == "imagenet" and cfg.head == "flatten"
    assert cfg.rescale == pytest.approx(1 / 255)
    assert (cfg.rotation_range, cfg.width_shift_range, cfg.height_shift_range) == (20, 0.1, 0.1)
    assert (cfg.shear_range, cfg.zoom_range, cfg.horizontal_flip, cfg.fill_mode) == (0.1, 0.1, True, "nearest")
    assert cfg.resize_method == "nearest"


def test_demo_config_runs_offline_on_demo_data():
    cfg = Config.from_yaml(ROOT / "configs/demo.yaml")
    assert cfg.data_dir is None and cfg.weights is None
    assert cfg.image_size >= 71  # Keras Xception's minimum input


def test_yaml_round_trip(tmp_path):
    cfg = Config().override(epochs=3, rank=[10, 10, 3])
    cfg.to_yaml(tmp_path / "c.yaml")
    assert Config.from_yaml(tmp_path / "c.yaml") == cfg


def test_string_overrides_are_typed():
    cfg = Config().override_from_strings(["epochs=3", "weights=null", "rank=[8, 8, 3]", "rescale=0.5"])
    assert cfg.epochs == 3 and cfg.weights is None and cfg.rank == [8, 8, 3] and cfg.rescale == 0.5


def test_unknown_keys_are_named(tmp_path):
    with pytest.raises(KeyError, match="epoch"):
        Config().override(epoch=3)
    with pytest.raises(ValueError, match="key=value"):
        Config().override_from_strings(["epochs"])
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        Config.from_yaml(tmp_path / "missing.yaml")


def test_rooted_moves_only_relative_folders(tmp_path):
    cfg = Config().override(out_dir="runs/x", data_dir=None, graphs_dir=str(tmp_path / "g")).rooted(tmp_path / "proj")
    assert cfg.out_dir == str(tmp_path / "proj/runs/x")
    assert cfg.data_dir is None and cfg.graphs_dir == str(tmp_path / "g")
    assert cfg.demo_dir == str(tmp_path / "proj/data/demo")
