"""The backbone registry: each entry's input scaling, a backbone registered at test time, EfficientNetB0."""

import keras
import numpy as np
import pytest

from tdfake import backbones
from tdfake.backbones import BACKBONES, Backbone, register_backbone
from tdfake.config import Config, ConfigError
from tdfake.model import build_model, input_scaling
from tdfake.pipeline import input_scale

PIXEL = 200.0
"""The grey level of the constant test image."""


@pytest.mark.parametrize(("backbone", "preprocess", "expected"), [
    ("xception", "study", PIXEL / 255),               # the study's [0, 1] input
    ("xception", "backbone", PIXEL / 127.5 - 1),      # keras.applications.xception.preprocess_input
    ("small_cnn", "study", PIXEL / 255),
    ("small_cnn", "backbone", PIXEL / 255),
    ("efficientnet_b0", "backbone", PIXEL / 255),     # EfficientNet's own Rescaling(1/255); its Normalization is
])                                                    # the identity until ImageNet weights set its statistics
def test_a_constant_image_reaches_the_first_convolution_as_each_backbone_expects(backbone, preprocess, expected):
    cfg = Config(backbone=backbone, preprocess=preprocess, weights=None, image_size=72)
    model = build_model(cfg.backbone, cfg.image_size, None, "avg", 8, 0.0, preprocess=cfg.preprocess)
    # the pipeline hands over pixels x input_scale(cfg): PIXEL * 1/255 under "study", PIXEL under "backbone"
    model_input_pixel = PIXEL * input_scale(cfg)
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    probe = keras.Model(model.inputs, conv.input)
    seen = np.asarray(probe(np.full((1, 72, 72, 3), model_input_pixel, np.float32)))[:, :72, :72]  # less padding
    np.testing.assert_allclose(seen, expected, rtol=1e-5)


def test_xception_backbone_scaling_matches_keras_preprocess_input():
    pixels = np.linspace(0, 255, 12, dtype=np.float32).reshape(1, 2, 2, 3)
    scale, offset = input_scaling(BACKBONES["xception"], "backbone")
    expected = keras.applications.xception.preprocess_input(pixels.copy())
    np.testing.assert_allclose(pixels * scale + offset, expected, rtol=1e-6, atol=1e-6)


def test_the_study_scaling_is_refused_for_a_backbone_that_rescales_inside():
    with pytest.raises(ConfigError, match="scale the pixels twice; set preprocess: backbone"):
        Config(backbone="efficientnet_b0", preprocess="study", weights=None)
    with pytest.raises(ConfigError, match="backbone='resnet' is not allowed; choose one of"):
        Config(backbone="resnet")


def test_old_configs_read_mixed_precision_as_a_precision_policy():
    assert Config().override(mixed_precision=True).precision == "mixed_float16"
    assert Config().override(mixed_precision=False).precision == "float32"
    with pytest.raises(ConfigError, match="precision='half' is not allowed"):
        Config(precision="half")


def test_a_backbone_registered_at_run_time_is_a_config_choice(monkeypatch):
    monkeypatch.setitem(BACKBONES, "one_conv", None)  # restored after the test

    def one_conv(inputs, imagenet):
        x = keras.layers.Conv2D(4, 3, name="only_conv")(inputs)
        return keras.Model(keras.utils.get_source_inputs(inputs), x)

    register_backbone(Backbone(name="one_conv", build=one_conv, min_image_size=8, input_range=(0.0, 1.0)))
    cfg = Config(backbone="one_conv", weights=None, image_size=16)
    model = build_model(cfg.backbone, cfg.image_size, None, "avg", 0, 0.0)
    assert model.name == "one_conv_avg" and model.get_layer("only_conv") is not None
    assert model.predict(np.zeros((2, 16, 16, 3), np.float32), verbose=0).shape == (2, 1)
    with pytest.raises(ConfigError, match="one_conv: that backbone has no ImageNet weights"):
        Config(backbone="one_conv", weights="imagenet")


def test_registry_entries_state_their_input_and_weights():
    assert set(backbones.BACKBONES) >= {"xception", "efficientnet_b0", "small_cnn"}
    assert BACKBONES["xception"].input_range == (-1.0, 1.0)
    assert BACKBONES["efficientnet_b0"].rescales_inside
    assert BACKBONES["small_cnn"].imagenet is None


@pytest.mark.slow
def test_a_backbone_registered_at_test_time_trains_a_tiny_study_through_tdfake_run(tiny_study, monkeypatch, tmp_path):
    """A user's own network: one ``register_backbone`` call in their code, then ``backbone: NAME`` in the config."""
    import pandas as pd
    from tiny_models import tiny_study_argv

    from tdfake import layout
    from tdfake.cli import main
    from tdfake.model import load_model

    monkeypatch.setitem(BACKBONES, "one_conv", None)  # restored after the test

    def one_conv(inputs, imagenet):
        x = keras.layers.Conv2D(4, 3, strides=4, name="only_conv")(inputs)
        return keras.Model(keras.utils.get_source_inputs(inputs), x)

    register_backbone(Backbone(name="one_conv", build=one_conv, min_image_size=8, input_range=(-1.0, 1.0)))
    overrides = {**tiny_study, "out_dir": str(tmp_path / "run"), "graphs_dir": str(tmp_path / "graphs"),
                 "backbone": "one_conv", "preprocess": "backbone", "arms": "{baseline: {input: OR}, tk: {input: TK}}",
                 "comparisons": "[{a: baseline, b: tk}]"}
    assert main(tiny_study_argv(overrides)) == 0
    comparisons = pd.read_csv(tmp_path / "run" / layout.COMPARISONS_CSV)
    assert comparisons[["arm_a", "arm_b"]].drop_duplicates().values.tolist() == [["baseline", "tk"]]
    model = load_model(tmp_path / "run" / "baseline" / layout.BEST_CHECKPOINT, compile=False)
    assert model.name == "one_conv_avg" and model.get_layer("input_scaling") is not None
