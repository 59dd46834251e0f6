"""The study's network and learning-rate schedule on Keras 3.

* :func:`build_model` — a registered backbone (:mod:`tdfake.backbones`: Xception, EfficientNetB0, the
  ``small_cnn`` stand-in) by name, every layer trainable, with the input scaling its weights expect
  (or the study's) and the study's head ``Flatten → Dense(256, relu) → Dense(1, sigmoid)`` (or global
  average pooling and dropout, better suited to small data trained from scratch).
* :func:`build_xception`, :func:`build_small_cnn` — the same with each backbone's defaults.
* :class:`CyclicalLR` — the cyclical learning rate (Smith 2017) the study pasted in as a Keras 2
  callback, rewritten as a ``LearningRateSchedule`` so the optimizer evaluates it every batch and
  it is saved and reloaded with the model.
* :func:`load_model` — load a ``.keras`` checkpoint (registers :class:`CyclicalLR` first).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
from keras import layers, ops

from tdfake.backbones import PREPROCESS_MODES, RAW_PIXELS, Backbone, get_backbone

HEADS = ("flatten", "avg")


class WeightsUnavailableError(RuntimeError):
    """ImageNet weights could not be fetched or loaded; the message says what to do."""


def keras_cache_file(name: str) -> Path:
    """Where Keras looks for downloaded weights (``$KERAS_HOME/models``, default ``~/.keras/models``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / name


def imagenet_weights_path(backbone: str = "xception") -> Path:
    """A backbone's ImageNet no-top weights file: from Keras' cache, downloaded if needed.

    Any download failure becomes a :class:`WeightsUnavailableError` that says where to put the file.
    """
    spec = get_backbone(backbone)
    if spec.imagenet is None:
        raise WeightsUnavailableError(f"backbone {backbone} has no ImageNet weights; set `weights: null` "
                                      f"(or a .weights.h5 file of a {backbone} model), or use backbone xception")
    weights = spec.imagenet
    try:
        return Path(keras.utils.get_file(weights.file, weights.url, cache_subdir="models", file_hash=weights.file_hash))
    except Exception as err:  # noqa: BLE001 - every download failure gets the same advice
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise WeightsUnavailableError(
            f"Cannot download the ImageNet {backbone} weights ({reason}).\n"
            f"Offline? Download {weights.url}\n"
            f"on a connected machine and put it at {keras_cache_file(weights.file)}"
            + (f", or pass its path as `weights: /path/to/{weights.file}` (or --set weights=PATH)"
               if spec.accepts_weight_files else "")
            + ", or train from scratch with `weights: null`."
        ) from None


def _check_head(head: str, image_size: int, spec: Backbone) -> None:
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    if int(image_size) < spec.min_image_size:
        raise ValueError(
            f"image_size {image_size} is too small: {spec.name} needs at least {spec.min_image_size} px; "
            f"set image_size to {spec.min_image_size} or more"
        )


def input_scaling(spec: Backbone, preprocess: str) -> tuple[float, float] | None:
    """(scale, offset) of the ``Rescaling`` layer that maps raw [0, 255] pixels onto the backbone's input
    range, or None when the model takes its input as it comes.

    ``preprocess="study"``: None (the pipeline multiplies by ``rescale``, as the study did); refused for
    a backbone that rescales inside itself, since the pixels would be scaled twice.
    ``preprocess="backbone"``: the map onto :attr:`Backbone.input_range` (None where that is [0, 255]).
    """
    if preprocess not in PREPROCESS_MODES:
        raise ValueError(f"preprocess must be one of {PREPROCESS_MODES}, got {preprocess!r}")
    if preprocess == "study":
        if spec.rescales_inside:
            raise ValueError(f"backbone {spec.name} rescales its input inside the model: preprocess 'study' "
                             "would scale the pixels twice; use preprocess: backbone")
        return None
    low, high = spec.input_range
    if (low, high) == RAW_PIXELS:
        return None
    return (high - low) / 255.0, low


def build_model(backbone: str, image_size: int, weights: str | os.PathLike | None, head: str, dense_units: int,
                dropout: float, bn_momentum: float | None = None, preprocess: str = "study") -> keras.Model:
    """The binary real (0) / fake (1) classifier on a registered backbone (:mod:`tdfake.backbones`); output P(fake).

    ``weights``: ``"imagenet"`` (downloaded once to the Keras cache), ``None`` (random init), or a
    local file: the backbone's Keras no-top weights, or the weights of a whole model this function
    built (``model.save_weights``).  ``head``: ``"flatten"`` (the study) or ``"avg"`` (global
    average pooling); ``dense_units`` 0 leaves out the hidden Dense layer; ``dropout`` before the output.
    ``bn_momentum`` replaces Keras' 0.99 in every BatchNormalization layer: a short run from scratch
    (a few hundred steps) needs e.g. 0.9, or the moving statistics used at inference are still
    mostly their initial values and every prediction comes out the same.  ``preprocess``: see
    :func:`input_scaling` (the model's input is raw pixels with ``"backbone"``, pixels × rescale with ``"study"``).
    """
    spec = get_backbone(backbone)
    _check_head(head, image_size, spec)
    local_file = None
    if weights == "imagenet":
        imagenet_weights_path(backbone)  # in the Keras cache before the builder asks Keras for it
    elif weights is not None:
        accepted = (f"the Keras {backbone} no-top weights, a model's .weights.h5, 'imagenet', or null"
                    if spec.accepts_weight_files else "'imagenet' or null")
        local_file = _weights_file(weights, accepted)
    inputs = keras.Input((int(image_size), int(image_size), 3), name="image")
    scaling = input_scaling(spec, preprocess)
    x = inputs if scaling is None else layers.Rescaling(scaling[0], offset=scaling[1], name="input_scaling")(inputs)
    base = spec.build(x, weights == "imagenet")
    base.trainable = True
    if bn_momentum is not None:
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = float(bn_momentum)
    model = keras.Model(inputs, _head(base.output, head, dense_units, dropout), name=f"{backbone}_{head}")
    if local_file is not None:
        _load_local_weights(model, base, local_file, spec)
    return model


def build_xception(image_size: int, weights: str | os.PathLike | None = "imagenet", head: str = "flatten",
                   dense_units: int = 256, dropout: float = 0.0, bn_momentum: float | None = None,
                   preprocess: str = "study") -> keras.Model:
    """The study's network: :func:`build_model` on the Xception backbone, its defaults the study's."""
    return build_model("xception", image_size, weights, head, dense_units, dropout, bn_momentum, preprocess)


def build_small_cnn(image_size: int, weights: str | os.PathLike | None = None, head: str = "avg",
                    dense_units: int = 64, dropout: float = 0.0, bn_momentum: float | None = None,
                    preprocess: str = "study") -> keras.Model:
    """:func:`build_model` on the ``small_cnn`` stand-in backbone (three conv blocks).

    Why: Xception's train step takes ~20 s to trace on a CPU before its first batch, which is most
    of a smoke run on a few dozen crops; this backbone traces in about a second, so a whole study
    (data, images, arms, evaluation, figures) can be checked in a minute.  It is a stand-in for
    checking the pipeline, not a detector whose numbers mean anything.
    """
    return build_model("small_cnn", image_size, weights, head, dense_units, dropout, bn_momentum, preprocess)


def _weights_file(weights: str | os.PathLike, accepted: str) -> Path:
    """``weights`` as an existing file; else a :class:`WeightsUnavailableError` saying what the builder accepts."""
    path = Path(weights)
    if not path.is_file():
        raise WeightsUnavailableError(f"{path}: no such weights file; pass {accepted}")
    return path


def _load_local_weights(model: keras.Model, base: keras.Model, path: Path, spec: Backbone) -> None:
    """Load a whole-model weights file into the model, else (where the backbone takes one) a no-top file into the base.

    The whole model goes first: Keras loads a whole-model file into the base without complaint,
    leaving the head untrained.
    """
    targets = (model, base) if spec.accepts_weight_files else (model,)
    errors = []
    for target in targets:
        try:
            with without_spurious_load_warning():
                target.load_weights(str(path))
            return
        except Exception as err:  # noqa: BLE001 - try the other layout, report both
            errors.append(str(err).splitlines()[0][:200])
    if not spec.accepts_weight_files:
        raise WeightsUnavailableError(f"{path}: cannot load as this {spec.name} model's weights ({errors[0]}); "
                                      "this backbone takes weights: imagenet, null or a whole-model .weights.h5")
    raise WeightsUnavailableError(
        f"{path}: cannot load as this model's weights ({errors[0]}) nor as {spec.name} no-top weights "
        f"({errors[1]}); check the file, the image size and the head settings"
    )


def _head(features, head: str, dense_units: int, dropout: float):
    """The classifier on a backbone's feature map: flatten or average-pool, optional Dense + dropout, P(fake)."""
    x = layers.Flatten(name="flatten")(features) if head == "flatten" else \
        layers.GlobalAveragePooling2D(name="avg_pool")(features)
    if dense_units:
        x = layers.Dense(int(dense_units), activation="relu", name="fc")(x)
    if dropout:
        x = layers.Dropout(float(dropout), name="dropout")(x)
    return layers.Dense(1, activation="sigmoid", dtype="float32", name="p_fake")(x)


@keras.saving.register_keras_serializable(package="tdfake")
class CyclicalLR(keras.optimizers.schedules.LearningRateSchedule):
    """Cyclical learning rate per batch (Smith 2017, the study's ``CyclicLR`` callback).

    With ``it`` the number of batches since the start of training::

        cycle = floor(1 + it / (2 * step_size))
        x     = |it / step_size - 2 * cycle + 1|
        lr    = base_lr + (max_lr - base_lr) * max(0, 1 - x) * scale

    where ``scale`` is 1 (``triangular``), ``1 / 2**(cycle - 1)`` (``triangular2``) or
    ``gamma**it`` (``exp_range``, the study: 1e-3, 7e-3, 300, 0.99994).
    """

    MODES = ("triangular", "triangular2", "exp_range")

    def __init__(self, base_lr: float = 1e-3, max_lr: float = 7e-3, step_size: int = 300,
                 mode: str = "exp_range", gamma: float = 1.0, name: str = "CyclicalLR"):
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}")
        if step_size <= 0:
            raise ValueError(f"step_size must be positive, got {step_size}")
        if not 0 < gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        self.base_lr = float(base_lr)
        self.max_lr = float(max_lr)
        self.step_size = int(step_size)
        self.mode = mode
        self.gamma = float(gamma)
        self.name = name

    def __call__(self, step):
        it = ops.cast(step, "float32")
        cycle = ops.floor(1.0 + it / (2.0 * self.step_size))
        # |it/step - 2 cycle + 1| written so float32 subtracts exact integers before dividing
        x = ops.abs(it - (2.0 * cycle - 1.0) * self.step_size) / self.step_size
        if self.mode == "triangular":
            scale = ops.ones_like(it)
        elif self.mode == "triangular2":
            scale = ops.power(2.0, 1.0 - cycle)
        else:  # gamma**it as exp(it * log(gamma)): float32 pow of a rounded gamma drifts at large it
            scale = ops.exp(it * math.log(self.gamma))
        return self.base_lr + (self.max_lr - self.base_lr) * ops.maximum(0.0, 1.0 - x) * scale

    def get_config(self) -> dict:
        return {"base_lr": self.base_lr, "max_lr": self.max_lr, "step_size": self.step_size,
                "mode": self.mode, "gamma": self.gamma, "name": self.name}


SPURIOUS_LOAD_WARNING = r"Skipping nested container at '_(operations|nodes)_by_depth"
"""The start of a warning Keras 3.15 gives on loading no-top Xception weights (the ImageNet file, or
one it has just saved) into the base: that the functional model's ``_operations_by_depth`` container
is missing from the file and "affected layers will retain their freshly-initialized weights".  A
false alarm (keras-team/keras#23021, fixed by #23022 after 3.15): the container only mirrors layers
the loader fills through the model's ``layers``; tests/test_model.py checks that every weight of the
file arrives."""


@contextmanager
def without_spurious_load_warning() -> Iterator[None]:
    """Load a checkpoint without Keras' false alarm :data:`SPURIOUS_LOAD_WARNING`; other warnings still show."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=SPURIOUS_LOAD_WARNING, category=UserWarning)
        yield


def load_model(path: str | os.PathLike, compile: bool = True) -> keras.Model:
    """Load a ``.keras`` checkpoint written by :mod:`tdfake.train` (schedule and optimizer included)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint; train the arm first (`tdfake train`)")
    return keras.saving.load_model(path, compile=compile)
