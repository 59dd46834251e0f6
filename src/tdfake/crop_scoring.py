"""Face crops held in memory, scored by an arm exactly as their files would be.

Why: `tdfake predict` on a video cuts each face crop from a decoded frame.  Scoring it through
files (:func:`tdfake.evaluate.stage_images` then :func:`tdfake.evaluate.score_files`) writes the
crop as JPEG, makes the arm's image file from it, and reads that back through a fresh ``tf.data``
pipeline: about 26 ms per frame on two CPU cores, where the network alone takes 7-10 ms.  Here
the same steps happen in memory:

1. the crop goes through the bytes of its file (:data:`tdfake.video.CROP_SUFFIX`, JPEG), as
   ``tdfake faces`` writes training crops;
2. the arm's image is made from the decoded crop (:meth:`tdfake.transforms.ImageSpec.apply`,
   one BLAS thread, as image creation does) and goes through the bytes of the file image
   creation would write (the config's ``image_format``, else the crop's own format; an original
   in the crop's format is the crop itself, as image creation copies those bytes);
3. the image is resized with the input pipeline's own :func:`tdfake.pipeline.resize_image` and
   scaled by :func:`tdfake.pipeline.input_scale`;
4. the network scores batches of ``cfg.batch_size`` rows, the last padded with black images, as
   :func:`tdfake.evaluate.score_files` does (one input shape, one trace).

So a crop's score is the score its files would get (``tests/test_crop_scoring.py`` checks this
against the file path for an original, a TK and a TK_diff arm).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import tensorflow as tf
from threadpoolctl import threadpool_limits

from tdfake.images import encode_image, to_rgb_uint8
from tdfake.layout import Run
from tdfake.pipeline import input_scale, resize_image
from tdfake.transforms import ORIGINAL


def through_file(image: np.ndarray, suffix: str) -> np.ndarray:
    """``image`` (RGB uint8) as it reads back from a file with ``suffix`` (``.jpg``: after JPEG's loss)."""
    decoded = cv2.imdecode(np.frombuffer(encode_image(image, suffix), np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:  # OpenCV decodes what it encoded; this would be a broken codec build
        raise ValueError(f"OpenCV could not decode the {suffix} bytes it encoded")
    return to_rgb_uint8(decoded, f"<in-memory {suffix}>")


def arm_image(crop: np.ndarray, run: Run, crop_suffix: str) -> np.ndarray | None:
    """The arm's input image of one crop (RGB uint8, before resizing), as its file reads back; None when the
    arm's kind cannot be made from it (e.g. a crop smaller than the Tucker rank)."""
    spec, image_format = run.spec, run.cfg.image_format
    stored = through_file(crop, crop_suffix)
    suffix = "." + image_format.lower().lstrip(".") if image_format else crop_suffix
    if spec.unusable(stored) is not None:
        return None
    if spec.kind == ORIGINAL and suffix.lower() == crop_suffix.lower():
        return stored
    return through_file(spec.apply(stored) if spec.kind != ORIGINAL else stored, suffix)


def score_crops(model, crops: Sequence[np.ndarray], run: Run, crop_suffix: str) -> np.ndarray:
    """P(fake) of each crop by the run's model (NaN where its arm image cannot be made); see the module doc."""
    cfg = run.cfg
    with threadpool_limits(1):
        images = [arm_image(crop, run, crop_suffix) for crop in crops]
    scores = np.full(len(crops), np.nan)
    usable = [i for i, image in enumerate(images) if image is not None]
    size, batch_size, scale = int(cfg.image_size), int(cfg.batch_size), input_scale(cfg)
    for start in range(0, len(usable), batch_size):
        rows = usable[start:start + batch_size]
        batch = np.zeros((batch_size, size, size, 3), np.float32)
        for slot, i in enumerate(rows):
            resized = resize_image(tf.convert_to_tensor(images[i]), size, cfg.resize_method)
            batch[slot] = tf.cast(resized, tf.float32).numpy() * scale
        predicted = np.asarray(model.predict_on_batch(batch), dtype=np.float64).reshape(-1)
        scores[rows] = predicted[:len(rows)]
    return scores
