"""One configuration object for every entry point, loaded from YAML.

``configs/paper.yaml`` is the study exactly; ``configs/demo.yaml`` runs in minutes on a laptop
CPU.  Command-line flags (``--set key=value``) and notebook parameters override fields with
:meth:`Config.override`.  Field names for augmentation are Keras ImageDataGenerator's, with
ImageDataGenerator's meanings (see :mod:`tdfake.pipeline`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ARMS = {"baseline": "OR", "tk": "TK", "tk_diff": "TK_diff"}
"""Training arms and the image kind each one trains on."""

PATH_FIELDS = ("out_dir", "graphs_dir", "data_dir", "demo_dir")
"""Config fields that hold folders (see :meth:`Config.rooted`)."""


@dataclass
class Config:
    """Every setting of a tdfake run.  Defaults are the study's (``configs/paper.yaml``)."""

    name: str = "paper"
    seed: int = 42
    out_dir: str = "runs/paper"
    graphs_dir: str = "graphs"

    # data: a folder of face crops, or None for the built-in demo dataset
    data_dir: str | None = None
    layout: str = "auto"
    demo_dir: str = "data/demo"  # where the built-in demo dataset is made when data_dir is None
    demo_n_per_class: int = 200
    demo_size: int = 256
    split_by: str = "group"  # "group" (no video in two splits) or "frame" (the study's leaky split)
    train_fraction: float = 0.81
    val_fraction: float = 0.09
    test_fraction: float = 0.10
    per_class: int | None = 10000  # images per class sampled before splitting: an even share of every video
    test_sets: dict[str, str] = field(default_factory=dict)  # extra test sets: name -> data folder (all rows)

    # Tucker image creation
    rank: list[int] = field(default_factory=lambda: [30, 30, 3])
    tucker_method: str = "fast"  # "fast" or "tensorly" (the study's reference call)
    image_format: str | None = None  # None keeps the input's format, as the study did
    workers: int = 2

    # input pipeline and augmentation (ImageDataGenerator words and meanings)
    image_size: int = 256
    resize_method: str = "nearest"
    rescale: float = 1.0 / 255
    rotation_range: float = 20.0
    width_shift_range: float = 0.1
    height_shift_range: float = 0.1
    shear_range: float = 0.1
    zoom_range: float = 0.1
    horizontal_flip: bool = True
    fill_mode: str = "nearest"

    # model
    weights: str | None = "imagenet"  # "imagenet", None, or a local .h5 / .weights.h5 file
    head: str = "flatten"  # "flatten" (the study), "avg" (global average pooling)
    dense_units: int = 256
    dropout: float = 0.0
    bn_momentum: float | None = None  # None keeps Keras' 0.99; short from-scratch runs need ~0.9

    # training
    batch_size: int = 32
    epochs: int = 100
    optimizer: str = "adam"
    clr_mode: str = "exp_range"
    base_lr: float = 1e-3
    max_lr: float = 7e-3
    step_size: int = 300
    gamma: float = 0.99994
    mixed_precision: bool = False
    xla: bool = False

    # evaluation
    threshold: str = "eer"  # how the decision threshold is chosen on validation

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Config":
        """Load a YAML file; unknown keys are an error that names them."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config; see configs/ for paper.yaml and demo.yaml")
        values = yaml.safe_load(path.read_text()) or {}
        return cls().override(**values)

    def override(self, **values: Any) -> "Config":
        """A copy with the given fields replaced; unknown names raise ``KeyError``."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise KeyError(f"unknown config keys {unknown}; known keys: {sorted(known)}")
        return dataclasses.replace(self, **values)

    def override_from_strings(self, assignments: list[str]) -> "Config":
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

    def rooted(self, root: str | Path) -> "Config":
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
