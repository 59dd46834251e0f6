"""The Xception and small-CNN builders (tiny inputs, no network) and the cyclical learning-rate schedule."""

import contextlib
import warnings

import keras
import numpy as np
import pytest

import tdfake.model
from tdfake.backbones import BACKBONES
from tdfake.model import (
    SPURIOUS_LOAD_WARNING,
    CyclicalLR,
    WeightsUnavailableError,
    build_model,
    build_small_cnn,
    build_xception,
    load_model,
)


@pytest.fixture(scope="module")
def study_model():
    """The study's architecture at Xception's smallest input, random weights (built once)."""
    return build_xception(71, weights=None)


def test_study_head_and_everything_trainable(study_model):
    assert study_model.input_shape == (None, 71, 71, 3)
    assert study_model.output_shape == (None, 1)
    names = [layer.name for layer in study_model.layers[-3:]]
    assert names == ["flatten", "fc", "p_fake"]
    assert study_model.get_layer("fc").units == 256
    assert study_model.get_layer("fc").activation.__name__ == "relu"
    assert study_model.get_layer("p_fake").activation.__name__ == "sigmoid"
    assert all(layer.trainable for layer in study_model.layers)
    assert any(layer.name == "block14_sepconv2" for layer in study_model.layers)  # the Xception base
    p = study_model.predict(np.random.default_rng(0).uniform(size=(2, 71, 71, 3)), verbose=0)
    assert p.shape == (2, 1) and np.all((p > 0) & (p < 1))


def test_avg_head_with_dropout_and_local_weights_file(study_model, tmp_path):
    model = build_xception(75, weights=None, head="avg", dense_units=0, dropout=0.3, bn_momentum=0.9)
    assert [layer.name for layer in model.layers[-3:]] == ["avg_pool", "dropout", "p_fake"]
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) > 30 and all(layer.momentum == 0.9 for layer in norms)
    assert all(layer.momentum == 0.99 for layer in study_model.layers
               if isinstance(layer, keras.layers.BatchNormalization))
    # a whole-model weights file reloads into a fresh model of the same shape
    path = tmp_path / "study.weights.h5"
    study_model.save_weights(path)
    again = build_xception(71, weights=path)
    for a, b in zip(study_model.get_weights()[-4:], again.get_weights()[-4:]):
        np.testing.assert_array_equal(a, b)


def test_no_top_weights_load_into_the_base_without_keras_false_alarm(tmp_path, monkeypatch):
    """Keras warns that layers keep their initial weights (keras-team/keras#23021); every weight of the file
    arrives, and tdfake's builder says nothing. When Keras stops warning, SPURIOUS_LOAD_WARNING can go."""
    keras.utils.set_random_seed(3)
    base = keras.applications.Xception(include_top=False, weights=None, input_shape=(71, 71, 3))
    path = tmp_path / "notop.weights.h5"
    base.save_weights(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = build_xception(71, weights=path, head="avg", dense_units=0)
    assert not [w for w in caught if "Skipping nested container" in str(w.message)]
    with monkeypatch.context() as patched, pytest.warns(UserWarning, match=SPURIOUS_LOAD_WARNING):
        patched.setattr(tdfake.model, "without_spurious_load_warning", contextlib.nullcontext)
        build_xception(71, weights=path, head="avg", dense_units=0)  # what Keras says unfiltered
    saved = base.get_weights()
    for loaded, expected in zip(model.get_weights()[:len(saved)], saved, strict=True):  # the base's, in order
        np.testing.assert_array_equal(loaded, expected)


def test_too_small_input_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 71 px"):
        build_xception(64, weights=None)


def test_offline_imagenet_download_says_where_to_put_the_file(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3] "
                        "Temporary failure in name resolution")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(keras.utils, "get_file", no_network)
    with pytest.raises(WeightsUnavailableError) as info:
        build_xception(71, weights="imagenet")
    message = str(info.value)
    assert str(tmp_path / "keras_home" / "models" / BACKBONES["xception"].imagenet.file) in message
    assert "weights: null" in message and "Temporary failure" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no network traceback chained


def test_bad_weights_path_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="no such weights file"):
        build_xception(71, weights=tmp_path / "nope.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(WeightsUnavailableError, match="junk.h5: cannot load"):
        build_xception(71, weights=junk)


# --------------------------------------------------------------------------- schedule


def formula(it, base, top, step, mode, gamma):
    """docs/study.md's CLR formula in float64."""
    cycle = np.floor(1 + it / (2 * step))
    x = np.abs(it / step - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": gamma ** it}[mode]
    return base + (top - base) * np.maximum(0, 1 - x) * scale


@pytest.mark.parametrize("mode,gamma", [("exp_range", 0.99994), ("triangular", 1.0), ("triangular2", 1.0)])
def test_schedule_equals_formula_at_every_step(mode, gamma):
    steps = np.arange(0, 60001)
    lr = keras.ops.convert_to_numpy(CyclicalLR(1e-3, 7e-3, 300, mode, gamma)(steps))
    np.testing.assert_allclose(lr, formula(steps.astype(np.float64), 1e-3, 7e-3, 300, mode, gamma), rtol=2e-6)
    assert lr[0] == pytest.approx(1e-3)
    assert lr[300] == pytest.approx(1e-3 + 6e-3 * (1 if mode != "exp_range" else gamma ** 300))


def test_triangular2_halves_each_cycle():
    schedule = CyclicalLR(0.0, 1.0, 10, "triangular2")
    peaks = keras.ops.convert_to_numpy(schedule(np.array([10, 30, 50, 70])))
    np.testing.assert_allclose(peaks, [1, 0.5, 0.25, 0.125], rtol=1e-6)


def test_schedule_saves_and_reloads_with_the_model(tmp_path):
    schedule = CyclicalLR(1e-3, 7e-3, 300, "exp_range", 0.99994)
    assert CyclicalLR.from_config(schedule.get_config()).get_config() == schedule.get_config()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy")
    model.fit(np.ones((8, 3)), np.ones(8), batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer.learning_rate, CyclicalLR) or isinstance(
        loaded.optimizer._learning_rate, CyclicalLR)
    assert int(loaded.optimizer.iterations.numpy()) == 2
    assert loaded.optimizer._learning_rate.get_config() == schedule.get_config()


def test_schedule_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        CyclicalLR(mode="cosine")


def test_small_cnn_has_the_same_heads_and_reloads_its_own_weights(tmp_path):
    model = build_model("small_cnn", 32, None, "avg", 16, 0.3, bn_momentum=0.9)
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 1)
    assert [layer.name for layer in model.layers[-4:]] == ["avg_pool", "fc", "dropout", "p_fake"]
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 3 and all(layer.momentum == 0.9 for layer in norms)
    assert model.count_params() < 50_000
    flat = build_small_cnn(32, head="flatten", dense_units=0)
    assert [layer.name for layer in flat.layers[-2:]] == ["flatten", "p_fake"]
    path = tmp_path / "small.weights.h5"
    model.save_weights(path)
    again = build_model("small_cnn", 32, path, "avg", 16, 0.3, bn_momentum=0.9)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3))
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_small_cnn_refuses_imagenet_and_unknown_backbones_are_named():
    with pytest.raises(WeightsUnavailableError, match="no ImageNet weights.*weights: null"):
        build_small_cnn(32, weights="imagenet")
    with pytest.raises(ValueError, match="at least 8 px"):
        build_small_cnn(4)
    with pytest.raises(ValueError, match="backbone must be one of"):
        build_model("resnet", 71, None, "avg", 0, 0.0)
