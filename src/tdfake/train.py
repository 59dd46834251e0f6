"""Train one arm (baseline / tk / tk_diff) into a run folder, resumably.

A run folder (its layout is :mod:`tdfake.layout`'s) holds everything needed to judge and continue the run::

    config.yaml   the resolved config the run used (evaluation settings follow the latest call)
    split.csv     the split table it trained on
    run.json      the arm, its image kind, its images folder and the training seed
    history.csv   one row per epoch: loss, accuracy, auc, val_loss, val_accuracy, val_auc, lr
    logs/         the same per epoch for TensorBoard (``tensorboard --logdir runs/demo``)
    best.keras    the model with the lowest val_loss so far (the study's ModelCheckpoint)
    last.keras    the model after the last completed epoch (optimizer state included)

    training.provenance.json   the settings and split that made it (see :mod:`tdfake.provenance`)

The training seed (``seed=``, default ``cfg.seed``) sets the initial weights, the shuffling and the
augmentation; the split and the images are made before, with ``cfg.seed``, so every seed of an arm
trains and tests on the same rows.  ``cfg.deterministic`` also turns on TensorFlow's op
determinism, so the same seed twice on one machine gives the same weights and predictions.

``resume=True`` reloads ``last.keras`` and continues at the epoch after the last row of
``history.csv``; the optimizer's iteration count is saved with it, so the cyclical learning rate
continues where it stopped, and epoch ``e`` shuffles and augments exactly as in an uninterrupted
run (:func:`tdfake.pipeline.paths_dataset`).  A finished run (as many rows as ``cfg.epochs``)
returns at once.  A run folder is never silently replaced: resuming with other settings than
the recorded ones (a larger ``epochs`` is fine) or training into a folder that holds a run
without ``resume`` raises :class:`~tdfake.provenance.ProvenanceMismatch`, unless ``force=True``
(retrain from scratch).

Hardware switches: ``cfg.mixed_precision`` (float16 compute, float32 output; for GPUs) and
``cfg.xla`` (``jit_compile``).  With more than one GPU visible the model is replicated with
``tf.distribute.MirroredStrategy`` (``cfg.batch_size`` is the global batch).

Several machines: ``tf.distribute.MultiWorkerMirroredStrategy`` works the same way.  Set
``TF_CONFIG`` on every machine, e.g. for worker 0 of two::

    TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
                "task": {"type": "worker", "index": 0}}'

run the same command on each (index 0, 1, ...), give each its own ``--run-dir`` on local disk
(worker 0 is the chief whose checkpoints count), and build the model inside
``MultiWorkerMirroredStrategy().scope()`` — :func:`train_arm` does that when ``TF_CONFIG`` lists
more than one worker.  Every worker must see the same split and image files.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import keras
import pandas as pd
import tensorflow as tf

from tdfake import layout, provenance
from tdfake.config import ARMS, Config, recorded_as_now, training_fields
from tdfake.model import CyclicalLR, build_model, load_model
from tdfake.pipeline import make_dataset

logger = logging.getLogger(__name__)

OPTIMIZERS = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW, "sgd": keras.optimizers.SGD,
              "rmsprop": keras.optimizers.RMSprop}
"""``cfg.optimizer`` -> Keras optimizer class (Keras' defaults but the cyclical learning rate); the study: adam."""

ModelBuilder = Callable[[Config], keras.Model]
"""Builds the untrained model of a run from its config (default: :func:`model_for`)."""


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's current learning rate as ``lr`` to each epoch's logs (and so to history.csv)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            lr = self.model.optimizer.learning_rate
            logs["lr"] = float(keras.ops.convert_to_numpy(lr))


def choose_strategy() -> tf.distribute.Strategy:
    """Multi-worker when TF_CONFIG lists several workers, mirrored on several GPUs, else the default."""
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    if len(tf_config.get("cluster", {}).get("worker", [])) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def completed_epochs(history_csv: Path) -> int:
    """Number of epochs recorded in a run's history.csv (0 when there is none)."""
    if not history_csv.is_file() or history_csv.stat().st_size == 0:
        return 0
    return len(pd.read_csv(history_csv))


def compile_model(model: keras.Model, cfg: Config, optimizer: keras.optimizers.Optimizer | None = None) -> None:
    """``cfg.optimizer`` (the study: Adam) on the cyclical schedule, binary cross-entropy, accuracy and AUROC;
    XLA per ``cfg.xla``."""
    if optimizer is None:
        schedule = CyclicalLR(cfg.base_lr, cfg.max_lr, cfg.step_size, cfg.clr_mode, cfg.gamma)
        optimizer = OPTIMIZERS[cfg.optimizer](learning_rate=schedule)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
        jit_compile=bool(cfg.xla),
    )


def model_for(cfg: Config) -> keras.Model:
    """The untrained model of a config: its backbone (the study's Xception by default), head and weights."""
    return build_model(cfg.backbone, cfg.image_size, cfg.weights, cfg.head, cfg.dense_units, cfg.dropout,
                       bn_momentum=cfg.bn_momentum)


def training_params(cfg: Config, arm: str, split_df: pd.DataFrame, seed: int | None = None,
                    images_root: os.PathLike | str | None = None) -> dict:
    """What a run's result depends on: the training fields of the config, the arm, the training seed
    and a fingerprint of its split.

    Exactly the fields :func:`tdfake.config.training_fields` names for the arm's image kind (the
    baseline's OR images do not depend on the Tucker settings); ``seed`` replaces ``cfg.seed``
    (with one seed they are the same).  Places, speed switches and evaluation settings are not in
    it, so changing them never asks for retraining.  A TK / TK_diff arm trained on ``images_root``
    also records the implementation its images' record names (``tucker_implementation``), so images
    remade by a changed Tucker path make the arm train anew instead of resuming on other images.
    """
    kind = ARMS[arm]
    settings = {key: getattr(cfg, key) for key in training_fields(kind)}
    settings["seed"] = int(cfg.seed if seed is None else seed)
    if kind != "OR" and images_root is not None:
        record = provenance.read_record(provenance.record_path(Path(images_root), kind))
        settings["tucker_implementation"] = record["params"].get("implementation") if record else None
    columns = [c for c in ("path", "label", "group", "split") if c in split_df.columns]
    return {**settings, "arm": arm, "split": provenance.table_fingerprint(split_df, columns)}


def _check_existing_run(run_dir: Path, params: dict, resume: bool, force: bool) -> bool:
    """Whether the run in ``run_dir`` can be continued; raise when it holds a run that must not be replaced.

    Returns False for an empty folder, or when ``force`` allows retraining from scratch.
    """
    if not any((run_dir / name).exists() for name in (layout.HISTORY_FILE, layout.BEST_CHECKPOINT,
                                                      layout.LAST_CHECKPOINT)):
        return False
    how = "pass --force to retrain it from scratch, or train into a new out_dir (or --run-dir)"
    record = provenance.read_record(provenance.record_path(run_dir, "training"))
    if not resume:
        problem = "already holds a trained run; pass --resume to continue it, or " + how.removeprefix("pass ")
    elif record is None:
        problem = f"holds a run without {provenance.record_path(run_dir, 'training').name} (an older tdfake), " \
                  f"so its settings cannot be checked; {how}"
    else:
        # A recorded field that is not a training field (such as test_sets, which some records hold)
        # cannot make the run differ; a training field missing from the record does.
        # A field added since the record was written counts as its pre-existing value (recorded_as_now).
        recorded = {key: value for key, value in recorded_as_now(record["params"]).items() if key in params}
        changed = provenance.differences(recorded, params)
        if not changed:
            return True
        problem = f"was trained with other settings ({provenance.describe(changed)}); {how}"
    if force:
        logger.info("%s: %s; --force: retraining from scratch", run_dir, problem.split(";")[0])
        return False
    raise provenance.ProvenanceMismatch(f"{run_dir} {problem}")


class NewModelTracing(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning about Keras' train and validation steps.

    Every arm (and training seed) is a new model whose train and validation steps Keras traces once
    each: the datasets' batch dimension is unknown, so a short last batch does not trace them again.
    TensorFlow's detector counts traces by the step's Python code, which every model shares, so a
    study of several short arms in one process reads as one function traced five times in a dozen
    calls.  Only this step's warning is dropped; any other retracing is still reported.
    """

    STEP = "TensorFlowTrainer._make_function.<locals>.multi_step_on_iterator"

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message and self.STEP in message)


def _quiet_new_model_tracing() -> None:
    """Install :class:`NewModelTracing` on TensorFlow's logger, once."""
    tf_logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, NewModelTracing) for f in tf_logger.filters):
        tf_logger.addFilter(NewModelTracing())


def train_arm(cfg: Config, arm: str, split_df: pd.DataFrame, images_root: os.PathLike | str | None,
              run_dir: os.PathLike | str, resume: bool = False, force: bool = False, seed: int | None = None,
              model_builder: ModelBuilder = model_for) -> Path:
    """Train ``arm`` on the ``train`` rows of ``split_df``, validate on ``val``; returns ``run_dir``.

    Images are ``images_root/<kind>/<path>`` (``kind`` = ``ARMS[arm]``), or ``root/path`` of each
    row when ``images_root`` is None.  ``resume`` continues a run made with the same settings;
    ``force`` replaces a run that cannot be continued (see the module doc).  ``seed``: the
    training seed (default ``cfg.seed``).  ``model_builder`` makes the untrained model from the
    config (tests pass a tiny one).  A finished run is not trained again; its ``config.yaml`` takes
    the evaluation settings of ``cfg`` (e.g. a new threshold method), which its fingerprint allows.
    """
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {sorted(ARMS)}, got {arm!r}")
    kind = ARMS[arm]
    seed = int(cfg.seed if seed is None else seed)
    run_dir = Path(run_dir)
    history_csv, best, last = (run_dir / layout.HISTORY_FILE, run_dir / layout.BEST_CHECKPOINT,
                               run_dir / layout.LAST_CHECKPOINT)
    params = training_params(cfg, arm, split_df, seed, images_root)
    continuing = _check_existing_run(run_dir, params, resume, force)
    done = completed_epochs(history_csv) if continuing and last.is_file() else 0
    if continuing and done >= cfg.epochs:
        cfg.override(epochs=done).to_yaml(run_dir / layout.CONFIG_FILE)
        layout.write_run_info(run_dir, arm, images_root, seed)
        logger.info("%s: already trained for %d epochs (epochs=%d); nothing to do", run_dir, done, cfg.epochs)
        return run_dir

    # Seed first: the model's initial weights (and any other Keras randomness) do not depend on what
    # ran before in this process.  The data order and augmentation are keyed by (seed, epoch) anyway.
    keras.utils.set_random_seed(seed + done)
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    seeded = cfg.override(seed=seed)  # the pipeline's shuffling and augmentation follow the training seed
    # Build the datasets before touching the run folder: missing files, empty splits and one-class
    # splits fail before any training.  One dataset holds every remaining epoch, epoch by epoch.
    train_ds = make_dataset(split_df, "train", seeded, images_root, kind, first_epoch=done,
                            num_epochs=int(cfg.epochs) - done)
    steps = math.ceil(int((split_df["split"] == "train").sum()) / int(cfg.batch_size))
    val_ds = make_dataset(split_df, "val", seeded, images_root, kind, cache=True)  # read every epoch, unaugmented

    run_dir.mkdir(parents=True, exist_ok=True)
    if not done:
        for name in (layout.HISTORY_FILE, layout.BEST_CHECKPOINT, layout.LAST_CHECKPOINT, layout.REPORT_JSON,
                     layout.REPORT_MD, layout.PREDICTIONS_FILE, "report.provenance.json"):
            (run_dir / name).unlink(missing_ok=True)
    cfg.to_yaml(run_dir / layout.CONFIG_FILE)  # only the fields outside params (epochs, places, switches) can differ
    split_df.to_csv(run_dir / layout.SPLIT_FILE, index=False)
    layout.write_run_info(run_dir, arm, images_root, seed)
    provenance.write_record(provenance.record_path(run_dir, "training"), "training", params)

    _quiet_new_model_tracing()
    previous_policy = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16" if cfg.mixed_precision else "float32")
    try:
        with choose_strategy().scope():
            if done:
                model = load_model(last)
                compile_model(model, cfg, optimizer=model.optimizer)
            else:
                model = model_builder(cfg)
                compile_model(model, cfg)
        best_so_far = None
        if done:
            best_so_far = float(pd.read_csv(history_csv)["val_loss"].min())
        callbacks = [
            LearningRateLogger(),
            keras.callbacks.ModelCheckpoint(best, monitor="val_loss", mode="min", save_best_only=True,
                                            initial_value_threshold=best_so_far),
            keras.callbacks.ModelCheckpoint(last, save_best_only=False),
            keras.callbacks.CSVLogger(str(history_csv), append=bool(done)),
            keras.callbacks.TensorBoard(log_dir=str(run_dir / layout.LOGS_DIR), write_graph=False, profile_batch=0),
        ]
        # steps_per_epoch: Keras keeps one iterator over the epochs, so epoch e gets the dataset's epoch e.
        # verbose 2 (one line per epoch) when the output goes to a file or a notebook, not a terminal.
        model.fit(train_ds, validation_data=val_ds, epochs=int(cfg.epochs), initial_epoch=done,
                  steps_per_epoch=steps, callbacks=callbacks, verbose=1 if sys.stdout.isatty() else 2,
                  shuffle=False)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    return run_dir
