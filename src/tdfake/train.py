"""Train one arm (baseline / tk / tk_diff, or any arm of the config) into a run folder, resumably.

A run folder (its layout is :mod:`tdfake.layout`'s) holds everything needed to judge and continue the run::

    config.yaml   the resolved config the run used (evaluation settings follow the latest call)
    split.csv     the split table it trained on
    run.json      the arm, its image kind, its images folder and the training seed
    history.csv   one row per epoch: loss, accuracy, auc, val_loss, val_accuracy, val_auc, lr
    logs/         the same per epoch for TensorBoard (``tensorboard --logdir runs/demo``)
    best.keras    the model with the lowest val_loss so far (the study's ModelCheckpoint)
    last.keras    the model after the last completed epoch (optimizer state included)
    last.random.npz  the states of its random generators (dropout's) at that point, which Keras does not save

    training.provenance.json   the settings and split that made it (see :mod:`tdfake.provenance`)

The training seed (``seed=``, default ``cfg.seed``) sets the initial weights, the shuffling and the
augmentation; the split and the images are made before, with ``cfg.seed``, so every seed of an arm
trains and tests on the same rows.  ``cfg.deterministic`` also turns on TensorFlow's op
determinism, so the same seed twice on one machine gives the same weights and predictions.

``resume=True`` reloads ``last.keras`` and continues at the epoch after the last row of
``history.csv``; the optimizer's iteration count is saved with it, so the cyclical learning rate
continues where it stopped, epoch ``e`` shuffles and augments exactly as in an uninterrupted
run (:func:`tdfake.pipeline.paths_dataset`), and dropout draws the masks it would have drawn
(:class:`RandomStateCheckpoint`).  A finished run (as many rows as ``cfg.epochs``)
returns at once.  A run folder is never silently replaced: resuming with other settings than
the recorded ones (a larger ``epochs`` is fine) or training into a folder that holds a run
without ``resume`` raises :class:`~tdfake.provenance.ProvenanceMismatch`, unless ``force=True``
(retrain from scratch).

Hardware switches: ``cfg.precision`` (a Keras dtype policy: ``mixed_float16`` for GPUs, ``mixed_bfloat16``
for CPUs with AVX512_BF16 / AMX; the output stays float32) and
``cfg.xla`` (``jit_compile``).  With more than one GPU visible the model is replicated with
``tf.distribute.MirroredStrategy`` (``cfg.batch_size`` is the global batch).

Several machines: when ``TF_CONFIG`` lists more than one worker, :func:`train_arm` trains under
``tf.distribute.MultiWorkerMirroredStrategy`` (docs/cli.md gives the commands; ``tdfake train`` on
each machine, each with its own ``TF_CONFIG`` index and ``--run-dir``, the same split and image files).
``cfg.batch_size`` stays the global batch, split evenly across the workers' replicas; every worker
reads the whole pipeline and keeps its part of each batch, so shuffling and augmentation do not depend
on the number of workers.  Only the chief (worker 0) writes its ``run_dir``, the run's result; the
others write into temporary folders they remove.  BatchNormalization normalises each replica's own
part of a batch and keeps its moving averages per replica (the chief's are saved): two workers train
as one machine with two GPUs does at the same global batch, not as one device.  A worker that stops
makes the others raise :class:`WorkerLostError` once TensorFlow misses its heartbeats (about 10 s);
the same command with ``--resume`` on every worker continues from the chief's ``last.keras``, the
others taking the chief's epoch count, weights and optimizer state (:func:`from_chief`).
"""

from __future__ import annotations

import functools
import io
import json
import logging
import math
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tdfake import layout, provenance
from tdfake.config import Config, recorded_as_now, training_fields
from tdfake.images import write_atomic
from tdfake.model import CyclicalLR, build_model
from tdfake.pipeline import make_dataset

logger = logging.getLogger(__name__)

OPTIMIZERS = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW, "sgd": keras.optimizers.SGD,
              "rmsprop": keras.optimizers.RMSprop}
"""``cfg.optimizer`` -> Keras optimizer class (Keras' defaults but the cyclical learning rate); the study: adam."""

ModelBuilder = Callable[[Config], keras.Model]
"""Builds the untrained model of a run from its config (default: :func:`model_for`)."""


class WorkerLostError(ConnectionError):
    """Another worker of a multi-worker run stopped answering; the message says how to resume."""


LOST_PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError)
"""What TensorFlow raises on the other workers when one stops (its heartbeats stop, collectives abort)."""


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's current learning rate as ``lr`` to each epoch's logs (and so to history.csv)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            lr = self.model.optimizer.learning_rate
            logs["lr"] = float(keras.ops.convert_to_numpy(lr))


def choose_strategy() -> tf.distribute.Strategy:
    """Multi-worker when TF_CONFIG lists several workers, mirrored on several GPUs, else the current one.

    The multi-worker strategy configures TensorFlow's collective ops, which is possible only before
    the first TensorFlow op of the process, and only once: it is made on the first call and reused.
    """
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    if len(tf_config.get("cluster", {}).get("worker", [])) > 1:
        return _multi_worker_strategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """``MultiWorkerMirroredStrategy`` whose ``reduce`` takes what Keras 3's ``fit`` gives it.

    Keras 3 reduces its first (images, labels) batch in one call, a tuple that TensorFlow's
    multi-worker strategy refuses (keras-team/keras#20585), and each step's scalar loss and metrics
    along ``axis=0``, which a scalar does not have (tensorflow/tensorflow#72388).  Here each part of
    a tuple is reduced on its own and a scalar across replicas only, as ``MirroredStrategy`` does;
    every worker runs the same collectives in the same order.
    """

    def reduce(self, reduce_op, value, axis):
        def reduce_part(part):
            scalar = all(t.shape.rank == 0 for t in self.experimental_local_results(part))
            return super(MultiWorkerStrategy, self).reduce(reduce_op, part, None if scalar else axis)

        return tf.nest.map_structure(reduce_part, value)


@functools.cache
def _multi_worker_strategy() -> tf.distribute.Strategy:
    return MultiWorkerStrategy()


def from_chief(strategy: tf.distribute.Strategy, values: list) -> list[tf.Tensor]:
    """The chief's ``values`` (tensors or variables of the same shapes on every worker), on every worker.

    An all-reduce sum to which only the first replica (the chief's) adds its values: every worker
    runs it, the same collective as a gradient's.  One replica: the values themselves.
    """
    if strategy.num_replicas_in_sync == 1:
        return [tf.convert_to_tensor(value) for value in values]

    @tf.function
    def share():
        def first_replica_only():
            context = tf.distribute.get_replica_context()
            first = tf.equal(context.replica_id_in_sync_group, 0)
            # one all-reduce per value: a batched one packs the values together, so they would need one dtype
            return [context.all_reduce("SUM", tf.where(first, value, tf.zeros_like(value))) for value in values]

        return strategy.experimental_local_results(strategy.run(first_replica_only))[0]

    return share()


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
                       bn_momentum=cfg.bn_momentum, preprocess=cfg.preprocess)


def training_params(cfg: Config, arm: str, split_df: pd.DataFrame, seed: int | None = None,
                    images_root: os.PathLike | str | None = None) -> dict:
    """What a run's result depends on: the training fields of the config, the arm's image parameters,
    the arm, the training seed and a fingerprint of its split.

    Exactly the fields :func:`tdfake.config.training_fields` names, and the parameters of the arm's
    image kind (:meth:`tdfake.transforms.ImageSpec.fingerprint`: ``rank`` and ``tucker_method`` for
    TK / TK_diff, none for the baseline's OR images); ``seed`` replaces ``cfg.seed`` (with one
    seed they are the same).  Places, speed switches, evaluation settings and the other arms are
    not in it, so changing them never asks for retraining.  An arm whose images have an
    implementation version, trained on ``images_root``, also records the one its images' record
    names (``image_implementation``), so images remade by a changed implementation make the arm
    train anew instead of resuming on other images.
    """
    spec = cfg.image_spec(arm)
    settings = {key: getattr(cfg, key) for key in training_fields()}
    settings.update(spec.fingerprint())
    settings["seed"] = int(cfg.seed if seed is None else seed)
    if spec.implementation() is not None and images_root is not None:
        record = provenance.read_record(provenance.record_path(Path(images_root), spec.folder))
        settings["image_implementation"] = record["params"].get("implementation") if record else None
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


def check_archived_run(cfg: Config, arm: str, split_df: pd.DataFrame, images_root: os.PathLike | str | None,
                       run_dir: os.PathLike | str, seed: int | None = None) -> None:
    """Raise unless the archived run in ``run_dir`` (:mod:`tdfake.archive`) is ``arm`` trained to the end with
    ``cfg``'s training settings and ``seed`` on ``split_df``: only then may its recorded results stand for it."""
    run_dir = Path(run_dir)
    _check_existing_run(run_dir, training_params(cfg, arm, split_df, seed, images_root), resume=True, force=False)
    done = completed_epochs(run_dir / layout.HISTORY_FILE)
    if done < cfg.epochs:
        raise ValueError(f"{run_dir}: archived after {done} of {cfg.epochs} epochs, without its checkpoints, so it "
                         "cannot be continued; pass --force to retrain it from scratch")


def random_states(model: keras.Model) -> list:
    """The state variables of the model's random generators (one per dropout layer), in the model's order."""
    return [variable for variable in model.non_trainable_variables if "seed_generator_state" in variable.path]


class RandomStateCheckpoint(keras.callbacks.Callback):
    """Saves the states of the model's random generators to ``path`` after each epoch, beside ``last.keras``.

    Keras saves a model's weights and optimizer state but not the states of its layers' seed
    generators, so a run resumed from ``last.keras`` would draw other dropout masks than the run
    would have drawn uninterrupted; :func:`restore_random_states` puts them back.
    """

    def __init__(self, path: Path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        states = {f"state_{index}": variable.numpy() for index, variable in enumerate(random_states(self.model))}
        buffer = io.BytesIO()
        np.savez(buffer, **states)
        write_atomic(self.path, buffer.getvalue())


def restore_random_states(model: keras.Model, path: Path) -> None:
    """Give the model's random generators the states saved in ``path`` (see :class:`RandomStateCheckpoint`)."""
    variables = random_states(model)
    if not variables:
        return
    if not path.is_file():
        logger.warning("%s: no saved dropout state (the run was saved by an earlier version): the resumed epochs "
                       "draw other dropout masks than an uninterrupted run would", path.parent)
        return
    with np.load(path) as saved:
        if len(saved.files) != len(variables):
            raise ValueError(f"{path}: {len(saved.files)} saved random states for a model with {len(variables)}; "
                             "it belongs to another model: retrain with --force")
        for index, variable in enumerate(variables):
            variable.assign(saved[f"state_{index}"])


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

    Images are ``images_root/<folder>/<path>`` (the folder of ``cfg.image_spec(arm)``), or ``root/path`` of each
    row when ``images_root`` is None.  ``resume`` continues a run made with the same settings;
    ``force`` replaces a run that cannot be continued (see the module doc).  ``seed``: the
    training seed (default ``cfg.seed``).  ``model_builder`` makes the untrained model from the
    config (tests pass a tiny one).  A finished run is not trained again; its ``config.yaml`` takes
    the evaluation settings of ``cfg`` (e.g. a new threshold method), which its fingerprint allows.

    With several workers (``TF_CONFIG``) only the chief writes ``run_dir``; every other worker
    trains into a temporary folder it removes afterwards (all of them save, TensorFlow's rule for
    multi-worker Keras: reading Keras' metric variables, summed over replicas, is a collective every
    worker must join), and takes the completed epochs, weights and optimizer state of a resumed run
    from the chief.  A worker lost during training raises :class:`WorkerLostError` on the others.
    """
    cfg.image_spec(arm)  # an unknown arm fails here, before TensorFlow starts
    strategy = choose_strategy()  # before any other TensorFlow op: see choose_strategy
    try:
        if strategy.extended.should_checkpoint:
            return _train_arm(strategy, cfg, arm, split_df, images_root, Path(run_dir), resume, force, seed,
                              model_builder)
        with tempfile.TemporaryDirectory(prefix="tdfake-worker-") as scratch:
            logger.info("%s: worker %s is not the chief; its files go to %s, removed at the end", run_dir,
                     strategy.cluster_resolver.task_id, scratch)
            _train_arm(strategy, cfg, arm, split_df, images_root, Path(scratch), resume, force, seed, model_builder)
        return Path(run_dir)
    except LOST_PEER_ERRORS as err:
        if strategy.cluster_resolver is None:
            raise
        raise WorkerLostError(lost_worker_message(strategy, Path(run_dir), err)) from err


def lost_worker_message(strategy: tf.distribute.Strategy, run_dir: Path, err: tf.errors.OpError) -> str:
    """What happened to a multi-worker run that lost a worker, and how to continue it (one line)."""
    me = strategy.cluster_resolver.task_id
    lost = sorted({int(task) for task in re.findall(r"/job:\w+/replica:\d+/task:(\d+)", err.message)} - {me})
    who = ("worker " + ", ".join(map(str, lost))) if lost else "another worker"
    reason = re.sub(r"\{\{.*?\}\}\s*", "", err.message).splitlines()[0].strip()
    where = f"the run folder {run_dir}" if strategy.extended.should_checkpoint else "the chief's run folder"
    return (f"worker {me} of a multi-worker run lost contact with {who} ({type(err).__name__}: {reason}); "
            f"{where} keeps every completed epoch (last.keras, history.csv): start the same command with "
            "--resume on every worker again to continue from there")


def _train_arm(strategy: tf.distribute.Strategy, cfg: Config, arm: str, split_df: pd.DataFrame,
               images_root: os.PathLike | str | None, run_dir: Path, resume: bool, force: bool, seed: int | None,
               model_builder: ModelBuilder) -> Path:
    """:func:`train_arm` on one worker, under ``strategy``, into ``run_dir`` (the chief's, or a temporary folder)."""
    spec = cfg.image_spec(arm)
    seed = int(cfg.seed if seed is None else seed)
    history_csv, best, last = (run_dir / layout.HISTORY_FILE, run_dir / layout.BEST_CHECKPOINT,
                               run_dir / layout.LAST_CHECKPOINT)
    params = training_params(cfg, arm, split_df, seed, images_root)
    continuing = _check_existing_run(run_dir, params, resume, force)
    done = completed_epochs(history_csv) if continuing and last.is_file() else 0
    best_so_far = float(pd.read_csv(history_csv)["val_loss"].min()) if done else math.inf
    # Where the run stands is the chief's to say: the run folders of the other workers are empty.
    done, best_so_far = (value.numpy() for value in from_chief(
        strategy, [tf.constant(done, tf.int64), tf.constant(best_so_far, tf.float64)]))
    done, best_so_far = int(done), float(best_so_far)
    if done and done >= cfg.epochs:
        cfg.override(epochs=done).to_yaml(run_dir / layout.CONFIG_FILE)
        layout.write_run_info(run_dir, arm, spec.kind, images_root, seed)
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
    train_ds = make_dataset(split_df, "train", seeded, images_root, spec.folder, first_epoch=done,
                            num_epochs=int(cfg.epochs) - done)
    steps = math.ceil(int((split_df["split"] == "train").sum()) / int(cfg.batch_size))
    val_ds = make_dataset(split_df, "val", seeded, images_root, spec.folder, cache=True)  # every epoch, unaugmented

    run_dir.mkdir(parents=True, exist_ok=True)
    if not done:
        for name in (layout.HISTORY_FILE, layout.BEST_CHECKPOINT, layout.LAST_CHECKPOINT, layout.LAST_RANDOM_STATE,
                     layout.REPORT_JSON, layout.REPORT_MD, layout.PREDICTIONS_FILE, "report.provenance.json"):
            (run_dir / name).unlink(missing_ok=True)
    cfg.to_yaml(run_dir / layout.CONFIG_FILE)  # only the fields outside params (epochs, places, switches) can differ
    split_df.to_csv(run_dir / layout.SPLIT_FILE, index=False)
    layout.write_run_info(run_dir, arm, spec.kind, images_root, seed)
    provenance.write_record(provenance.record_path(run_dir, "training"), "training", params)

    _quiet_new_model_tracing()
    previous_policy = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(cfg.precision)
    try:
        with strategy.scope():
            model = model_builder(cfg)
            compile_model(model, cfg)
            if done:
                model.optimizer.build(model.trainable_variables)
        if done:  # last.keras's weights and optimizer state (its step count: the schedule goes on)
            if strategy.extended.should_checkpoint:
                # Outside the scope: Keras' loader makes variables of its own, which under a multi-worker
                # scope would start collectives that the other workers, loading nothing, never join.
                model.load_weights(last)
                restore_random_states(model, run_dir / layout.LAST_RANDOM_STATE)
            variables = model.variables + model.optimizer.variables
            for variable, value in zip(variables, from_chief(strategy, variables)):
                variable.assign(value)
        callbacks = [
            LearningRateLogger(),
            keras.callbacks.ModelCheckpoint(best, monitor="val_loss", mode="min", save_best_only=True,
                                            initial_value_threshold=best_so_far if done else None),
            keras.callbacks.ModelCheckpoint(last, save_best_only=False),
            RandomStateCheckpoint(run_dir / layout.LAST_RANDOM_STATE),
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
