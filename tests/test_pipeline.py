"""The input pipeline: reading, order, and each ImageDataGenerator option's meaning.

The reference for the geometric transform is Keras' own legacy ``apply_affine_transform``
(the function ImageDataGenerator calls); the bounds tests check each option's units directly.
"""

import math

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from keras.src.legacy.preprocessing.image import apply_affine_transform

from tdfake.config import Config
from tdfake.images import write_rgb
from tdfake.pipeline import affine_matrices, apply_affine, make_dataset, paths_dataset, random_augment

NO_AUG = dict(rotation_range=0, width_shift_range=0, height_shift_range=0, shear_range=0, zoom_range=0,
              horizontal_flip=False)


def cfg_with(**kw):
    return Config().override(**{**NO_AUG, "image_size": 32, "batch_size": 4, **kw})


def colour_image(i, size=32):
    rng = np.random.default_rng(i)
    img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    img[..., 0] = 10 * i  # the red channel identifies the image (RGB order is kept)
    return img


@pytest.fixture
def split_on_disk(tmp_path):
    """12 PNG files under images/OR/... and a split table: 8 train, 4 val, both classes each."""
    rows = []
    for i in range(12):
        label = i % 2
        rel = f"{'fake' if label else 'real'}/img_{i:02d}.png"
        write_rgb(tmp_path / "images" / "OR" / rel, colour_image(i))
        rows.append(dict(root=str(tmp_path / "src"), path=rel, label=label, method="x", video=str(i), group=str(i),
                         split="train" if i < 8 else "val"))
    return pd.DataFrame(rows), tmp_path / "images"


def batches(ds):
    return [tuple(t.numpy() for t in b) for b in ds]


def test_val_reads_rgb_in_table_order_rescaled_and_unaugmented(split_on_disk):
    split, root = split_on_disk
    cfg = cfg_with(rotation_range=20, width_shift_range=0.1, horizontal_flip=True)  # ignored for val
    (images, labels), = batches(make_dataset(split, "val", cfg, root))
    expected = np.stack([colour_image(i) for i in range(8, 12)]).astype(np.float32) / 255
    np.testing.assert_allclose(images, expected, atol=1e-6)
    np.testing.assert_array_equal(labels, [0, 1, 0, 1])
    assert images.dtype == np.float32 and labels.dtype == np.float32
    again, = batches(make_dataset(split, "val", cfg, root))
    np.testing.assert_array_equal(again[0], images)


def test_resize_uses_configured_method(split_on_disk):
    split, root = split_on_disk
    (images, _), = batches(make_dataset(split, "val", cfg_with(image_size=16, rescale=1.0), root))
    expected = colour_image(8)[1::2, 1::2]  # nearest-neighbour halving keeps every other pixel (centres)
    np.testing.assert_array_equal(images[0], expected)


def test_each_epoch_is_a_function_of_seed_and_epoch(split_on_disk):
    split, root = split_on_disk
    cfg = cfg_with(batch_size=8, rescale=1.0)
    two_epochs = [b[0].numpy() for b in make_dataset(split, "train", cfg, root, num_epochs=2)]
    epoch0, epoch1 = two_epochs[0][:, 0, 0, 0], two_epochs[1][:, 0, 0, 0]
    assert sorted(epoch0) == list(np.arange(8) * 10)
    assert not np.array_equal(epoch0, epoch1)  # a new order each epoch
    augmented = cfg_with(batch_size=8, rotation_range=20, zoom_range=0.1, horizontal_flip=True)
    uninterrupted = [b[0].numpy() for b in make_dataset(split, "train", augmented, root, num_epochs=2)]
    tf.random.set_seed(123)  # what ran before in the process (global seeds) does not matter
    resumed = batches(make_dataset(split, "train", augmented, root, first_epoch=1))[0][0]
    np.testing.assert_array_equal(resumed, uninterrupted[1])  # the same epoch 1 when resumed, augmentation included
    assert not np.array_equal(uninterrupted[0], uninterrupted[1])


def test_paths_only_dataset_yields_images(split_on_disk):
    split, root = split_on_disk
    paths = [root / "OR" / p for p in split["path"][:3]]
    (images,) = [b.numpy() for b in paths_dataset(paths, cfg_with())]
    assert images.shape == (3, 32, 32, 3)


def test_missing_files_are_listed_before_reading(split_on_disk):
    split, root = split_on_disk
    (root / "OR" / split["path"][9]).unlink()
    with pytest.raises(FileNotFoundError, match="img_09.png"):
        make_dataset(split, "val", cfg_with(), root)


def test_empty_split_and_missing_class_are_clear_errors(split_on_disk):
    split, root = split_on_disk
    with pytest.raises(ValueError, match="'test' split is empty"):
        make_dataset(split, "test", cfg_with(), root)
    only_real = split[split["label"] == 0]
    with pytest.raises(ValueError, match="no fake images"):
        make_dataset(only_real, "train", cfg_with(), root)


def test_unreadable_file_error_names_it(split_on_disk):
    split, root = split_on_disk
    (root / "OR" / split["path"][10]).write_bytes(b"not an image")
    with pytest.raises(tf.errors.OpError, match="img_10.png"):
        batches(make_dataset(split, "val", cfg_with(), root))


# --------------------------------------------------------------------------- augmentation meaning


@pytest.mark.parametrize("params", [
    dict(theta=17.0), dict(tx=3.2), dict(ty=-2.5), dict(shear=8.0), dict(zx=0.9, zy=1.1),
    dict(theta=-12.0, tx=2.0, ty=-3.0, shear=5.0, zx=1.05, zy=0.93),
])
def test_affine_transform_equals_imagedatagenerator(params):
    x = np.random.default_rng(0).uniform(0, 255, (24, 24, 3)).astype(np.float32)
    reference = apply_affine_transform(x, row_axis=0, col_axis=1, channel_axis=2, fill_mode="nearest", order=1,
                                       **params)
    full = {**dict(theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0), **params}
    args = [tf.constant([float(full[k])]) for k in ("theta", "tx", "ty", "shear", "zx", "zy")]
    out = apply_affine(tf.constant(x[None]), affine_matrices(*args, 24, 24))[0].numpy()
    np.testing.assert_allclose(out, reference, atol=1e-2)
    # the pipeline warps uint8 pixels: within one grey level of IDG's float result
    x8 = np.round(x).astype(np.uint8)
    reference8 = apply_affine_transform(x8.astype(np.float32), row_axis=0, col_axis=1, channel_axis=2,
                                        fill_mode="nearest", order=1, **params)
    out8 = apply_affine(tf.constant(x8[None]), affine_matrices(*args, 24, 24))[0].numpy()
    np.testing.assert_allclose(out8, reference8, atol=1.0)


def test_flip_is_applied_after_the_affine_transform():
    """Each image is the warp without the flip, or that warp's exact mirror (IDG flips after transforming)."""
    x = np.random.default_rng(1).uniform(0, 255, (16, 24, 24, 3)).astype(np.float32)
    seed, kw = tf.constant([5, 6], tf.int64), dict(rotation_range=30, width_shift_range=0.1)
    warped = random_augment(tf.constant(x), seed, cfg_with(**kw)).numpy()
    out = random_augment(tf.constant(x), seed, cfg_with(horizontal_flip=True, **kw)).numpy()
    same = np.all(out == warped, axis=(1, 2, 3))
    mirrored = np.all(out == warped[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same | mirrored) and mirrored.any() and same.any()


SIZE, N = 41, 256
CENTRE = (SIZE - 1) / 2


def spot_image(dx, dy):
    """A batch of N black images with one bright 3x3 spot at (CENTRE + dx, CENTRE + dy)."""
    img = np.zeros((SIZE, SIZE, 3), np.float32)
    x, y = int(CENTRE + dx), int(CENTRE + dy)
    img[y - 1:y + 2, x - 1:x + 2] = 1.0
    return tf.constant(np.repeat(img[None], N, axis=0))


def spot_positions(images):
    """Intensity-weighted centroid (x, y) of each augmented image, relative to the centre."""
    w = images.numpy()[..., 0]
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    total = w.sum(axis=(1, 2))
    return (w * xs).sum(axis=(1, 2)) / total - CENTRE, (w * ys).sum(axis=(1, 2)) / total - CENTRE


def augment(images, **kw):
    return random_augment(images, tf.constant([1, 2], tf.int64), cfg_with(**kw))


def test_width_shift_moves_horizontally_within_fraction_of_width():
    x, y = spot_positions(augment(spot_image(0, 0), width_shift_range=0.1))
    assert np.abs(x).max() <= 0.1 * SIZE + 1e-3 and np.abs(x).max() > 0.08 * SIZE
    assert (x > 0).any() and (x < 0).any()
    np.testing.assert_allclose(y, 0, atol=1e-4)


def test_height_shift_moves_vertically_within_fraction_of_height():
    x, y = spot_positions(augment(spot_image(0, 0), height_shift_range=0.1))
    assert np.abs(y).max() <= 0.1 * SIZE + 1e-3 and np.abs(y).max() > 0.08 * SIZE
    np.testing.assert_allclose(x, 0, atol=1e-4)


def test_rotation_range_is_degrees_either_way():
    x, y = spot_positions(augment(spot_image(12, 0), rotation_range=20))
    angle = np.degrees(np.arctan2(y, x))
    assert np.abs(angle).max() <= 20 + 0.5 and np.abs(angle).max() > 17
    assert (angle > 1).any() and (angle < -1).any()
    np.testing.assert_allclose(np.hypot(x, y), 12, atol=0.3)  # a rotation keeps the distance


def test_shear_range_is_degrees():
    x, y = spot_positions(augment(spot_image(0, 12), shear_range=20))
    angle = np.degrees(np.arctan2(x, y))  # a point below the centre leans by the shear angle
    assert np.abs(angle).max() <= 20 + 0.5 and np.abs(angle).max() > 17


def test_zoom_range_scales_each_axis_within_one_plus_minus_z():
    x, y = spot_positions(augment(spot_image(12, 12), zoom_range=0.1))
    for ratio in (x / 12, y / 12):  # IDG samples input at zoom * output: a spot moves to 1/zoom
        assert ratio.min() >= 1 / 1.1 - 0.01 and ratio.max() <= 1 / 0.9 + 0.01
        assert ratio.min() < 0.93 and ratio.max() > 1.08
    assert not np.allclose(x, y, atol=0.05)  # the two axes are drawn independently


def test_horizontal_flip_mirrors_about_half_the_images():
    img = np.random.default_rng(3).uniform(size=(N, SIZE, SIZE, 3)).astype(np.float32)
    out = augment(tf.constant(img), horizontal_flip=True).numpy()
    same = np.all(out == img, axis=(1, 2, 3))
    mirrored = np.all(out == img[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same | mirrored)
    assert 0.35 < mirrored.mean() < 0.65


def test_nearest_fill_replicates_edge_pixels():
    img = np.tile(np.arange(SIZE, dtype=np.float32)[None, :, None], (SIZE, 1, 3))[None]  # value = column
    zero = tf.zeros([1])
    matrix = affine_matrices(zero, tf.constant([5.0]), zero, zero, tf.ones([1]), tf.ones([1]), SIZE, SIZE)
    shifted = apply_affine(tf.constant(img), matrix)[0].numpy()
    np.testing.assert_allclose(shifted[:, :-5, 0], img[0, :, 5:, 0])
    np.testing.assert_allclose(shifted[:, -5:, 0], SIZE - 1)  # filled by the last column


def test_training_dataset_augments_and_rescales(split_on_disk):
    split, root = split_on_disk
    cfg = cfg_with(batch_size=8, rotation_range=20, width_shift_range=0.1, height_shift_range=0.1,
                   shear_range=0.1, zoom_range=0.1, horizontal_flip=True)
    (images, labels), = batches(make_dataset(split, "train", cfg, root))
    assert images.shape == (8, 32, 32, 3) and 0 <= images.min() and images.max() <= 1
    originals = {round(10 * i / 255, 6): colour_image(i) / 255 for i in range(8)}
    changed = [not np.allclose(im, originals[round(float(np.median(im[..., 0])), 6)], atol=1e-3)
               for im in images if round(float(np.median(im[..., 0])), 6) in originals]
    assert any(changed)
    assert math.isclose(labels.sum(), 4)
