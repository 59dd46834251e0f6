"""Small stand-ins the tests share: hand-weighted arms, run folders built around them, one tiny demo study.

The hand-weighted arm is GlobalAveragePooling → Dense(1, sigmoid) with fixed weights, so an image's score is
sigmoid(10 · mean red / 255 − 5) (:func:`red_model`; :func:`red_conv_model` adds a 1×1 convolution
picking the red channel, so Grad-CAM has a layer to read, and scores the same).  Tests write
"faces" whose red level they choose (reals darker than fakes, with overlap), so scores are
informative but imperfect, and check every score the code under test reports against
:func:`expected_score` of the very file scored.  No training.

:func:`face_split` writes such faces and their split table; :func:`write_run` lays out a run folder
around a hand-weighted model exactly as `tdfake run` does (``OUT/images/<kind>/``, ``OUT/<arm>/``
with config.yaml, split.csv, run.json and best.keras), optionally evaluated.  :func:`copy_study`
copies a study folder (the tiny study's, for the tests that write into it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from tdfake import layout
from tdfake.config import Config
from tdfake.images import read_rgb, write_rgb

ROOT = Path(__file__).resolve().parents[1]

SIZE = 32


def expected_score(path_or_image) -> float:
    """The red model's score of an image file (or RGB uint8 array)."""
    image = read_rgb(path_or_image) if not isinstance(path_or_image, np.ndarray) else path_or_image
    red = image[..., 0].astype(np.float64) / 255.0
    return float(1.0 / (1.0 + np.exp(-(10.0 * red.mean() - 5.0))))


def face(red: float, seed: int, size: int = SIZE) -> np.ndarray:
    """A random RGB image whose red channel sits around ``red`` (0–1)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (size, size, 3)).astype(np.float64)
    image[..., 0] = np.clip(red * 255 + rng.normal(0, 20, (size, size)), 0, 255)
    return image.round().astype(np.uint8)


def red_model(size: int = SIZE) -> keras.Model:
    """GlobalAveragePooling → Dense(1, sigmoid) scoring sigmoid(10 · mean red − 5)."""
    model = keras.Sequential([
        keras.Input((size, size, 3)),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.layers[-1].set_weights([np.array([[10.0], [0.0], [0.0]]), np.array([-5.0])])
    return model


def red_conv_model(size: int = SIZE) -> keras.Model:
    """Conv2D(1×1, ReLU) = red channel → GAP → Dense(1, sigmoid): score sigmoid(10 · mean red − 5).

    The gradient of P(fake) with respect to the conv output is the same at every position, so the
    normalised Grad-CAM map of "fake" is red / max(red), and that of "real" is zero.
    """
    model = keras.Sequential([
        keras.Input((size, size, 3)),
        keras.layers.Conv2D(1, 1, activation="relu", name="red"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.get_layer("red").set_weights([np.array([1.0, 0.0, 0.0]).reshape(1, 1, 3, 1), np.zeros(1)])
    model.layers[-1].set_weights([np.array([[10.0]]), np.array([-5.0])])
    return model


SPLIT_COLUMNS = ["root", "path", "label", "method", "video", "group", "split"]
CLASSES = ("real", "fake")


def face_split(data: Path, reds: Sequence[Sequence[float]], split_of: Callable[[int], str] | Sequence[str],
               group_of: Callable[[str, int, str], str] | None = None,
               video_of: Callable[[str, int, str], str] | None = None) -> pd.DataFrame:
    """Write ``data/real/rNN.png`` and ``data/fake/fNN.png`` faces of the given red levels; their split table.

    ``reds``: (real levels, fake levels).  Image ``i`` of class ``label`` is :func:`face` with seed
    ``100 · label + i``; its split is ``split_of(i)`` (or ``split_of[i]``), its group and video
    ``group_of(cls, i, path)`` / ``video_of(cls, i, path)`` (default: the path, one image per video).
    """
    rows = []
    for label, (cls, levels) in enumerate(zip(CLASSES, reds)):
        for i, red in enumerate(levels):
            path = f"{cls}/{cls[0]}{i:02d}.png"
            write_rgb(data / path, face(red, 100 * label + i))
            split = split_of(i) if callable(split_of) else split_of[i]
            video = video_of(cls, i, path) if video_of else path
            group = group_of(cls, i, path) if group_of else path
            rows.append((str(data), path, label, cls, video, group, split))
    return pd.DataFrame(rows, columns=SPLIT_COLUMNS)


ImageOf = Callable[[str, pd.Series], np.ndarray]
"""``image_of(kind, row)``: the arm image of one split row (for stand-in OR/TK/TK_diff images)."""


def write_run(out: Path, arm: str, split: pd.DataFrame, cfg: Config, model: keras.Model | None = None,
              image_of: ImageOf | None = None, evaluate: bool = False, n_bootstrap: int = 0,
              run_dir: Path | None = None) -> Path:
    """A finished run folder of ``arm`` in the study folder ``out``, as `tdfake run` lays it out; returns it.

    Writes the arm's images of the split's rows under ``out/images/<folder>/`` (kept when already
    there, so the arms of one study share them): ``image_of(kind, row)`` when given, else the crop
    itself for OR and the arm's real image (:func:`tdfake.image_creation.create_images` of
    ``cfg.image_spec(arm)``) for the others.  Then ``run_dir`` (default ``out/<arm>``) gets ``cfg`` (with
    ``out_dir=out``) as config.yaml, the split, run.json (:func:`tdfake.layout.write_run_info`,
    training seed ``cfg.seed``) and ``model`` (default :func:`red_model` at ``cfg.image_size``) as
    best.keras.  ``evaluate``: score it with :func:`tdfake.evaluate.evaluate_run` as well.
    """
    spec = cfg.image_spec(arm)
    kind = spec.kind
    images_root = out / layout.IMAGES_DIR
    if image_of is None and kind != "OR":
        from tdfake.image_creation import create_images

        for root, part in split.groupby("root"):
            create_images(Path(root), images_root, [spec], image_format=cfg.image_format, paths=list(part["path"]),
                          workers=1, progress=False)
    else:
        for _, row in split.iterrows():
            target = images_root / spec.folder / row["path"]
            if not target.is_file():
                image = image_of(kind, row) if image_of else read_rgb(Path(row["root"]) / row["path"])
                write_rgb(target, image)
    run = Path(run_dir) if run_dir is not None else out / arm
    run.mkdir(parents=True, exist_ok=True)
    cfg.override(out_dir=str(out)).to_yaml(run / layout.CONFIG_FILE)
    split.to_csv(run / layout.SPLIT_FILE, index=False)
    layout.write_run_info(run, arm, kind, images_root, cfg.seed)
    (model if model is not None else red_model(int(cfg.image_size))).save(run / layout.BEST_CHECKPOINT)
    if evaluate:
        from tdfake.evaluate import evaluate_run

        evaluate_run(run, n_bootstrap=n_bootstrap)
    return run


def tiny_config(**overrides) -> Config:
    """The settings a hand-weighted run needs: SIZE px input, no pretrained weights, one worker."""
    return Config().override(**{"image_size": SIZE, "batch_size": 8, "weights": None, "workers": 1, **overrides})


TINY_STUDY = {
    "demo_n_per_class": 40, "demo_size": 128, "image_size": 71, "batch_size": 8, "epochs": 1,
    "train_fraction": 0.6, "val_fraction": 0.2, "test_fraction": 0.2, "backbone": "small_cnn",
}
"""Settings of the tiny demo studies the slow tests run (fixture ``tiny_study`` in conftest.py, the fresh
notebooks): 40 + 40 demo crops at 128 px, one epoch of the ``small_cnn`` backbone at 71 px.  The small
backbone traces in a second where Xception takes ~20 s per arm, which was most of the suite's time;
Xception's own training and resume are tested in tests/test_train.py."""


TINY_SWEEP_RANKS = (30, 5)
"""The ranks of the session's tiny sweep (fixture ``tiny_sweep``): the tiny study's own rank (reused as it
is) and one new rank."""


def tiny_study_argv(overrides: dict, command: str = "run") -> list[str]:
    """``tdfake run`` (or ``sweep``) arguments for the demo config with ``overrides`` as ``--set`` options."""
    argv = [command, "--config", str(ROOT / "configs/demo.yaml")]
    for key, value in overrides.items():
        argv += ["--set", f"{key}={value}"]
    return argv


def copy_study(overrides: dict, root: Path) -> dict:
    """A copy of a study's ``out_dir`` and ``graphs_dir`` under ``root``; the overrides pointing at the copy.

    ``shutil.copytree`` copies with ``copy2``, so every file keeps its modification time and the
    copy's provenance records (which fingerprint sizes and times) still match: nothing is redone.
    The demo data (``demo_dir``) is only ever read, and the study's split names its files there,
    so it is shared, not copied.
    """
    copied = dict(overrides)
    for key in ("out_dir", "graphs_dir"):
        source = Path(overrides[key])
        target = root / key
        if source.exists():
            shutil.copytree(source, target)
        copied[key] = str(target)
    return copied


def remove_study(overrides: dict) -> None:
    """Delete a copy made by :func:`copy_study` (its checkpoints weigh about 1.5 GB)."""
    for key in ("out_dir", "graphs_dir"):
        shutil.rmtree(overrides[key], ignore_errors=True)
