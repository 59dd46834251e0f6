"""Training seeds, the determinism switch, and the training fingerprint (which fields ask for retraining).

Cheap: a one-layer convolutional model (``model_builder``) on 24 tiny PNGs, so these run in the
default lane; the full Xception path is covered by tests/test_train.py.
"""

import dataclasses
import hashlib

import keras
import numpy as np
import pandas as pd
import pytest

from tdfake import layout, transforms
from tdfake.config import IMAGES, TRAINING, Config, training_fields
from tdfake.evaluate import load_or_make_report
from tdfake.image_creation import create_images
from tdfake.images import write_rgb
from tdfake.provenance import ProvenanceMismatch, read_record, record_path
from tdfake.train import train_arm, training_params

TINY = dict(image_size=24, batch_size=8, epochs=2, weights=None, step_size=2, base_lr=1e-3, max_lr=1e-2, seed=7)


def one_conv(cfg: Config) -> keras.Model:
    """Conv → pool → dense: random initial weights, so the seed matters (unlike a hand-weighted model)."""
    return keras.Sequential([keras.Input((cfg.image_size, cfg.image_size, 3)),
                             keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(1, activation="sigmoid")])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """36 PNGs under images/OR/: brighter fakes, darker reals; 16 train, 8 val, 12 test rows."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(36):
        label = i % 2
        rel = f"{'fake' if label else 'real'}/{i:03d}.png"
        write_rgb(root / "images" / "OR" / rel, (rng.integers(0, 140, (28, 28, 3)) + 90 * label).astype(np.uint8))
        rows.append(dict(root=str(root / "src"), path=rel, label=label, method="m" if label else "real",
                         video=str(i), group=str(i // 2), split="train" if i < 16 else "val" if i < 24 else "test"))
    return pd.DataFrame(rows), root / "images"


def predictions(run_dir) -> np.ndarray:
    return pd.read_csv(run_dir / layout.PREDICTIONS_FILE)["score"].to_numpy()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_same_seed_twice_gives_identical_predictions_and_another_seed_does_not(data, tmp_path):
    split, images = data
    cfg = Config().override(**TINY, deterministic=True)
    runs = {}
    for name, seed in (("a", 43), ("b", 43), ("c", 44)):
        runs[name] = train_arm(cfg, "baseline", split, images, tmp_path / name / "baseline", seed=seed,
                               model_builder=one_conv)
        load_or_make_report(runs[name])
    np.testing.assert_array_equal(predictions(runs["a"]), predictions(runs["b"]))
    assert not np.allclose(predictions(runs["a"]), predictions(runs["c"]))
    assert layout.load_run(runs["a"]).seed == 43 and layout.load_run(runs["a"]).cfg.seed == 7  # split seed kept
    assert read_record(record_path(runs["c"], "training"))["params"]["seed"] == 44


def test_training_writes_tensorboard_logs_per_epoch(data, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    split, images = data
    run_dir = train_arm(Config().override(**TINY), "baseline", split, images, tmp_path / "baseline",
                        model_builder=one_conv)
    tags = {}
    for part in ("train", "validation"):
        events = EventAccumulator(str(run_dir / layout.LOGS_DIR / part))
        events.Reload()
        tags[part] = set(events.Tags()["tensors"])
    assert {"epoch_loss", "epoch_accuracy", "epoch_auc", "epoch_lr"} <= tags["train"]
    assert {"epoch_loss", "epoch_accuracy", "epoch_auc"} <= tags["validation"]
    history = pd.read_csv(run_dir / layout.HISTORY_FILE)
    assert len(history) == TINY["epochs"] and {"auc", "val_auc", "lr"} <= set(history.columns)


def test_seed_folders_keep_the_one_seed_layout_for_the_config_seed(tmp_path):
    assert layout.arm_dir(tmp_path, "tk", 42, 42) == tmp_path / "tk"
    assert layout.arm_dir(tmp_path, "tk", 43, 42) == tmp_path / "seed_43" / "tk"
    assert layout.training_seeds(Config(seed=5)) == [5]
    assert layout.training_seeds(Config(seed=5, seeds=[5, 6, 9])) == [5, 6, 9]
    (tmp_path / "seed_43").mkdir()
    (tmp_path / "seed_x").mkdir()
    assert layout.seed_folders(tmp_path) == {43: tmp_path / "seed_43"}


def test_every_config_field_is_classified_and_training_fields_are_exactly_the_marked_ones():
    affects = {f.name: f.metadata.get("affects") for f in dataclasses.fields(Config)}
    training = {name for name, what in affects.items() if what == TRAINING["affects"]}
    images = {name for name, what in affects.items() if what == IMAGES["affects"]}
    assert set(training_fields()) == training
    # the image-defaults fields are exactly the config fields the registered kinds' parameters default from
    read = {f.metadata.get("config") for kind in transforms.names()
            for f in dataclasses.fields(transforms.get(kind).params)}
    assert images == read & set(affects) == {"rank", "tucker_method"}
    evaluation_or_place = {"name", "out_dir", "graphs_dir", "data_dir", "demo_dir", "test_sets", "workers", "epochs",
                           "precision", "xla", "seeds", "deterministic", "replace_collapsed", "threshold", "margin",
                           "arms", "comparisons"}
    assert training | images | evaluation_or_place == set(affects)
    assert not (training | images) & evaluation_or_place and not training & images


def test_an_arms_fingerprint_holds_its_image_parameters_and_no_other_arm(data):
    split, _ = data
    cfg = Config().override(**TINY)
    tk = training_params(cfg, "tk", split)
    assert {key: tk[key] for key in ("rank", "tucker_method", "arm")} == {
        "rank": cfg.rank, "tucker_method": cfg.tucker_method, "arm": "tk"}
    assert "rank" not in training_params(cfg, "baseline", split)  # OR images have no parameters
    more = cfg.override(arms={**cfg.arms, "tk_r5": {"input": "TK", "rank": [5, 5, 3]}},
                        comparisons=[{"a": "baseline", "b": "tk_r5"}])
    assert training_params(more, "tk", split) == tk  # another arm, and other comparisons, change nothing
    spelled = cfg.override(arms={**cfg.arms, "tk": {"input": "TK", "rank": list(cfg.rank)}})
    assert training_params(spelled, "tk", split) == tk  # the config's rank, given again, is the same arm
    r5 = training_params(more, "tk_r5", split)
    assert {key for key in tk if tk[key] != r5.get(key)} == {"rank", "arm"} and r5["rank"] == [5, 5, 3]


def test_a_tk_run_recorded_before_arms_were_data_resumes_without_retraining(data, tmp_path):
    """A run of arm ``tk`` trained before this version recorded ``tucker_implementation`` (now
    ``image_implementation``) beside the same rank and method; it is the same run and is not retrained."""
    import json

    split, images = data
    cfg = Config().override(**TINY, rank=[8, 8, 3], tucker_method="fast")
    root = tmp_path / "images"
    create_images(images / "OR", root, [cfg.image_spec("tk")], paths=list(split["path"]), progress=False)
    run_dir = train_arm(cfg, "tk", split, root, tmp_path / "tk", model_builder=one_conv)
    record_file = record_path(run_dir, "training")
    record = json.loads(record_file.read_text())
    params = record["params"]
    assert params["image_implementation"] == f"fast-{transforms.tucker.FAST_VERSION}"
    params["tucker_implementation"] = params.pop("image_implementation")  # as the version before wrote it
    record_file.write_text(json.dumps(record))
    before = {name: digest(run_dir / name) for name in (layout.BEST_CHECKPOINT, layout.LAST_CHECKPOINT)}
    train_arm(cfg, "tk", split, root, run_dir, resume=True, model_builder=one_conv)
    assert {name: digest(run_dir / name) for name in before} == before
    with pytest.raises(ProvenanceMismatch, match=r"rank \[8, 8, 3\] -> \[6, 6, 3\]"):
        bigger = cfg.override(arms={**cfg.arms, "tk": {"input": "TK", "rank": [6, 6, 3]}})
        train_arm(bigger, "tk", split, root, run_dir, resume=True, model_builder=one_conv)


@pytest.mark.parametrize("change", [{"test_sets": {"photos": "elsewhere"}}, {"threshold": "youden"},
                                    {"margin": 0.05}, {"seeds": [7, 8]}, {"workers": 1}, {"deterministic": True},
                                    {"out_dir": "runs/moved"}, {"xla": True}])
def test_evaluation_settings_and_places_do_not_change_the_training_fingerprint(data, change):
    split, _ = data
    cfg = Config().override(**TINY)
    assert training_params(cfg.override(**change), "tk", split) == training_params(cfg, "tk", split)


@pytest.mark.parametrize("change", [{"image_size": 32}, {"base_lr": 1e-4}, {"rank": [5, 5, 3]}, {"seed": 8},
                                    {"backbone": "small_cnn", "weights": None}])
def test_training_settings_change_it(data, change):
    split, _ = data
    cfg = Config().override(**TINY)
    assert training_params(cfg.override(**change), "tk", split) != training_params(cfg, "tk", split)


def test_a_finished_run_takes_new_evaluation_settings_without_retraining(data, tmp_path):
    """A new test set (or threshold method) on a finished run is evaluated with it, without asking to retrain."""
    split, images = data
    cfg = Config().override(**TINY)
    run_dir = train_arm(cfg, "baseline", split, images, tmp_path / "baseline", model_builder=one_conv)
    first = load_or_make_report(run_dir)
    before = {name: digest(run_dir / name) for name in (layout.BEST_CHECKPOINT, layout.LAST_CHECKPOINT)}

    later = cfg.override(test_sets={"photos": str(tmp_path)}, threshold="youden")
    train_arm(later, "baseline", split, images, run_dir, resume=True, model_builder=one_conv)
    assert {name: digest(run_dir / name) for name in before} == before  # not retrained
    report = load_or_make_report(run_dir)
    assert report.chosen.method == "youden" and first.chosen.method == "eer"  # evaluated anew with the new method
    assert layout.load_run(run_dir).cfg.test_sets == {"photos": str(tmp_path)}

    with pytest.raises(ProvenanceMismatch, match="image_size"):
        train_arm(cfg.override(image_size=32), "baseline", split, images, run_dir, resume=True,
                  model_builder=one_conv)


def test_a_record_of_an_older_version_with_evaluation_fields_still_resumes(data, tmp_path):
    """Records written before the fingerprint was inverted hold test_sets; they must not stop a resume."""
    import json

    split, images = data
    cfg = Config().override(**TINY)
    run_dir = train_arm(cfg, "baseline", split, images, tmp_path / "baseline", model_builder=one_conv)
    record_file = record_path(run_dir, "training")
    record = json.loads(record_file.read_text())
    record["params"]["test_sets"] = {"ciplab": "/somewhere"}
    record_file.write_text(json.dumps(record))
    before = digest(run_dir / layout.BEST_CHECKPOINT)
    train_arm(cfg, "baseline", split, images, run_dir, resume=True, model_builder=one_conv)
    assert digest(run_dir / layout.BEST_CHECKPOINT) == before


def test_seeds_are_validated():
    with pytest.raises(ValueError, match="seeds"):
        Config(seeds=[1, 1])
    with pytest.raises(ValueError, match="seeds"):
        Config(seeds=["a"])
    with pytest.raises(ValueError, match="margin"):
        Config(margin=-0.1)
    assert set(Config().arms) == {"baseline", "tk", "tk_diff"}
