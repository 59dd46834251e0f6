"""One configuration object for every entry point, loaded from YAML.

``configs/paper.yaml`` is the study exactly; ``configs/demo.yaml`` runs in minutes on a laptop
CPU.  Command-line flags (``--set key=value``) and notebook parameters override fields with
:meth:`Config.override`.  Field names for augmentation are Keras ImageDataGenerator's, with
ImageDataGenerator's meanings (see :mod:`tdfake.pipeline`).

The arms of a study and the comparisons between them are data too (``arms:``, ``comparisons:``;
the study's three by default, see :mod:`tdfake.arms`): an arm is a name and the image kind it
trains on with that kind's parameters (:mod:`tdfake.transforms`), so adding one is a config entry::

    arms:
      baseline: {input: OR}
      tk:       {input: TK}
      tk_r5:    {input: TK, rank: [5, 5, 3]}   # a control arm at a lower Tucker rank
    comparisons:
      - {a: baseline, b: tk, non_inferiority_margin: 0.02}
      - {a: baseline, b: tk_r5}
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tdfake import arms as study_arms
from tdfake import transforms, tucker
from tdfake.arms import Comparison
from tdfake.backbones import BACKBONES, PREPROCESS_MODES
from tdfake.constants import OWN_TEST_SET, SEED, SPLIT_FRACTIONS, SPLIT_MODES, TUCKER_METHOD, TUCKER_RANK
from tdfake.dataset_layouts import LAYOUTS
from tdfake.transforms import ImageSpec

PATH_FIELDS = ("out_dir", "graphs_dir", "data_dir", "demo_dir")
"""Config fields that hold folders (see :meth:`Config.rooted`)."""

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
"""Keras dtype policies ``precision`` may name: float32; float16 compute (GPUs); bfloat16 compute (CPUs with
AVX512_BF16 / AMX, and recent GPUs)."""

RENAMED_FIELDS = {"mixed_precision": ("precision", {False: "float32", True: "mixed_float16"})}
"""Fields of older configs (a run folder's config.yaml) -> the field and value that replace them."""

CHOICES: dict[str, tuple] = {
    "layout": LAYOUTS,
    "split_by": SPLIT_MODES,
    "tucker_method": tucker.METHODS,
    "image_format": (None, "png", "jpg"),
    "resize_method": ("nearest", "bilinear", "bicubic", "area", "lanczos3", "lanczos5", "gaussian",
                      "mitchellcubic"),  # tf.image.resize
    "fill_mode": ("nearest", "constant", "reflect", "wrap"),  # tdfake.pipeline
    "preprocess": PREPROCESS_MODES,
    "precision": PRECISIONS,
    "head": ("flatten", "avg"),  # tdfake.model.HEADS
    "optimizer": ("adam", "adamw", "sgd", "rmsprop"),  # tdfake.train.OPTIMIZERS
    "clr_mode": ("triangular", "triangular2", "exp_range"),  # tdfake.model.CyclicalLR.MODES
}
"""Fields with a fixed set of values (the modules named beside them use them; tests keep them in sync)."""

TRAINING = {"affects": "training"}
"""Field metadata: the field changes what is trained (part of a trained arm's fingerprint)."""
IMAGES = {"affects": "images"}
"""Field metadata: the field is a global default of image-kind parameters (a ``config`` key of
:mod:`tdfake.transforms`): it changes the images, and so the arms, of the kinds that read it."""
BEFORE_FIELD = "before_field"
"""Field metadata key: the value every run made before the training field existed was made with, so a
fingerprint recorded then still matches a run that uses it (see :func:`recorded_as_now`)."""
RENAMED = {"tucker_implementation": "image_implementation"}
"""Keys of recorded training fingerprints renamed since: old name -> new (see :func:`recorded_as_now`)."""

_TEST_SET_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
"""Test set and arm names become folder names."""


def training_fields() -> tuple[str, ...]:
    """The config fields every trained arm depends on; an arm's image parameters come on top
    (:meth:`tdfake.transforms.ImageSpec.fingerprint`, see :func:`tdfake.train.training_params`)."""
    return tuple(f.name for f in dataclasses.fields(Config) if f.metadata.get("affects") == "training")


def recorded_as_now(recorded: dict) -> dict:
    """A recorded training fingerprint with the training fields added since it was written filled in.

    A field absent from an old record gets its :data:`BEFORE_FIELD` value (what every run made
    before the field existed used), so adding a field never marks older runs as trained otherwise;
    a field without that metadata stays absent, and its absence then counts as a difference.
    Keys renamed since (:data:`RENAMED`) are read under their new names.
    """
    filled = {RENAMED.get(key, key): value for key, value in recorded.items()}
    for f in dataclasses.fields(Config):
        if BEFORE_FIELD in f.metadata and f.name not in filled:
            filled[f.name] = f.metadata[BEFORE_FIELD]
    return filled


class ConfigError(ValueError):
    """A config value that cannot work; the message names the field, the value and what is allowed."""


@dataclass
class Config:
    """Every setting of a tdfake run.  Defaults are the study's (``configs/paper.yaml``).

    Fields whose metadata say :data:`TRAINING` change what a trained arm is; they and the arm's
    image parameters (:meth:`image_spec`, which :data:`IMAGES` fields default) and only they make
    its fingerprint (:func:`training_fields`), so a new place, speed switch, evaluation setting (a
    test set, the threshold method) or another arm never asks for retraining.
    """

    name: str = "paper"
    # the split's, demo data's and bootstrap's seed, and the training seed unless `seeds` lists others
    seed: int = field(default=SEED, metadata=TRAINING)
    out_dir: str = "runs/paper"
    graphs_dir: str = "graphs"

    # data: a folder of face crops, or None for the built-in demo dataset
    data_dir: str | None = None
    layout: str = field(default="auto", metadata=TRAINING)
    demo_dir: str = "data/demo"  # where the built-in demo dataset is made when data_dir is None
    demo_n_per_class: int = field(default=200, metadata=TRAINING)
    demo_size: int = field(default=256, metadata=TRAINING)
    demo_frames_per_video: int = field(default=5, metadata=TRAINING)
    # FaceForensics++ pairs (a fake links two real videos); false: one video + its fake per group
    demo_paired: bool = field(default=True, metadata=TRAINING)
    # "group" (no video in two splits) or "frame" (the study's leaky split)
    split_by: str = field(default="group", metadata=TRAINING)
    train_fraction: float = field(default=SPLIT_FRACTIONS[0], metadata=TRAINING)
    val_fraction: float = field(default=SPLIT_FRACTIONS[1], metadata=TRAINING)
    test_fraction: float = field(default=SPLIT_FRACTIONS[2], metadata=TRAINING)
    # images per class sampled before splitting: an even share of every video
    per_class: int | None = field(default=10000, metadata=TRAINING)
    test_sets: dict[str, str] = field(default_factory=dict)  # extra test sets: name -> data folder (all rows)

    # the arms: name -> {input: image kind (tdfake.transforms), and that kind's parameters}; the study's three
    arms: dict[str, dict] = field(default_factory=lambda: copy.deepcopy(study_arms.STUDY_ARMS))
    # Tucker image creation: the arms' Tucker rank and method unless an arm gives its own
    rank: list[int] = field(default_factory=lambda: list(TUCKER_RANK), metadata=IMAGES)
    # "tensorly" (the study's call) or "fast" (batched, converges further)
    tucker_method: str = field(default=TUCKER_METHOD, metadata=IMAGES)
    image_format: str | None = field(default=None, metadata=TRAINING)  # None keeps the input's format, as the study did
    workers: int = 2

    # input pipeline and augmentation (ImageDataGenerator words and meanings)
    image_size: int = field(default=256, metadata=TRAINING)
    resize_method: str = field(default="nearest", metadata=TRAINING)
    rescale: float = field(default=1.0 / 255, metadata=TRAINING)
    rotation_range: float = field(default=20.0, metadata=TRAINING)
    width_shift_range: float = field(default=0.1, metadata=TRAINING)
    height_shift_range: float = field(default=0.1, metadata=TRAINING)
    shear_range: float = field(default=0.1, metadata=TRAINING)
    zoom_range: float = field(default=0.1, metadata=TRAINING)
    horizontal_flip: bool = field(default=True, metadata=TRAINING)
    fill_mode: str = field(default="nearest", metadata=TRAINING)

    # model
    # a tdfake.backbones name: "xception" (the study), "efficientnet_b0", or "small_cnn" (a smoke-run stand-in)
    backbone: str = field(default="xception", metadata={**TRAINING, BEFORE_FIELD: "xception"})
    # "study": pixels x rescale, as the study fed Xception; "backbone": the input range the backbone's
    # ImageNet weights expect (Xception [-1, 1]; EfficientNet takes raw pixels and scales inside)
    preprocess: str = field(default="study", metadata={**TRAINING, BEFORE_FIELD: "study"})
    # "imagenet", None, or a local .h5 / .weights.h5 file
    weights: str | None = field(default="imagenet", metadata=TRAINING)
    head: str = field(default="flatten", metadata=TRAINING)  # "flatten" (the study), "avg" (global average pooling)
    dense_units: int = field(default=256, metadata=TRAINING)
    dropout: float = field(default=0.0, metadata=TRAINING)
    # None keeps Keras' 0.99; short from-scratch runs need ~0.9
    bn_momentum: float | None = field(default=None, metadata=TRAINING)

    # training
    batch_size: int = field(default=32, metadata=TRAINING)
    epochs: int = 100
    optimizer: str = field(default="adam", metadata=TRAINING)
    clr_mode: str = field(default="exp_range", metadata=TRAINING)
    base_lr: float = field(default=1e-3, metadata=TRAINING)
    max_lr: float = field(default=7e-3, metadata=TRAINING)
    step_size: int = field(default=300, metadata=TRAINING)
    gamma: float = field(default=0.99994, metadata=TRAINING)
    precision: str = "float32"  # a Keras dtype policy (PRECISIONS); the output layer stays float32
    xla: bool = False

    # training seeds and determinism
    seeds: list[int] | None = None  # training seeds (one run folder each); None: the one `seed`
    deterministic: bool = False  # Keras set_random_seed + TensorFlow op determinism: a seed twice gives equal runs
    # the collapsed-run rule (tdfake.results.collapse_reason): a run that collapsed is left out and replaced by the
    # arm's next unused seed (after the last of `seeds`), at most this many times per arm; 0: every run is used
    replace_collapsed: int = 0

    # evaluation
    threshold: str = "eer"  # how the decision threshold is chosen on validation
    margin: float = 0.02  # non-inferiority margin of TK against the baseline, in AUROC
    # pairs of arms compared: [{a: ARM, b: ARM, non_inferiority_margin: AUROC or absent}];
    # null: the study's three between the arms present, `margin` on tk against baseline
    comparisons: list[dict] | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field before any work starts; raise :class:`ConfigError` naming the first bad one.

        Runs whenever a config is built (from YAML, ``--set``, :meth:`override`), so a typo such as
        ``split_by=video`` or ``head=max`` fails at once instead of after the images are made.
        """
        for name, allowed in {**CHOICES, "backbone": tuple(BACKBONES)}.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(str, allowed))}")
        if self.preprocess == "study" and BACKBONES[self.backbone].rescales_inside:
            raise ConfigError(f"preprocess='study' with backbone={self.backbone}: that backbone rescales its input "
                              "inside the model, so the study's rescale would scale the pixels twice; "
                              "set preprocess: backbone")
        self._check_weights()
        self._check_test_sets()
        self._check_threshold()
        if not (isinstance(self.rank, (list, tuple)) and len(self.rank) == 3
                and all(_is_int(r) and r > 0 for r in self.rank)):
            raise ConfigError(f"rank={self.rank!r} must be three positive integers [height, width, channels], "
                              "e.g. [30, 30, 3]")
        self._check_arms()
        self._check_comparisons()
        fractions = (self.train_fraction, self.val_fraction, self.test_fraction)
        if not all(_is_number(f) and 0 <= f <= 1 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
            raise ConfigError(f"train_fraction, val_fraction, test_fraction = {list(fractions)} must each lie in "
                              "[0, 1] and sum to 1")
        for name in ("seed",):
            if not _is_int(getattr(self, name)):
                raise ConfigError(f"{name}={getattr(self, name)!r} must be an integer")
        for name in ("demo_n_per_class", "demo_size", "demo_frames_per_video", "workers", "image_size", "dense_units",
                     "batch_size", "epochs", "step_size"):
            value = getattr(self, name)
            if not (_is_int(value) and value > 0):
                raise ConfigError(f"{name}={value!r} must be a positive integer")
        if self.per_class is not None and not (_is_int(self.per_class) and self.per_class > 0):
            raise ConfigError(f"per_class={self.per_class!r} must be a positive integer, or null to use every image")
        for name in ("rescale", "base_lr", "max_lr", "gamma"):
            value = getattr(self, name)
            if not (_is_number(value) and value > 0):
                raise ConfigError(f"{name}={value!r} must be a positive number")
        for name in ("rotation_range", "width_shift_range", "height_shift_range", "shear_range"):
            value = getattr(self, name)
            if not (_is_number(value) and value >= 0):
                raise ConfigError(f"{name}={value!r} must be a number >= 0 (ImageDataGenerator's meaning)")
        zoom = self.zoom_range
        if not ((_is_number(zoom) and 0 <= zoom < 1) or (isinstance(zoom, (list, tuple)) and len(zoom) == 2
                                                          and all(_is_number(z) and z > 0 for z in zoom))):
            raise ConfigError(f"zoom_range={zoom!r} must be a number in [0, 1) or a pair [low, high] "
                              "of positive factors")
        if not (_is_number(self.dropout) and 0 <= self.dropout < 1):
            raise ConfigError(f"dropout={self.dropout!r} must be a number in [0, 1)")
        if self.bn_momentum is not None and not (_is_number(self.bn_momentum) and 0 < self.bn_momentum < 1):
            raise ConfigError(f"bn_momentum={self.bn_momentum!r} must be a number in (0, 1), or null for Keras' 0.99")
        if self.seeds is not None and not (isinstance(self.seeds, (list, tuple)) and self.seeds
                                           and all(_is_int(s) for s in self.seeds)
                                           and len(set(self.seeds)) == len(self.seeds)):
            raise ConfigError(f"seeds={self.seeds!r} must be a list of distinct integers (e.g. [42, 43, 44]), "
                              "or null for the one `seed`")
        if not (_is_int(self.replace_collapsed) and self.replace_collapsed >= 0):
            raise ConfigError(f"replace_collapsed={self.replace_collapsed!r} must be a whole number >= 0 (the most "
                              "replacement seeds per arm for collapsed runs; 0 uses every run)")
        if not (_is_number(self.margin) and 0 <= self.margin < 1):
            raise ConfigError(f"margin={self.margin!r} must be a number in [0, 1) (an AUROC difference, e.g. 0.02)")
        for name in ("demo_paired", "horizontal_flip", "xla", "deterministic"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}={getattr(self, name)!r} must be true or false")

    def _check_weights(self) -> None:
        if self.weights == "imagenet" and BACKBONES[self.backbone].imagenet is None:
            raise ConfigError(f"weights='imagenet' with backbone={self.backbone}: that backbone has no ImageNet "
                              "weights; set weights: null, or backbone: xception")
        if self.weights in ("imagenet", None):
            return
        if not (isinstance(self.weights, str) and Path(self.weights).is_file()):
            raise ConfigError(f"weights={self.weights!r}: choose 'imagenet', null (train from scratch) or the "
                              "path of an existing weights file (.h5 / .weights.h5)")

    def _check_test_sets(self) -> None:
        if not isinstance(self.test_sets, dict):
            raise ConfigError(f"test_sets={self.test_sets!r} must map names to data folders, "
                              "e.g. --set test_sets.photos=data/photos")
        for name, folder in self.test_sets.items():
            if not (isinstance(name, str) and _TEST_SET_NAME.match(name)) or name == OWN_TEST_SET:
                raise ConfigError(f"test_sets.{name}: use a name of letters, digits, '_', '.' or '-' other than "
                                  f"{OWN_TEST_SET!r} (the run's own test split), e.g. test_sets.photos=FOLDER")
            if not isinstance(folder, str):
                raise ConfigError(f"test_sets.{name}={folder!r} must be the path of a data folder")

    def _check_arms(self) -> None:
        example = "e.g. arms.tk_r5={input: TK, rank: [5, 5, 3]}"
        if not (isinstance(self.arms, dict) and self.arms):
            raise ConfigError(f"arms={self.arms!r} must map arm names to what they train on, {example}")
        folders: dict[str, tuple] = {}
        for name, entry in self.arms.items():
            if not (isinstance(name, str) and _TEST_SET_NAME.match(name)) or name in study_arms.RESERVED \
                    or name.startswith("seed_"):
                raise ConfigError(f"arms.{name}: use a name of letters, digits, '_', '.' or '-', not seed_<s> nor "
                                  f"{', '.join(study_arms.RESERVED)} (it becomes the run folder's name)")
            if not (isinstance(entry, dict) and "input" in entry):
                raise ConfigError(f"arms.{name}={entry!r} must name its image kind with `input` "
                                  f"({', '.join(transforms.names())}), {example}")
            try:
                spec = self.image_spec(name)
            except ValueError as err:
                raise ConfigError(f"arms.{name}: {err}") from None
            clash = set(spec.fingerprint()) & set(training_fields())
            if clash:
                raise ConfigError(f"arms.{name}: image kind {spec.kind!r} has parameters named like the training "
                                  f"fields {sorted(clash)}; rename them where the kind is registered")
            if folders.setdefault(spec.folder, (spec.kind, spec.params)) != (spec.kind, spec.params):
                raise ConfigError(f"arms.{name}: its images would share the folder {spec.folder!r} with another "
                                  "arm's images of other parameters; change one of the two arms")

    def _check_comparisons(self) -> None:
        if self.comparisons is None:
            return
        example = "e.g. comparisons: [{a: baseline, b: tk, non_inferiority_margin: 0.02}]"
        if not isinstance(self.comparisons, list):
            raise ConfigError(f"comparisons={self.comparisons!r} must be a list of pairs of arms, {example}")
        seen = set()
        for entry in self.comparisons:
            if not (isinstance(entry, dict) and {"a", "b"} <= set(entry)
                    and set(entry) <= {"a", "b", "non_inferiority_margin"}):
                raise ConfigError(f"comparisons: {entry!r} must have keys a, b and optionally "
                                  f"non_inferiority_margin, {example}")
            a, b, margin = entry["a"], entry["b"], entry.get("non_inferiority_margin")
            for arm in (a, b):
                if arm not in self.arms:
                    raise ConfigError(f"comparisons: {entry!r} names {arm!r}, which is not one of the arms "
                                      f"({', '.join(self.arms)}); add it under arms or fix the name")
            if a == b or (a, b) in seen:
                raise ConfigError(f"comparisons: {entry!r} compares an arm with itself or repeats a pair")
            seen.add((a, b))
            if margin is not None and not (_is_number(margin) and 0 <= margin < 1):
                raise ConfigError(f"comparisons: {entry!r}: non_inferiority_margin must be a number in [0, 1) "
                                  "(an AUROC difference, e.g. 0.02), or absent")

    def image_spec(self, arm: str) -> ImageSpec:
        """What ``arm`` trains on: its image kind and parameters, those it does not give taken from the config's
        global fields (``rank``, ``tucker_method``); see :func:`tdfake.transforms.spec` for its folder."""
        if arm not in self.arms:
            raise ValueError(f"arm {arm!r} is not one of the config's arms ({', '.join(self.arms)}); "
                             "add it under `arms:` in the config, e.g. arms.tk_r5={input: TK, rank: [5, 5, 3]}")
        entry = dict(self.arms[arm])
        kind = entry.pop("input")
        return transforms.spec(kind, entry, defaults={f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    def image_specs(self, arms=None) -> dict[str, ImageSpec]:
        """:meth:`image_spec` of each of ``arms`` (default: all of the config's, in order)."""
        return {arm: self.image_spec(arm) for arm in (self.arms if arms is None else arms)}

    def comparison_specs(self) -> list[Comparison]:
        """The pairs of arms the study compares: ``comparisons``, or the study's three with ``margin`` on TK."""
        if self.comparisons is None:
            return study_arms.study_comparisons(self.arms, self.margin)
        return [Comparison(c["a"], c["b"], c.get("non_inferiority_margin")) for c in self.comparisons]

    def _check_threshold(self) -> None:
        method = self.threshold
        if method in ("eer", "youden"):
            return
        if isinstance(method, str) and method.startswith("fixed:"):
            try:
                value = float(method.removeprefix("fixed:"))
            except ValueError:
                value = None
            if value is not None and 0 <= value <= 1:
                return
        raise ConfigError(f"threshold={method!r} is not allowed; choose eer, youden or fixed:<value in [0, 1]> "
                          "(e.g. fixed:0.5)")

    @classmethod
    def from_yaml(cls, path: str | Path, _within: tuple[Path, ...] = ()) -> Config:
        """Load a YAML file; unknown keys are an error that names them.

        ``base: OTHER.yaml`` (relative to the file) starts from that config instead of the defaults, so a
        variant of a study (``configs/demo_controls.yaml``: the demo with two more arms) states only what differs.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config; see configs/ for paper.yaml and demo.yaml")
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected key: value lines, got a {type(values).__name__}")
        start = cls()
        if "base" in values:
            base = path.parent / str(values.pop("base"))
            if base.resolve() in _within or base.resolve() == path.resolve():
                raise ConfigError(f"{path}: base {base} leads back to itself; name a config that does not")
            start = cls.from_yaml(base, (*_within, path.resolve()))
        try:
            return start.override(**values)
        except (ConfigError, KeyError) as err:
            raise ConfigError(f"{path}: {err.args[0]}") from None

    def override(self, **values: Any) -> Config:
        """A copy with the given fields replaced, validated; unknown names raise ``KeyError``, bad values
        :class:`ConfigError`."""
        values = _renamed(values)
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise KeyError(f"unknown config keys {unknown}; known keys: {sorted(known)}")
        return dataclasses.replace(self, **values)

    def override_from_strings(self, assignments: list[str]) -> Config:
        """Apply ``key=value`` strings (values parsed as YAML, so ``epochs=3`` is an int).

        A dotted key sets one entry of a dict field: ``test_sets.photos=data/photos`` adds (or
        replaces) the entry ``photos`` and keeps the others.
        """
        values: dict[str, Any] = {}
        for item in assignments:
            key, sep, raw = item.partition("=")
            if not sep:
                raise ValueError(f"--set expects key=value, got {item!r}")
            name, dot, entry = key.strip().partition(".")
            if not dot:
                values[name] = yaml.safe_load(raw)
                continue
            current = values.get(name, getattr(self, name, None))
            if not isinstance(current, dict):
                raise TypeError(f"--set {item!r}: {name!r} is not a dict field; dotted keys set an entry of "
                                 "one (e.g. test_sets.NAME=FOLDER)")
            values[name] = {**current, entry: yaml.safe_load(raw)}
        return self.override(**values)

    def rooted(self, root: str | Path) -> Config:
        """A copy whose relative folder settings are taken relative to ``root``.

        The CLI resolves paths against the working directory; notebooks live in ``notebooks/`` and
        pass the project root here so that both write to the same ``runs/``, ``data/`` and ``graphs/``.
        """
        moved: dict[str, Any] = {}
        for name in PATH_FIELDS:
            value = getattr(self, name)
            if value is not None and not Path(value).is_absolute():
                moved[name] = str(Path(root) / value)
        moved["test_sets"] = {name: folder if Path(folder).is_absolute() else str(Path(root) / folder)
                              for name, folder in self.test_sets.items()}
        return self.override(**moved)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self, path: str | Path) -> None:
        """Write the resolved config (what a run actually used) next to its results."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def _renamed(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with fields of older configs (:data:`RENAMED_FIELDS`) given their current name and value."""
    values = dict(values)
    for old, (new, mapping) in RENAMED_FIELDS.items():
        if old in values:
            value = values.pop(old)
            if value not in mapping:
                raise ConfigError(f"{old}={value!r}: this field is now {new} ({', '.join(PRECISIONS)})")
            values.setdefault(new, mapping[value])
    return values


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
