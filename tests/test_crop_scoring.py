"""Crops scored in memory (`tdfake predict` on videos) get the scores their files would get.

The reference is the file path every other scoring takes: the crop written as a JPEG file, the
arm's image made from it by image creation (`stage_images`), read back through the tf.data input
pipeline and scored (`score_files`).  The arms are an original, a TK and a TK_diff arm (the fast
Tucker path, rank [30, 30, 3]); the crops are demo face photos at 256 px, resized to the 64 px
input, and one crop too small for the rank, which neither path can score.  The network is a seeded
random convolution, so the scores follow the pixels, not only their mean.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from tiny_models import face_split, tiny_config, write_run

from tdfake import demo
from tdfake.crop_scoring import score_crops
from tdfake.evaluate import score_files, stage_images
from tdfake.faces import CROP_SIZE
from tdfake.images import write_rgb
from tdfake.layout import load_run

ARMS = ("baseline", "tk", "tk_diff")
SPLITS = ["train", "val", "test", "train", "val", "test"]


def conv_model(size: int) -> keras.Model:
    keras.utils.set_random_seed(7)
    return keras.Sequential([keras.Input((size, size, 3)), keras.layers.Conv2D(4, 5, strides=2, activation="relu"),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    split = face_split(out / "data", (np.linspace(0.3, 0.5, len(SPLITS)), np.linspace(0.5, 0.7, len(SPLITS))),
                       SPLITS)
    cfg = tiny_config(image_size=64, tucker_method="fast", batch_size=4)
    return {arm: load_run(write_run(out, arm, split, cfg)) for arm in ARMS}


def test_crops_in_memory_score_as_their_files(runs, tmp_path):
    faces = demo.source_faces()[:2]
    crops = [np.clip(demo.real_frame(demo.make_video(i, faces, seed=0), 0, CROP_SIZE)[0], 0, 255).astype(np.uint8)
             for i in range(3)]
    crops.append(np.full((2, 2, 3), 128, np.uint8))  # smaller than the Tucker rank: no TK image
    crops += [np.ascontiguousarray(crops[0][:, ::-1]), np.ascontiguousarray(crops[1][::-1])]
    names = [f"crop{i}.jpg" for i in range(len(crops))]
    for name, crop in zip(names, crops):
        write_rgb(tmp_path / "crops" / name, crop)
    model = conv_model(64)
    for arm, run in runs.items():
        in_memory = score_crops(model, crops, run, ".jpg")
        files, _ = stage_images(tmp_path / "crops", names, run, tmp_path / arm)
        usable = [i for i, f in enumerate(files) if f is not None]
        from_files = np.full(len(crops), np.nan)
        from_files[usable] = score_files(model, [files[i] for i in usable], run.cfg)
        np.testing.assert_allclose(in_memory, from_files, rtol=0, atol=1e-6, err_msg=arm)
        assert np.isnan(in_memory).tolist() == [arm != "baseline" and i == 3 for i in range(len(crops))]
        assert np.ptp(in_memory[~np.isnan(in_memory)]) > 1e-3  # the crops score differently
