"""The input pipeline: split table → ``tf.data`` batches of float32 RGB images (and labels).

Why not Keras' ImageDataGenerator, as the study used?  Keras 3 keeps it only as a deprecated
legacy class, and it transforms one image at a time in NumPy/SciPy on one thread.  Here the same
augmentation runs on whole batches (one affine matrix per image, drawn in TensorFlow, applied
by OpenCV's ``warpAffine``), with parallel reading, parallel batches and prefetching;
``bench/bench_pipeline.py`` compares the two.

Augmentation keeps ImageDataGenerator's option names **and meanings** (see ``Config``):

* ``rescale`` — pixel values are multiplied by it (after the geometric transform, as IDG does), with
  ``preprocess: study``; with ``preprocess: backbone`` the model scales raw pixels itself (:func:`input_scale`).
* ``rotation_range`` — degrees; angle ~ U(−r, r).
* ``width_shift_range`` / ``height_shift_range`` — fractions of the width / height; shift ~ U(−f, f)·size
  (values ≥ 1 are pixels, as in IDG).  IDG itself scales the horizontal shift by the *height* and
  vice versa; for the study's square images and equal ranges that makes no difference, and here
  each range moves along its own axis.
* ``shear_range`` — degrees (not radians, unlike Keras 3 layers); angle ~ U(−s, s).
* ``zoom_range`` — z → zoom factors ``zx, zy ~ U(1 − z, 1 + z)`` drawn independently per axis
  (a pair ``[lo, hi]`` is taken as is).
* ``horizontal_flip`` — mirror left/right with probability ½, after the affine transform.
* ``fill_mode`` — how points outside the input are filled ("nearest" replicates edge pixels;
  "constant" (0), "reflect", "wrap" also work).

The geometric options compose into one affine matrix per image exactly as IDG's
``apply_affine_transform`` does (rotation · shift · shear · zoom about the image centre), sampled
bilinearly as IDG's ``order=1``; the tests compare the result with IDG's own function.  The flip
comes after the warp and reverses the columns, as IDG's ``flip_axis`` does, so a mirrored image is
exactly the mirror on every CPU.  The warp runs on uint8 pixels, so values are rounded to whole grey levels before
``rescale`` (IDG keeps float32; the difference is at most half a grey level).

Images are read by :func:`tdfake.images.read_rgb` (the one place that reads images: RGB, gray and
RGBA handled, errors name the file) and resized with ``cfg.resize_method`` (the study: nearest).
Validation and test data are never augmented and keep the split table's order.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import cv2
import numpy as np
import pandas as pd
import tensorflow as tf

from tdfake.config import Config
from tdfake.constants import LABEL_NAMES
from tdfake.images import image_paths, read_rgb

AUTOTUNE = tf.data.AUTOTUNE
SUBSETS = ("train", "val", "test")
# fill_mode (IDG / scipy.ndimage words) -> OpenCV border mode
_BORDERS = {"nearest": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT,
            "wrap": cv2.BORDER_WRAP}


# ----------------------------------------------------------------------------- file lists


def check_files_exist(paths: Sequence[str], what: str = "images") -> None:
    """Raise ``FileNotFoundError`` listing missing files (up to 10 of them) before any work starts."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        shown = "\n  ".join(missing[:10])
        more = f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise FileNotFoundError(
            f"{len(missing)} of {len(paths)} {what} are missing:\n  {shown}{more}\n"
            "Create them first (`tdfake images SRC OUT` for TK/TK_diff) or pass the right --images folder."
        )


def select_subset(split_df: pd.DataFrame, subset: str) -> pd.DataFrame:
    """Rows of one split, with clear errors for a table without a split column or an empty subset."""
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    if split_df is None or len(split_df) == 0:
        raise ValueError("the split table is empty; build it with `tdfake split` (or tdfake.study.prepare)")
    if "split" not in split_df.columns:
        raise ValueError("the table has no 'split' column; make one with `tdfake split` before training")
    rows = split_df[split_df["split"] == subset]
    if len(rows) == 0:
        raise ValueError(f"the '{subset}' split is empty; check the split fractions and the data folder")
    return rows


def check_both_classes(rows: pd.DataFrame, subset: str) -> None:
    """A labelled subset needs real (0) and fake (1) images; name the class that has none."""
    labels = set(int(v) for v in rows["label"].unique())
    for value, name in LABEL_NAMES.items():
        if value not in labels:
            raise ValueError(
                f"the '{subset}' split has no {name} images (label {value}); "
                f"check that the data folder has {name} images and re-run the split"
            )


# ----------------------------------------------------------------------------- reading


def _read_image(path: tf.Tensor, image_size: int, resize_method: str) -> tf.Tensor:
    """Read one file with :func:`read_rgb` (in a worker thread) and resize it: uint8 (S, S, 3)."""
    image = tf.numpy_function(lambda p: read_rgb(p.decode()), [path], tf.uint8, stateful=False)
    image.set_shape([None, None, 3])
    return resize_image(image, image_size, resize_method)


def resize_image(image: tf.Tensor, image_size: int, resize_method: str) -> tf.Tensor:
    """One uint8 (H, W, 3) image at the network's input size, as every image file is read: uint8 (S, S, 3).

    Public so that images held in memory (:mod:`tdfake.crop_scoring`) get exactly the resize a file gets.
    """

    def resize():
        resized = tf.image.resize(image, (image_size, image_size), method=resize_method)
        return resized if resized.dtype == tf.uint8 else tf.saturate_cast(tf.round(resized), tf.uint8)

    same_size = tf.reduce_all(tf.shape(image)[:2] == image_size)
    resized = tf.cond(same_size, lambda: image, resize)
    resized.set_shape([image_size, image_size, 3])
    return resized


# ----------------------------------------------------------------------------- augmentation


def affine_matrices(theta, tx, ty, shear, zx, zy, height: int, width: int) -> tf.Tensor:
    """IDG's ``apply_affine_transform`` matrices for a batch of parameters, as projective-transform rows.

    All arguments are 1-D tensors of length N; angles in degrees, shifts in pixels (``tx`` moves
    along x = columns, ``ty`` along y = rows).  The matrix maps output pixel (x, y) to the input
    point it samples: rotation · shift · shear · zoom about the image centre, as IDG builds it.
    Returns (N, 8) rows in ``tf.raw_ops.ImageProjectiveTransformV3``'s layout (last two 0: affine).
    """
    theta = theta * (math.pi / 180.0)
    shear = shear * (math.pi / 180.0)
    zeros, ones = tf.zeros_like(theta), tf.ones_like(theta)

    def mat(rows):
        return tf.stack([tf.stack(r, axis=-1) for r in rows], axis=-2)  # (N, 3, 3)

    rotation = mat([[tf.cos(theta), -tf.sin(theta), zeros], [tf.sin(theta), tf.cos(theta), zeros],
                    [zeros, zeros, ones]])
    shift = mat([[ones, zeros, tx], [zeros, ones, ty], [zeros, zeros, ones]])
    shearing = mat([[ones, -tf.sin(shear), zeros], [zeros, tf.cos(shear), zeros], [zeros, zeros, ones]])
    zoom = mat([[zx, zeros, zeros], [zeros, zy, zeros], [zeros, zeros, ones]])
    ox, oy = (width - 1) / 2.0, (height - 1) / 2.0
    offset = tf.constant([[1.0, 0.0, ox], [0.0, 1.0, oy], [0.0, 0.0, 1.0]])
    reset = tf.constant([[1.0, 0.0, -ox], [0.0, 1.0, -oy], [0.0, 0.0, 1.0]])
    m = offset @ rotation @ shift @ shearing @ zoom @ reset
    return tf.reshape(m, [-1, 9])[:, :8]


def _warp_batch(images: np.ndarray, transforms: np.ndarray, border: int) -> np.ndarray:
    """OpenCV bilinear warp of each image; ``transforms`` map output (x, y) to input points."""
    out = np.empty_like(images)
    height, width = images.shape[1:3]
    for i, (image, t) in enumerate(zip(images, transforms)):
        matrix = np.asarray(t[:6], np.float64).reshape(2, 3)
        out[i] = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=border, borderValue=0).reshape(image.shape)
    return out


def apply_affine(images: tf.Tensor, transforms: tf.Tensor, fill_mode: str = "nearest") -> tf.Tensor:
    """Warp images (N, H, W, C), uint8 or float32, by (N, 8) affine rows, bilinearly (IDG's ``order=1``).

    OpenCV's ``warpAffine`` does the work: several times faster on CPU than TensorFlow's
    projective-transform kernel, and it releases the GIL, so parallel batches run on all cores.
    """
    if fill_mode not in _BORDERS:
        raise ValueError(f"fill_mode must be one of {sorted(_BORDERS)}, got {fill_mode!r}")
    out = tf.numpy_function(lambda x, t: _warp_batch(x, t, _BORDERS[fill_mode]),
                            [images, tf.cast(transforms, tf.float32)], images.dtype, stateful=False)
    out.set_shape(images.shape)
    return out


def _zoom_bounds(zoom_range) -> tuple[float, float]:
    if isinstance(zoom_range, (list, tuple)):
        low, high = float(zoom_range[0]), float(zoom_range[1])
    else:
        low, high = 1.0 - float(zoom_range), 1.0 + float(zoom_range)
    return low, high


def _shift_pixels(range_: float, size: int) -> float:
    """IDG: a range below 1 is a fraction of the size, otherwise pixels."""
    return float(range_) * size if abs(float(range_)) < 1 else float(range_)


def random_augment(images: tf.Tensor, seed: tf.Tensor, cfg: Config) -> tf.Tensor:
    """Augment a batch (N, H, W, 3) as ImageDataGenerator would, from a stateless ``seed`` (2,).

    Every image gets its own random rotation, shifts, shear and per-axis zoom, applied as one warp
    per image, then its own flip (columns reversed: exact, after the warp as in IDG).
    """
    n = tf.shape(images)[0]
    height, width = int(images.shape[1]), int(images.shape[2])
    seeds = tf.random.experimental.stateless_split(seed, num=7)

    def uniform(i, low, high):
        return tf.random.stateless_uniform([n], seeds[i], minval=low, maxval=high)

    rot = float(cfg.rotation_range)
    dx = _shift_pixels(cfg.width_shift_range, width)
    dy = _shift_pixels(cfg.height_shift_range, height)
    sh = float(cfg.shear_range)
    zlow, zhigh = _zoom_bounds(cfg.zoom_range)
    zoom = (zlow, zhigh) != (1.0, 1.0)
    if rot or dx or dy or sh or zoom:
        theta = uniform(0, -rot, rot) if rot else tf.zeros([n])
        tx = uniform(1, -dx, dx) if dx else tf.zeros([n])
        ty = uniform(2, -dy, dy) if dy else tf.zeros([n])
        shear = uniform(3, -sh, sh) if sh else tf.zeros([n])
        zx = uniform(4, zlow, zhigh) if zoom else tf.ones([n])
        zy = uniform(5, zlow, zhigh) if zoom else tf.ones([n])
        images = apply_affine(images, affine_matrices(theta, tx, ty, shear, zx, zy, height, width), cfg.fill_mode)
    if cfg.horizontal_flip:
        flip = tf.random.stateless_uniform([n], seeds[6]) < 0.5
        images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
    return images


# ----------------------------------------------------------------------------- datasets


def paths_dataset(paths: Sequence[str], cfg: Config, labels: Sequence[int] | None = None, training: bool = False,
                  cache: bool = False, first_epoch: int = 0, num_epochs: int = 1) -> tf.data.Dataset:
    """Batches of float32 images (and float32 labels when given) from a list of image files.

    ``training`` shuffles and augments: the dataset holds ``num_epochs`` epochs one after the
    other, from ``first_epoch`` on, and epoch ``e``'s order and augmentation are a function of
    ``(cfg.seed, e)`` alone (stateless seeds, independent of TensorFlow's global seed), so a
    resumed run sees the same epoch ``e`` as an uninterrupted one, whatever ran before in the
    process.  Otherwise the order of ``paths`` is kept and nothing random happens.  ``cache``
    (not with ``training``, whose order changes every epoch) keeps decoded, resized images in
    memory after the first pass (worth it for validation data that fits).  Missing files raise at once.
    """
    paths = [str(p) for p in paths]
    if not paths:
        raise ValueError("no image files given")
    if training and cache:
        raise ValueError("cache=True is for unaugmented data (validation, test); training data is read each epoch")
    check_files_exist(paths)
    size, method = int(cfg.image_size), cfg.resize_method
    items = (tf.constant(paths), tf.constant(np.asarray(labels, np.float32))) if labels is not None \
        else (tf.constant(paths),)

    def load(path, *label):
        return (_read_image(path, size, method), *label)

    options = tf.data.Options()
    options.deterministic = True
    # Several workers (tf.distribute): each runs this whole pipeline and keeps its replicas' parts of every
    # batch, so a global batch and its augmentation are the same however many workers share it.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    scale = input_scale(cfg)
    if not training:
        ds = tf.data.Dataset.from_tensor_slices(items).with_options(options).map(load, num_parallel_calls=AUTOTUNE)
        if cache:
            ds = ds.cache()
        ds = ds.batch(int(cfg.batch_size))
        ds = ds.map(lambda image, *label: (tf.cast(image, tf.float32) * scale, *label), num_parallel_calls=AUTOTUNE)
        return ds.map(_unwrap_single).prefetch(AUTOTUNE)

    n, seed, batch_size = len(paths), int(cfg.seed), int(cfg.batch_size)

    def augment(batch, batch_seed):
        images = tf.cast(random_augment(batch[0], batch_seed, cfg), tf.float32) * scale
        return (images, *batch[1:])

    def one_epoch(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), key)
        rows = tf.data.Dataset.from_tensor_slices(order).map(lambda i: tuple(tf.gather(t, i) for t in items))
        batches = rows.map(load, num_parallel_calls=AUTOTUNE).batch(batch_size)
        batch_seeds = tf.data.Dataset.range(math.ceil(n / batch_size)).map(
            lambda b: tf.random.experimental.stateless_fold_in(key, b))
        return tf.data.Dataset.zip(batches, batch_seeds).map(augment, num_parallel_calls=AUTOTUNE)

    epochs = tf.data.Dataset.range(int(first_epoch), int(first_epoch) + int(num_epochs)).with_options(options)
    return epochs.flat_map(one_epoch).map(_unwrap_single).prefetch(AUTOTUNE)


def input_scale(cfg: Config) -> float:
    """What the pipeline multiplies pixels by: ``cfg.rescale`` with ``preprocess: study`` (the study's
    [0, 1] input), 1 with ``preprocess: backbone`` (the model maps raw pixels onto its backbone's input
    range itself, see :func:`tdfake.model.input_scaling`)."""
    return float(cfg.rescale) if cfg.preprocess == "study" else 1.0


def _unwrap_single(*items):
    return items[0] if len(items) == 1 else items


def make_dataset(split_df: pd.DataFrame, subset: str, cfg: Config, images_root: os.PathLike | str | None = None,
                 kind: str = "OR", training: bool | None = None, with_labels: bool = True,
                 cache: bool = False, first_epoch: int = 0, num_epochs: int = 1) -> tf.data.Dataset:
    """Batches of (float32 images, float32 labels) for one ``subset`` ("train", "val", "test") of a split.

    ``images_root`` None reads ``root/path`` of each row; otherwise the arm's image
    ``images_root/kind/path`` (suffix per ``cfg.image_format``).  ``training`` defaults to
    ``subset == "train"``: shuffled and augmented, epochs ``first_epoch`` to ``first_epoch + num_epochs - 1``
    (see :func:`paths_dataset`); anything else keeps the table's order, unaugmented.
    """
    rows = select_subset(split_df, subset)
    if with_labels:
        check_both_classes(rows, subset)
    paths = image_paths(rows, images_root, kind, cfg.image_format)
    labels = rows["label"].astype(int).tolist() if with_labels else None
    training = (subset == "train") if training is None else training
    return paths_dataset(paths, cfg, labels=labels, training=training, cache=cache, first_epoch=first_epoch,
                         num_epochs=num_epochs)
