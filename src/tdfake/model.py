"""The study's network and learning-rate schedule on Keras 3.

* :func:`build_xception` — Keras ``Xception(include_top=False)``, every layer trainable, then the
  study's head ``Flatten → Dense(256, relu) → Dense(1, sigmoid)`` (or global average pooling and
  dropout, better suited to small data trained from scratch).
* :func:`build_small_cnn` — three convolution blocks under the same heads: a stand-in backbone that
  builds and traces in about a second where Xception takes ~20 s on a CPU, for smoke runs of the
  whole pipeline (the test suite's); not a detector to report.
* :func:`build_model` — the configured backbone (``BACKBONES``) by name.
* :class:`CyclicalLR` — the cyclical learning rate (Smith 2017) the study pasted in as a Keras 2
  callback, rewritten as a ``LearningRateSchedule`` so the optimizer evaluates it every batch and
  it is saved and reloaded with the model.
* :func:`load_model` — load a ``.keras`` checkpoint (registers :class:`CyclicalLR` first).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import keras
from keras import layers, ops

MIN_IMAGE_SIZE = 71  # Keras Xception's smallest input
XCEPTION_NOTOP_FILE = "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"
XCEPTION_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/xception/" + XCEPTION_NOTOP_FILE
)
XCEPTION_NOTOP_MD5 = "b0042744bf5b25fce3cb969f33bebb97"
HEADS = ("flatten", "avg")
SMALL_CNN_FILTERS = (16, 32, 64)
"""Filters of :func:`build_small_cnn`'s three Conv-BN-ReLU-MaxPool blocks."""


class WeightsUnavailableError(RuntimeError):
    """ImageNet weights could not be fetched or loaded; the message says what to do."""


def keras_cache_file(name: str = XCEPTION_NOTOP_FILE) -> Path:
    """Where Keras looks for downloaded weights (``$KERAS_HOME/models``, default ``~/.keras/models``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / name


def imagenet_weights_path() -> Path:
    """The ImageNet no-top Xception weights file: from Keras' cache, downloaded if needed.

    Any download failure becomes a :class:`WeightsUnavailableError` that says where to put the file.
    """
    try:
        return Path(keras.utils.get_file(XCEPTION_NOTOP_FILE, XCEPTION_NOTOP_URL, cache_subdir="models",
                                         file_hash=XCEPTION_NOTOP_MD5))
    except Exception as err:  # noqa: BLE001 - every download failure gets the same advice
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise WeightsUnavailableError(
            "Cannot download the ImageNet Xception weights (" + reason + ").\n"
            f"Offline? Download {XCEPTION_NOTOP_URL}\n"
            f"on a connected machine and put it at {keras_cache_file()}, or pass its path as "
            "`weights: /path/to/" + XCEPTION_NOTOP_FILE + "` (or --set weights=PATH), "
            "or train from scratch with `weights: null`."
        ) from None


def _check_head(head: str, image_size: int, min_size: int = MIN_IMAGE_SIZE, backbone: str = "Xception") -> None:
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    if int(image_size) < min_size:
        raise ValueError(
            f"image_size {image_size} is too small: {backbone} needs at least {min_size} px; "
            f"set image_size to {min_size} or more"
        )


def build_xception(image_size: int, weights: str | os.PathLike | None = "imagenet", head: str = "flatten",
                   dense_units: int = 256, dropout: float = 0.0, bn_momentum: float | None = None) -> keras.Model:
    """Xception for binary real (0) / fake (1) classification; output is P(fake) (float32).

    ``weights``: ``"imagenet"`` (downloaded once to the Keras cache), ``None`` (random init), or a
    local file: the Keras no-top Xception weights, or the weights of a whole model this function
    built (``model.save_weights``).  ``head``: ``"flatten"`` (the study) or ``"avg"`` (global
    average pooling); ``dense_units`` 0 leaves out the hidden Dense layer; ``dropout`` before the output.
    ``bn_momentum`` replaces Keras' 0.99 in every BatchNormalization layer: a short run from scratch
    (a few hundred steps) needs e.g. 0.9, or the moving statistics used at inference are still
    mostly their initial values and every prediction comes out the same.
    """
    _check_head(head, image_size)
    base_weights = None
    local_file = None
    if weights == "imagenet":
        base_weights = str(imagenet_weights_path())
    elif weights is not None:
        local_file = _weights_file(weights, f"the Keras Xception no-top weights ({XCEPTION_NOTOP_FILE}), "
                                            "a model's .weights.h5, 'imagenet', or null")
    inputs = keras.Input((int(image_size), int(image_size), 3), name="image")
    base = keras.applications.Xception(include_top=False, weights=None, input_tensor=inputs)
    base.trainable = True
    if bn_momentum is not None:
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = float(bn_momentum)
    model = keras.Model(inputs, _head(base.output, head, dense_units, dropout), name=f"xception_{head}")
    if base_weights is not None:
        base.load_weights(base_weights)
    elif local_file is not None:
        _load_local_weights(model, base, local_file)
    return model


def _weights_file(weights: str | os.PathLike, accepted: str) -> Path:
    """``weights`` as an existing file; else a :class:`WeightsUnavailableError` saying what the builder accepts."""
    path = Path(weights)
    if not path.is_file():
        raise WeightsUnavailableError(f"{path}: no such weights file; pass {accepted}")
    return path


def _load_local_weights(model: keras.Model, base: keras.Model, path: Path) -> None:
    """Load a whole-model weights file into the model, else a no-top Xception file into the base.

    The whole model goes first: Keras loads a whole-model file into the base without complaint,
    leaving the head untrained.
    """
    errors = []
    for target in (model, base):
        try:
            target.load_weights(str(path))
            return
        except Exception as err:  # noqa: BLE001 - try the other layout, report both
            errors.append(str(err).splitlines()[0][:200])
    raise WeightsUnavailableError(
        f"{path}: cannot load as this model's weights ({errors[0]}) nor as Xception no-top weights "
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


def build_small_cnn(image_size: int, weights: str | os.PathLike | None = None, head: str = "avg",
                    dense_units: int = 64, dropout: float = 0.0, bn_momentum: float | None = None) -> keras.Model:
    """Three Conv(3×3)-BatchNorm-ReLU-MaxPool blocks (:data:`SMALL_CNN_FILTERS`) under :func:`build_xception`'s heads.

    Why: Xception's train step takes ~20 s to trace on a CPU before its first batch, which is most
    of a smoke run on a few dozen crops; this backbone traces in about a second, so a whole study
    (data, images, three arms, evaluation, figures) can be checked in a minute.  It is a stand-in
    for checking the pipeline, not a detector whose numbers mean anything.  ``weights``: ``None``
    (random init) or a weights file of a model this function built (``model.save_weights``); there
    are no ImageNet weights for it.
    """
    _check_head(head, image_size, min_size=2 ** len(SMALL_CNN_FILTERS), backbone="small_cnn")
    if weights == "imagenet":
        raise WeightsUnavailableError("backbone small_cnn has no ImageNet weights; set `weights: null` "
                                      "(or a .weights.h5 file of a small_cnn model), or use backbone xception")
    inputs = keras.Input((int(image_size), int(image_size), 3), name="image")
    x = inputs
    for block, filters in enumerate(SMALL_CNN_FILTERS, start=1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{block}_conv")(x)
        x = layers.BatchNormalization(momentum=0.99 if bn_momentum is None else float(bn_momentum),
                                      name=f"block{block}_bn")(x)
        x = layers.Activation("relu", name=f"block{block}_act")(x)
        x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    model = keras.Model(inputs, _head(x, head, dense_units, dropout), name=f"small_cnn_{head}")
    if weights is not None:
        model.load_weights(str(_weights_file(weights, "a small_cnn model's .weights.h5, or null")))
    return model


BACKBONES = {"xception": build_xception, "small_cnn": build_small_cnn}
"""Backbones by config name (``backbone``); each takes (image_size, weights, head, dense_units, dropout,
bn_momentum)."""


def build_model(backbone: str, image_size: int, weights: str | os.PathLike | None, head: str, dense_units: int,
                dropout: float, bn_momentum: float | None = None) -> keras.Model:
    """The binary real/fake classifier on the named backbone (:data:`BACKBONES`); output P(fake)."""
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {backbone!r}")
    return BACKBONES[backbone](image_size, weights, head, dense_units, dropout, bn_momentum=bn_momentum)


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


def load_model(path: str | os.PathLike, compile: bool = True) -> keras.Model:
    """Load a ``.keras`` checkpoint written by :mod:`tdfake.train` (schedule and optimizer included)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint; train the arm first (`tdfake train`)")
    return keras.saving.load_model(path, compile=compile)
