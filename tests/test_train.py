"""Training an arm into a run folder, and resuming it, on real image files (tiny: 71 px, 16 + 8 images).

Xception itself trains only in the ``slow`` lane (one epoch); the CLI resume, checked against an
uninterrupted run, trains the ``small_cnn`` backbone (BatchNorm and the schedule as in Xception, a
second to trace); the refusal and resume logic runs on a one-layer model (``model_builder``), in
the default lane.
"""

import json
import logging
import shutil

import keras
import numpy as np
import pandas as pd
import pytest

from tdfake import layout
from tdfake import pipeline as tdfake_pipeline
from tdfake.cli import main
from tdfake.config import Config
from tdfake.images import write_rgb
from tdfake.model import CyclicalLR, load_model
from tdfake.provenance import ProvenanceMismatch
from tdfake.train import (
    OPTIMIZERS,
    NewModelTracing,
    RandomStateCheckpoint,
    compile_model,
    random_states,
    restore_random_states,
    train_arm,
)

TINY = dict(image_size=71, batch_size=8, epochs=1, weights=None, head="avg", dense_units=16, dropout=0.0,
            step_size=2, base_lr=1e-4, max_lr=1e-3, clr_mode="exp_range", gamma=0.99, seed=1)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """24 PNGs under images/TK/: bright-ish 'fake' and dark-ish 'real' noise; 16 train, 8 val."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(24):
        label = i % 2
        rel = f"{'FAKE' if label else 'REAL'}/{i:03d}.png"
        img = rng.integers(0, 128, (80, 80, 3)) + 100 * label
        write_rgb(root / "images" / "TK" / rel, img.astype(np.uint8))
        rows.append(dict(root=str(root / "src"), path=rel, label=label, method="m" if label else "real",
                         video=str(i), group=str(i), split="train" if i < 16 else "val"))
    split = pd.DataFrame(rows)
    split.to_csv(root / "split.csv", index=False)
    return split, root


def one_layer(cfg: Config) -> keras.Model:
    """GlobalAveragePooling → Dense(1, sigmoid): trains in well under a second (``model_builder``)."""
    return keras.Sequential([keras.Input((cfg.image_size, cfg.image_size, 3)), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(1, activation="sigmoid")])


@pytest.fixture(scope="module")
def trained_run(tiny_data, tmp_path_factory):
    """One epoch of the tk arm on Xception; the resume test continues it."""
    split, root = tiny_data
    run_dir = tmp_path_factory.mktemp("runs") / "tk"
    cfg = Config().override(**TINY)
    train_arm(cfg, "tk", split, root / "images", run_dir)
    return run_dir, cfg


@pytest.fixture(scope="module")
def trained_small_cnn_run(tiny_data, tmp_path_factory):
    """One epoch of the tk arm on the ``small_cnn`` backbone (Conv + BatchNorm, as Xception) with dropout (as the
    confirmatory study); the CLI resume test continues it."""
    split, root = tiny_data
    run_dir = tmp_path_factory.mktemp("runs_small_cnn") / "tk"
    cfg = Config().override(**{**TINY, "backbone": "small_cnn", "dropout": 0.3})
    train_arm(cfg, "tk", split, root / "images", run_dir)
    return run_dir, cfg


@pytest.fixture(scope="module")
def small_run(tiny_data, tmp_path_factory):
    """One epoch of the tk arm on the one-layer model; tests copy it before changing it."""
    split, root = tiny_data
    run_dir = tmp_path_factory.mktemp("small") / "tk"
    train_arm(Config().override(**TINY), "tk", split, root / "images", run_dir, model_builder=one_layer)
    return run_dir


@pytest.mark.slow
def test_one_epoch_writes_the_run_folder(trained_run, tiny_data):
    run_dir, cfg = trained_run
    for name in ("config.yaml", "split.csv", "history.csv", "best.keras", "last.keras", "run.json"):
        assert (run_dir / name).is_file(), name
    run = layout.load_run(run_dir)  # run.json tells evaluation the arm, where its images are and the seed
    assert (run.arm, run.kind, run.seed) == ("tk", "TK", cfg.seed)
    assert model_parameters(run_dir / "best.keras") > 1_000_000  # Xception, the default model_builder
    assert run.images_root.resolve() == (tiny_data[1] / "images").resolve()
    history = pd.read_csv(run_dir / "history.csv")
    assert len(history) == 1
    assert {"epoch", "loss", "accuracy", "auc", "val_loss", "val_accuracy", "val_auc", "lr"} <= set(history.columns)
    assert Config.from_yaml(run_dir / "config.yaml") == cfg
    saved = pd.read_csv(run_dir / "split.csv", dtype=str)
    pd.testing.assert_frame_equal(saved, tiny_data[0].astype(str), check_dtype=False)
    model = load_model(run_dir / "last.keras")
    assert int(model.optimizer.iterations.numpy()) == 2  # 16 images / batch 8
    schedule = CyclicalLR(cfg.base_lr, cfg.max_lr, cfg.step_size, cfg.clr_mode, cfg.gamma)
    assert history["lr"][0] == pytest.approx(float(schedule(2)), rel=1e-5)


def model_parameters(path) -> int:
    return int(load_model(path, compile=False).count_params())


@pytest.mark.slow
def test_resume_continues_epochs_and_schedule_via_cli_as_an_uninterrupted_run_would(trained_small_cnn_run, tiny_data,
                                                                                    tmp_path):
    """On the small backbone (three trainings of Xception cost ~80 s; its one epoch is checked above)."""
    run_dir, cfg = trained_small_cnn_run
    config = run_dir.parent / "tiny.yaml"
    cfg.to_yaml(config)
    split, root = tiny_data
    argv = ["train", "--config", str(config), "--arm", "tk", "--split", str(root / "split.csv"),
            "--images", str(root / "images"), "--run-dir", str(run_dir), "--resume", "--epochs", "2"]
    keras.utils.set_random_seed(999)  # unrelated randomness before the resume must not matter
    np.random.default_rng(5).random(10)
    assert main(argv) == 0
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history["epoch"]) == [0, 1]
    model = load_model(run_dir / "last.keras")
    assert int(model.optimizer.iterations.numpy()) == 4  # the CLR step count carried on
    schedule = CyclicalLR(cfg.base_lr, cfg.max_lr, cfg.step_size, cfg.clr_mode, cfg.gamma)
    np.testing.assert_allclose(history["lr"], [float(schedule(2)), float(schedule(4))], rtol=1e-5)
    assert np.isfinite(history["val_loss"]).all()
    # the resumed run saw the same epochs, so it ends where an uninterrupted 2-epoch run ends
    whole = train_arm(cfg.override(epochs=2), "tk", split, root / "images", tmp_path / "whole")
    uninterrupted = pd.read_csv(whole / "history.csv")
    np.testing.assert_allclose(history["loss"], uninterrupted["loss"], rtol=1e-4)
    np.testing.assert_allclose(history["val_loss"], uninterrupted["val_loss"], rtol=1e-4)
    # a finished run is left alone
    before = (run_dir / "last.keras").stat().st_mtime_ns
    assert main(argv) == 0
    assert (run_dir / "last.keras").stat().st_mtime_ns == before
    assert len(pd.read_csv(run_dir / "history.csv")) == 2
    keras.backend.clear_session()


def _two_dropouts() -> keras.Model:
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dropout(0.5)(keras.layers.Dropout(0.3)(inputs)))


def test_dropout_states_saved_after_an_epoch_are_restored_into_a_new_model(tmp_path, caplog):
    """Keras' .keras files leave the seed generators' states out; the resumed model gets them from last.random.npz."""
    model = _two_dropouts()
    for _ in range(3):  # dropout draws advance the states
        model(np.ones((2, 4)), training=True)
    saved = [variable.numpy() for variable in random_states(model)]
    assert len(saved) == 2
    checkpoint = RandomStateCheckpoint(tmp_path / layout.LAST_RANDOM_STATE)
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0)

    fresh = _two_dropouts()
    assert not all(np.array_equal(a, b.numpy()) for a, b in zip(saved, random_states(fresh)))
    restore_random_states(fresh, tmp_path / layout.LAST_RANDOM_STATE)
    for expected, variable in zip(saved, random_states(fresh)):
        np.testing.assert_array_equal(variable.numpy(), expected)
    np.testing.assert_array_equal(fresh(np.ones((2, 4)), training=True), model(np.ones((2, 4)), training=True))

    inputs = keras.Input((4,))
    with pytest.raises(ValueError, match="2 saved random states for a model with 1"):
        restore_random_states(keras.Model(inputs, keras.layers.Dropout(0.5)(inputs)),
                              tmp_path / layout.LAST_RANDOM_STATE)
    caplog.set_level(logging.WARNING, logger="tdfake")
    restore_random_states(fresh, tmp_path / "elsewhere" / layout.LAST_RANDOM_STATE)  # saved by an earlier version
    assert "no saved dropout state" in caplog.text


def test_an_existing_run_is_refused_unless_resumed_with_the_same_settings_or_forced(small_run, tiny_data, tmp_path,
                                                                                    capsys, caplog):
    split, root = tiny_data
    cfg = Config().override(**TINY)
    run_dir = shutil.copytree(small_run, tmp_path / "tk")
    record = json.loads((run_dir / "training.provenance.json").read_text())
    assert record["params"]["arm"] == "tk" and record["params"]["base_lr"] == cfg.base_lr
    assert record["params"]["seed"] == cfg.seed and "test_sets" not in record["params"]
    made = (run_dir / "last.keras").stat().st_mtime_ns

    with pytest.raises(ProvenanceMismatch, match="already holds a trained run.*--resume.*--force"):
        train_arm(cfg, "tk", split, root / "images", run_dir, model_builder=one_layer)
    with pytest.raises(ProvenanceMismatch, match=r"base_lr 0.0001 -> 0.0002.*--force"):
        train_arm(cfg.override(base_lr=2e-4), "tk", split, root / "images", run_dir, resume=True,
                  model_builder=one_layer)
    with pytest.raises(ProvenanceMismatch, match=r"seed 1 -> 2.*--force"):  # another training seed
        train_arm(cfg, "tk", split, root / "images", run_dir, resume=True, seed=2, model_builder=one_layer)
    other_split = split.copy()
    other_split.loc[[0, 16], "split"] = ["val", "train"]  # two real images change sides
    with pytest.raises(ProvenanceMismatch, match="split"):
        train_arm(cfg, "tk", other_split, root / "images", run_dir, resume=True, model_builder=one_layer)
    assert (run_dir / "last.keras").stat().st_mtime_ns == made  # nothing was touched

    config = tmp_path / "changed.yaml"
    cfg.override(base_lr=2e-4).to_yaml(config)
    argv = ["train", "--config", str(config), "--arm", "tk", "--split", str(root / "split.csv"),
            "--images", str(root / "images"), "--run-dir", str(run_dir), "--resume"]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "base_lr" in err[0] and "--force" in err[0]
    assert Config.from_yaml(run_dir / "config.yaml") == cfg  # a refused resume leaves config.yaml alone

    # a finished run resumed with the same settings is left alone
    caplog.set_level(logging.INFO, logger="tdfake")
    train_arm(cfg, "tk", split, root / "images", run_dir, resume=True, model_builder=one_layer)
    assert (run_dir / "last.keras").stat().st_mtime_ns == made
    assert "nothing to do" in caplog.text

    # retrained from scratch with the new settings
    train_arm(cfg.override(base_lr=2e-4), "tk", split, root / "images", run_dir, resume=True, force=True,
              model_builder=one_layer)
    assert "--force: retraining from scratch" in caplog.text
    assert Config.from_yaml(run_dir / "config.yaml").base_lr == 2e-4
    assert len(pd.read_csv(run_dir / "history.csv")) == 1 and (run_dir / "last.keras").stat().st_mtime_ns != made
    assert json.loads((run_dir / "training.provenance.json").read_text())["params"]["base_lr"] == 2e-4
    keras.backend.clear_session()


def test_a_record_from_before_a_field_existed_matches_and_other_tk_images_do_not(small_run, tiny_data, tmp_path):
    """``backbone`` came later (an old record lacks it: xception); images from another Tucker path retrain."""
    split, root = tiny_data
    cfg = Config().override(**TINY)
    run_dir = shutil.copytree(small_run, tmp_path / "tk")
    record_file = run_dir / "training.provenance.json"
    record = json.loads(record_file.read_text())
    assert record["params"]["backbone"] == "xception"
    del record["params"]["backbone"]
    record_file.write_text(json.dumps(record))
    made = (run_dir / "last.keras").stat().st_mtime_ns
    train_arm(cfg, "tk", split, root / "images", run_dir, resume=True, model_builder=one_layer)  # still matches
    assert (run_dir / "last.keras").stat().st_mtime_ns == made
    with pytest.raises(ProvenanceMismatch, match="backbone xception -> small_cnn"):
        train_arm(cfg.override(backbone="small_cnn"), "tk", split, root / "images", run_dir, resume=True)

    images = tmp_path / "images"
    shutil.copytree(root / "images", images)
    made_by = {"step": "TK", "params": {"implementation": "fast-1"}}
    (images / "TK.provenance.json").write_text(json.dumps(made_by))
    with pytest.raises(ProvenanceMismatch, match="image_implementation null -> fast-1"):
        train_arm(cfg, "tk", split, images, run_dir, resume=True, model_builder=one_layer)
    assert (run_dir / "last.keras").stat().st_mtime_ns == made


def test_resume_continues_where_history_stopped_and_a_larger_epochs_is_allowed(small_run, tiny_data, tmp_path):
    split, root = tiny_data
    cfg = Config().override(**TINY)
    run_dir = shutil.copytree(small_run, tmp_path / "tk")
    first = pd.read_csv(run_dir / "history.csv")
    train_arm(cfg.override(epochs=3), "tk", split, root / "images", run_dir, resume=True, model_builder=one_layer)
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2]
    pd.testing.assert_frame_equal(history.iloc[:1], first)  # the first epoch's row is kept, not redone
    model = load_model(run_dir / "last.keras")
    assert int(model.optimizer.iterations.numpy()) == 6  # 3 epochs x 2 steps: the schedule carried on
    schedule = CyclicalLR(cfg.base_lr, cfg.max_lr, cfg.step_size, cfg.clr_mode, cfg.gamma)
    np.testing.assert_allclose(history["lr"], [float(schedule(s)) for s in (2, 4, 6)], rtol=1e-5)
    assert load_model(run_dir / "best.keras").count_params() == one_layer(cfg).count_params() == 4
    assert Config.from_yaml(run_dir / "config.yaml").epochs == 3
    keras.backend.clear_session()


def test_missing_image_fails_before_training(tiny_data, tmp_path):
    split, root = tiny_data
    with pytest.raises(FileNotFoundError, match="OR/REAL/000.png"):
        train_arm(Config().override(**TINY), "baseline", split, root / "images", tmp_path / "run")
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="is not one of the config.s arms"):
        train_arm(Config().override(**TINY), "cp", split, root / "images", tmp_path / "run")
    keras.backend.clear_session()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_configured_optimizer_runs_on_the_cyclical_schedule(name):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    cfg = Config().override(**{**TINY, "optimizer": name})
    compile_model(model, cfg)
    assert isinstance(model.optimizer, OPTIMIZERS[name])
    model.fit(np.zeros((8, 4)), np.ones(8), batch_size=4, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 2
    schedule = CyclicalLR(cfg.base_lr, cfg.max_lr, cfg.step_size, cfg.clr_mode, cfg.gamma)
    assert float(model.optimizer.learning_rate) == pytest.approx(float(schedule(2)), rel=1e-5)


@pytest.mark.slow
def test_efficientnet_b0_trains_one_epoch_and_its_pipeline_hands_it_raw_pixels(tiny_data, tmp_path):
    split, root = tiny_data
    cfg = Config().override(**{**TINY, "image_size": 32}, backbone="efficientnet_b0", preprocess="backbone")
    run_dir = train_arm(cfg, "tk", split, root / "images", tmp_path / "tk")
    assert len(pd.read_csv(run_dir / "history.csv")) == 1
    model = load_model(run_dir / "best.keras")
    assert model.name == "efficientnet_b0_avg"
    assert model_parameters(run_dir / "best.keras") > 4_000_000
    # raw pixels in: EfficientNet rescales inside, so the pipeline left them unscaled
    batch = next(iter(tdfake_pipeline.make_dataset(split, "val", cfg, root / "images", "TK")))[0]
    assert float(np.max(batch)) > 1.0


def test_the_per_model_step_tracing_warning_is_dropped_and_no_other():
    """TensorFlow counts each new model's one trace of Keras' train step as retracing; only that warning goes."""
    drop = NewModelTracing()

    def record(function):
        message = (f"5 out of the last 13 calls to <function {function} at 0x7f13> triggered tf.function retracing. "
                   "Tracing is expensive")
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None)

    assert not drop.filter(record("TensorFlowTrainer._make_function.<locals>.multi_step_on_iterator"))
    assert drop.filter(record("TensorFlowTrainer.make_predict_function.<locals>.one_step_on_data_distributed"))
    assert drop.filter(logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, "something else", None, None))
