"""The config object: YAML round trip, overrides, the shipped configs."""

import re
from pathlib import Path

import pytest
import yaml

from tdfake.config import CHOICES, Config, ConfigError

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
    assert cfg.tucker_method == "tensorly"  # the study's call, not the fast path (see the header of paper.yaml)


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


@pytest.mark.parametrize("field, value, allowed", [
    ("layout", "kaggle", "auto, ffpp, celebdf, dfdc, kaggle_dfdc, folders"),
    ("split_by", "video", "group, frame"),
    ("tucker_method", "slow", "fast, tensorly"),
    ("resize_method", "cubic", "nearest, bilinear"),
    ("fill_mode", "mirror", "nearest, constant, reflect, wrap"),
    ("head", "max", "flatten, avg"),
    ("backbone", "resnet", "xception, efficientnet_b0, small_cnn"),
    ("clr_mode", "cosine", "triangular, triangular2, exp_range"),
    ("optimizer", "nadam", "adam, adamw, sgd, rmsprop"),
    ("image_format", "gif", "None, png, jpg"),
    ("threshold", "fixed:1.5", "eer, youden or fixed:"),
    ("threshold", "median", "eer, youden or fixed:"),
    ("weights", "missing.weights.h5", "'imagenet', null"),
    ("rank", [30, 30], "three positive integers"),
    ("train_fraction", 0.5, "sum to 1"),
    ("batch_size", 0, "positive integer"),
    ("epochs", 2.5, "positive integer"),
    ("dropout", 1.0, "[0, 1)"),
    ("arms", {}, "must map arm names"),
    ("arms", {"tk": {"rank": [5, 5, 3]}}, "`input`"),
    ("arms", {"x": {"input": "XX"}}, "unknown image kind 'XX'"),
    ("arms", {"x": {"input": "TK", "sigma": 2}}, "unknown parameters ['sigma'] for image kind 'TK'"),
    ("arms", {"x": {"input": "TK", "rank": [5, 5]}}, "three positive integers"),
    ("arms", {"x": {"input": "blur", "sigma": 0}}, "positive number"),
    ("arms", {"images": {"input": "OR"}}, "not seed_<s> nor images"),
    ("arms", {"seed_3": {"input": "OR"}}, "not seed_<s>"),
    ("comparisons", [{"a": "baseline", "b": "tk_r5"}], "'tk_r5', which is not one of the arms"),
    ("comparisons", [{"a": "tk", "b": "tk"}], "with itself"),
    ("comparisons", [{"a": "baseline", "b": "tk", "non_inferiority_margin": 2}], "number in [0, 1)"),
    ("comparisons", [{"a": "baseline", "arm": "tk"}], "keys a, b"),
])
def test_bad_values_fail_when_the_config_is_built_naming_the_allowed_ones(field, value, allowed, tmp_path):
    with pytest.raises(ConfigError, match=re.escape(allowed)) as error:
        Config().override(**{field: value})  # a notebook override
    assert field in str(error.value)
    with pytest.raises(ConfigError, match=re.escape(allowed)):
        Config().override_from_strings([f"{field}={yaml.safe_dump(value, default_flow_style=True).strip()}"])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**Config().to_dict(), field: value}))
    with pytest.raises(ConfigError, match=f"{re.escape(str(path))}: .*{re.escape(allowed)}"):
        Config.from_yaml(path)


def test_arms_and_comparisons_are_data(tmp_path):
    """The issue's config: the study's arms spelled out, a lower-rank control arm and a blur arm, their comparisons."""
    path = tmp_path / "arms.yaml"
    path.write_text(
        "rank: [30, 30, 3]\ntucker_method: fast\n"
        "arms:\n"
        "  baseline: {input: OR}\n"
        "  tk:       {input: TK, rank: [30, 30, 3]}\n"
        "  tk_diff:  {input: TK_diff, rank: [30, 30, 3]}\n"
        "  tk_r5:    {input: TK, rank: [5, 5, 3]}\n"
        "  low_pass: {input: blur, sigma: 3}\n"
        "comparisons:\n"
        "  - {a: baseline, b: tk, non_inferiority_margin: 0.02}\n"
        "  - {a: baseline, b: tk_r5}\n")
    cfg = Config.from_yaml(path)
    folders = {arm: spec.folder for arm, spec in cfg.image_specs().items()}
    assert folders == {"baseline": "OR", "tk": "TK", "tk_diff": "TK_diff", "tk_r5": "TK_rank-5-5-3",
                       "low_pass": "blur_sigma-3.0"}  # the config's own rank keeps the study's folders
    assert cfg.image_spec("tk_r5").params.rank == (5, 5, 3) and cfg.image_spec("tk").params.method == "fast"
    assert [(c.a, c.b, c.non_inferiority_margin) for c in cfg.comparison_specs()] == [
        ("baseline", "tk", 0.02), ("baseline", "tk_r5", None)]
    # the defaults: the study's three arms and comparisons, the config's margin on tk against baseline
    study = Config(margin=0.05)
    assert {arm: spec.folder for arm, spec in study.image_specs().items()} == {
        "baseline": "OR", "tk": "TK", "tk_diff": "TK_diff"}
    assert [(c.a, c.b, c.non_inferiority_margin) for c in study.comparison_specs()] == [
        ("baseline", "tk", 0.05), ("baseline", "tk_diff", None), ("tk", "tk_diff", None)]
    # one arm more from the command line; the study's comparisons between the arms there are
    more = Config().override_from_strings(["arms.tk_r5={input: TK, rank: [5, 5, 3]}"])
    assert list(more.arms) == ["baseline", "tk", "tk_diff", "tk_r5"] and len(more.comparison_specs()) == 3
    only = Config(arms={"baseline": {"input": "OR"}, "tk_r5": {"input": "TK", "rank": [5, 5, 3]}})
    assert only.comparison_specs() == []  # none of the study's pairs is there
    with pytest.raises(ValueError, match=r"arm 'tk_r5' is not one of the config's arms \(baseline, tk, tk_diff\)"):
        Config().image_spec("tk_r5")
    cfg.to_yaml(tmp_path / "round.yaml")
    assert Config.from_yaml(tmp_path / "round.yaml") == cfg


def test_the_controls_config_is_the_demo_with_two_more_arms(tmp_path):
    demo, controls = Config.from_yaml(ROOT / "configs/demo.yaml"), Config.from_yaml(ROOT / "configs/demo_controls.yaml")
    assert controls.override(name=demo.name, arms=demo.arms, comparisons=None) == demo  # `base: demo.yaml`
    assert {arm: spec.folder for arm, spec in controls.image_specs().items()} == {
        "baseline": "OR", "tk": "TK", "tk_diff": "TK_diff", "tk_r5": "TK_rank-5-5-3", "low_pass": "blur"}
    assert ("baseline", "tk_r5", None) in [(c.a, c.b, c.non_inferiority_margin) for c in controls.comparison_specs()]
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="leads back to itself"):
        Config.from_yaml(tmp_path / "loop.yaml")
    (tmp_path / "child.yaml").write_text("base: missing.yaml\n")
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        Config.from_yaml(tmp_path / "child.yaml")


def test_good_values_pass(tmp_path):
    weights = tmp_path / "xception.weights.h5"
    weights.write_bytes(b"")
    cfg = Config().override(threshold="fixed:0.3", weights=str(weights), zoom_range=[0.8, 1.2], per_class=None,
                            image_format="png", optimizer="sgd", split_by="frame")
    assert cfg.threshold == "fixed:0.3" and cfg.zoom_range == [0.8, 1.2]


def test_unreadable_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("epochs: [3\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        Config.from_yaml(path)


def test_choices_match_the_modules_that_use_them():
    from tdfake import dataset_layouts, model, pipeline, train, tucker

    assert CHOICES["layout"] == dataset_layouts.LAYOUTS
    assert CHOICES["tucker_method"] == tucker.METHODS
    assert CHOICES["head"] == model.HEADS
    assert CHOICES["clr_mode"] == model.CyclicalLR.MODES
    assert set(CHOICES["fill_mode"]) == set(pipeline._BORDERS)
    assert set(CHOICES["optimizer"]) == set(train.OPTIMIZERS)


def test_small_cnn_with_imagenet_weights_is_refused_when_the_config_is_built():
    with pytest.raises(ConfigError, match="backbone=small_cnn.*no ImageNet weights.*weights: null"):
        Config().override(backbone="small_cnn")  # the default weights are ImageNet's
    assert Config().override(backbone="small_cnn", weights=None).backbone == "small_cnn"
