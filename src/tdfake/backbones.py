"""Backbones by name: how each is built, the input its ImageNet weights expect, and where those weights live.

One entry per backbone, as timm's ``pretrained_cfg``: :func:`register_backbone` adds one (a user can
register their own at run time), :data:`BACKBONES` holds them, ``Config`` reads the names from here
and :func:`tdfake.model.build_model` builds any of them under the study's heads.  Keras is imported
inside the builders only, so reading the registry (as ``Config`` does on every validation) costs nothing.

``input_range`` is what the backbone's first layer must receive for its ImageNet weights to see
what they were trained on, given raw pixels in [0, 255]:

* ``xception``: [-1, 1] (Keras' ``xception.preprocess_input``); the study fed it [0, 1] (``rescale=1/255``).
* ``efficientnet_b0``: [0, 255]: the Keras model rescales and normalises inside itself, so the
  pipeline must hand it raw pixels (scaling them first would scale twice).
* ``small_cnn``: [0, 1]; it has no ImageNet weights (a smoke-run stand-in, see :mod:`tdfake.model`).

``preprocess: backbone`` in the config feeds each backbone its ``input_range`` (a ``Rescaling`` layer at
the model's input maps [0, 255] onto it, and the pipeline leaves pixels unscaled);
``preprocess: study`` keeps the study's scaling (pixels × ``rescale`` in the pipeline, nothing in the
model), which only a backbone that does not rescale inside itself can take.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PREPROCESS_MODES = ("study", "backbone")
"""``Config.preprocess``: the study's ``rescale`` in the pipeline, or the input each backbone's weights expect."""

RAW_PIXELS = (0.0, 255.0)
"""The range of the pipeline's images before any scaling."""


@dataclass(frozen=True)
class ImagenetWeights:
    """Where Keras downloads a backbone's ImageNet no-top weights (file name in the Keras cache, URL, hash)."""

    file: str
    url: str
    file_hash: str


@dataclass(frozen=True)
class Backbone:
    """One backbone: ``build(inputs, imagenet)`` returns the Keras feature extractor on the tensor ``inputs``.

    ``imagenet`` True asks the builder for ImageNet-initialised weights (already in the Keras cache:
    :func:`tdfake.model.build_model` fetches :attr:`imagenet` first, with a clear error offline).
    ``accepts_weight_files``: a local no-top weights file (``weights: PATH``) can be loaded into the
    feature extractor as built with ``imagenet`` False.
    """

    name: str
    build: Callable[[Any, bool], Any]
    min_image_size: int
    input_range: tuple[float, float]
    imagenet: ImagenetWeights | None = None
    accepts_weight_files: bool = True
    description: str = ""

    @property
    def rescales_inside(self) -> bool:
        """True when the model takes raw [0, 255] pixels and scales them itself."""
        return self.input_range == RAW_PIXELS


BACKBONES: dict[str, Backbone] = {}
"""Registered backbones by config name."""


def register_backbone(backbone: Backbone) -> Backbone:
    """Add (or replace) a backbone under its name; ``backbone: NAME`` in a config then builds it."""
    BACKBONES[backbone.name] = backbone
    return backbone


def get_backbone(name: str) -> Backbone:
    """The registered backbone ``name``; a ``ValueError`` naming the registered ones otherwise."""
    if name not in BACKBONES:
        raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {name!r}")
    return BACKBONES[name]


def _xception(inputs, imagenet: bool):
    import keras

    return keras.applications.Xception(include_top=False, weights="imagenet" if imagenet else None,
                                       input_tensor=inputs)


def _efficientnet_b0(inputs, imagenet: bool):
    import keras

    # Built with weights="imagenet" Keras also adds the rescaling that corrects its normalisation
    # constants; the weights file alone would not, so this backbone takes no local no-top file.
    return keras.applications.EfficientNetB0(include_top=False, weights="imagenet" if imagenet else None,
                                             input_tensor=inputs)


SMALL_CNN_FILTERS = (16, 32, 64)
"""Filters of the ``small_cnn`` backbone's three Conv-BN-ReLU-MaxPool blocks."""


def _small_cnn(inputs, imagenet: bool):
    import keras
    from keras import layers

    x = inputs
    for block, filters in enumerate(SMALL_CNN_FILTERS, start=1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{block}_conv")(x)
        x = layers.BatchNormalization(name=f"block{block}_bn")(x)
        x = layers.Activation("relu", name=f"block{block}_act")(x)
        x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    return keras.Model(keras.utils.get_source_inputs(inputs), x, name="small_cnn_features")


register_backbone(Backbone(
    name="xception", build=_xception, min_image_size=71, input_range=(-1.0, 1.0),
    imagenet=ImagenetWeights(
        file="xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        url="https://storage.googleapis.com/tensorflow/keras-applications/xception/"
            "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        file_hash="b0042744bf5b25fce3cb969f33bebb97"),
    description="the study's network (Keras Xception)"))
register_backbone(Backbone(
    name="efficientnet_b0", build=_efficientnet_b0, min_image_size=32, input_range=RAW_PIXELS,
    imagenet=ImagenetWeights(
        file="efficientnetb0_notop.h5", url="https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
        file_hash="50bc09e76180e00e4465e1a485ddc09d"),
    accepts_weight_files=False,
    description="Keras EfficientNetB0 (rescales and normalises inside the model)"))
register_backbone(Backbone(
    name="small_cnn", build=_small_cnn, min_image_size=2 ** len(SMALL_CNN_FILTERS), input_range=(0.0, 1.0),
    description="three conv blocks: a smoke-run stand-in that traces in a second; not a detector to report"))
