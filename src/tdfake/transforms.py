"""The image kinds an arm can train on, in one registry: name -> parameters, function, implementation version.

Every kind is one :func:`register` call: ``OR`` (the crop itself), the study's ``TK`` / ``TK_diff``,
their CP cousins ``CP`` / ``CP_diff`` (see :mod:`tdfake.tucker`) and ``blur``, a low-pass control
(a Gaussian blur of the crop, which keeps coarse structure as a low-rank reconstruction does).
Image creation (:mod:`tdfake.image_creation`: training, evaluation on new data, extra test sets,
video scoring, robustness), the figures and the rank sweep all make images through here, so a
new kind is one call, in this module or in a user's own code before the config is loaded::

    @dataclass(frozen=True)
    class Gamma:
        gamma: float = 2.2

    register("gamma", lambda image, p: (255 * (image / 255) ** (1 / p.gamma)).astype(np.uint8),
             params=Gamma, version="1")

A kind's **parameters** are a frozen dataclass whose field defaults are the kind's own; a field
whose metadata names a ``config`` key takes its default from that global setting of the config
(``rank`` and ``tucker_method`` for the Tucker kinds), so an arm states only what differs.  Its
**version** names what computes the images (e.g. ``fast-2``, ``tensorly-0.9.0``): image folders
record it, so images made by another implementation are made anew and the arms trained on them
retrained.  A **residual** kind (``TK_diff``) is the study's stretched ``|image of the base kind -
original|`` and shares the base kind's parameters, version and check.

One kind with its parameters is an :class:`ImageSpec`; the config builds one per arm
(:meth:`tdfake.config.Config.image_spec`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tdfake import tucker

ORIGINAL = "OR"
"""The kind that is the crop itself (image creation copies its file's bytes when it can)."""

Function = Callable[[np.ndarray, Any], np.ndarray]
"""``function(image, params)``: an RGB uint8 (H, W, 3) crop -> the kind's RGB uint8 image of the same shape."""
Check = Callable[[tuple[int, ...], Any], "str | None"]
"""``check(shape, params)``: why an image of this shape cannot be made into the kind, or None."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class NoParams:
    """The parameters of a kind that has none."""


@dataclass(frozen=True)
class Transform:
    """One registered image kind (see :func:`register`)."""

    name: str
    params: type
    function: Function | None  # None for a residual kind
    version: Callable[[Any], str | None]
    residual_of: str | None = None
    check: Check | None = None
    description: str = ""  # what the image shows, formatted with the parameters (figure titles)


_TRANSFORMS: dict[str, Transform] = {}


def register(name: str, function: Function | None = None, *, params: type = NoParams,
             version: str | Callable[[Any], str | None] | None = None, residual_of: str | None = None,
             check: Check | None = None, description: str = "") -> Transform:
    """Add the image kind ``name``; returns its :class:`Transform`.

    ``function(image, params)`` makes the kind's image; ``params`` is its parameters' frozen
    dataclass; ``version`` a string, or a function of the parameters, naming the implementation
    (None: the images depend on nothing but the crop).  ``residual_of``: instead of a function,
    the kind is the stretched residual ``|base image - original|`` of that registered kind, with
    its parameters.  ``check(shape, params)`` names why a crop cannot be made into the kind (it is
    then skipped for every kind, so all arms keep the same rows).  ``description`` is shown in
    figures, formatted with the parameters (e.g. ``"Gaussian blur, sigma {sigma}"``).
    """
    if not (isinstance(name, str) and _NAME.match(name)):
        raise ValueError(f"image kind {name!r}: use a name of letters, digits, '_', '.' or '-' starting with a "
                         "letter (it becomes a folder name)")
    if name in _TRANSFORMS:
        raise ValueError(f"image kind {name!r} is registered already; choose another name")
    if residual_of is not None:
        if function is not None:
            raise ValueError(f"image kind {name!r}: give a function or residual_of, not both")
        base = get(residual_of)
        if base.residual_of is not None:
            raise ValueError(f"image kind {name!r}: {residual_of!r} is a residual itself; name a kind with a function")
        transform = Transform(name, base.params, None, base.version, residual_of, base.check,
                              description or f"|original - {residual_of}|, stretched")
    else:
        if not callable(function):
            raise ValueError(f"image kind {name!r}: give the function that makes its image (or residual_of)")
        if not dataclasses.is_dataclass(params):
            raise ValueError(f"image kind {name!r}: params must be a frozen dataclass of its parameters")
        versioned = version if callable(version) else (lambda _params, fixed=version: fixed)
        transform = Transform(name, params, function, versioned, None, check, description or name)
    _TRANSFORMS[name] = transform
    return transform


def get(name: str) -> Transform:
    """The registered kind ``name``; a ValueError naming the registered ones otherwise."""
    try:
        return _TRANSFORMS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown image kind {name!r}; choose from {', '.join(_TRANSFORMS)}") from None


def names() -> tuple[str, ...]:
    """The registered kinds, in registration order."""
    return tuple(_TRANSFORMS)


# --------------------------------------------------------------------------- one kind with its parameters

@dataclass(frozen=True)
class ImageSpec:
    """One image kind with its parameters, and the folder its images go to under an images root.

    ``folder`` is the kind's name unless the parameters are an arm's own (see :func:`spec`).
    """

    kind: str
    params: Any
    folder: str

    @property
    def transform(self) -> Transform:
        return get(self.kind)

    def values(self) -> dict[str, Any]:
        """The parameters by name, as JSON holds them (tuples become lists)."""
        return {f.name: _plain(getattr(self.params, f.name)) for f in dataclasses.fields(self.params)}

    def implementation(self) -> str | None:
        """What computes the images (the kind's version for these parameters), or None."""
        return self.transform.version(self.params)

    def record(self) -> dict[str, Any]:
        """What the images depend on beyond the crops: the parameters and the implementation (provenance)."""
        implementation = self.implementation()
        return {**self.values(), **({"implementation": implementation} if implementation is not None else {})}

    def fingerprint(self) -> dict[str, Any]:
        """The parameters keyed as a trained arm records them: by the config key they default from, else by name."""
        return {f.metadata.get("config", f.name): _plain(getattr(self.params, f.name))
                for f in dataclasses.fields(self.params)}

    def unusable(self, image: np.ndarray) -> str | None:
        """Why ``image`` cannot be made into this kind (e.g. smaller than the Tucker rank), or None."""
        check = self.transform.check
        return check(tuple(image.shape), self.params) if check is not None else None

    def apply(self, image: np.ndarray, made: dict | None = None) -> np.ndarray:
        """The kind's RGB uint8 image of one crop.

        ``made``: images of this crop made already, by (kind, parameters); a residual reuses its
        base kind's image from there (``TK`` and ``TK_diff`` of one crop cost one decomposition).
        """
        made = {} if made is None else made
        key = (self.kind, self.params)
        if key not in made:
            transform = self.transform
            if transform.residual_of is not None:
                base = ImageSpec(transform.residual_of, self.params, transform.residual_of)
                made[key] = tucker.diff_image(base.apply(image, made), image)
            else:
                assert transform.function is not None  # a kind is a residual or has a function (see register)
                made[key] = np.asarray(transform.function(image, self.params), dtype=np.uint8)
        return made[key]

    def describe(self) -> str:
        """The kind in words with its parameters (figure titles)."""
        return self.transform.description.format(**{k: _shown(v) for k, v in self.values().items()})


def spec(kind: str, values: Mapping[str, Any] | None = None, defaults: Mapping[str, Any] | None = None) -> ImageSpec:
    """The :class:`ImageSpec` of ``kind`` with ``values`` (its own parameters) over ``defaults`` (global settings).

    A parameter missing from ``values`` takes the ``defaults`` entry its ``config`` metadata names
    (e.g. ``rank``, ``tucker_method``), else the kind's default.  The folder is the kind's name when
    ``values`` change nothing from what ``defaults`` alone give (the study's ``OR/``, ``TK/``,
    ``TK_diff/``), otherwise the kind and the parameters that differ, e.g. ``TK_rank-5-5-3``, so
    images of other parameters never share a folder.  Unknown or bad parameters raise ValueError.
    """
    transform = get(kind)
    values = dict(values or {})
    known = {f.name: f for f in dataclasses.fields(transform.params)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown parameters {unknown} for image kind {kind!r}; its parameters: "
                         f"{', '.join(known) or 'none'}")
    params = _params(transform, known, values, defaults or {})
    base = _params(transform, known, {}, defaults or {})
    if params == base:
        return ImageSpec(kind, params, kind)
    changed = [f"{name}-{_shown(_plain(getattr(params, name)), '-')}" for name in known
               if getattr(params, name) != getattr(base, name)]
    return ImageSpec(kind, params, re.sub(r"[^A-Za-z0-9_.-]", "-", "_".join([kind, *changed])))


def _params(transform: Transform, known: dict, values: Mapping[str, Any], defaults: Mapping[str, Any]):
    chosen = {}
    for name, f in known.items():
        if name in values:
            chosen[name] = values[name]
        elif f.metadata.get("config") in defaults:
            chosen[name] = defaults[f.metadata["config"]]
    chosen = {name: tuple(value) if isinstance(value, list) else value for name, value in chosen.items()}
    try:
        return transform.params(**chosen)
    except (TypeError, ValueError) as err:
        raise ValueError(f"image kind {transform.name!r}: {err}") from None


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _shown(value: Any, sep: str = "×") -> str:
    return sep.join(map(str, value)) if isinstance(value, list) else str(value)


# --------------------------------------------------------------------------- the package's kinds

@dataclass(frozen=True)
class TuckerParams:
    """Tucker rank (height, width, channels) and method (:data:`tdfake.tucker.METHODS`)."""

    rank: tuple[int, int, int] = field(default=tucker.TUCKER_RANK, metadata={"config": "rank"})
    method: str = field(default=tucker.TUCKER_METHOD, metadata={"config": "tucker_method"})

    def __post_init__(self):
        if isinstance(self.rank, list):
            object.__setattr__(self, "rank", tuple(self.rank))
        if not (isinstance(self.rank, tuple) and len(self.rank) == 3
                and all(isinstance(r, int) and not isinstance(r, bool) and r > 0 for r in self.rank)):
            raise ValueError(f"rank={list(self.rank) if isinstance(self.rank, tuple) else self.rank!r} must be "
                             "three positive integers [height, width, channels], e.g. [30, 30, 3]")
        _check_method(self.method)


@dataclass(frozen=True)
class CPParams:
    """CP rank and method; the rank defaults from ``tdfake images --cp-rank`` (no config field)."""

    cp_rank: int = field(default=tucker.CP_RANK, metadata={"config": "cp_rank"})
    method: str = field(default=tucker.TUCKER_METHOD, metadata={"config": "tucker_method"})

    def __post_init__(self):
        if not (isinstance(self.cp_rank, int) and not isinstance(self.cp_rank, bool) and self.cp_rank > 0):
            raise ValueError(f"cp_rank={self.cp_rank!r} must be a positive integer, e.g. 8")
        _check_method(self.method)


@dataclass(frozen=True)
class BlurParams:
    """Standard deviation, in pixels, of the Gaussian low-pass."""

    sigma: float = 4.0

    def __post_init__(self):
        if not (isinstance(self.sigma, (int, float)) and not isinstance(self.sigma, bool) and self.sigma > 0):
            raise ValueError(f"sigma={self.sigma!r} must be a positive number of pixels, e.g. 4")
        object.__setattr__(self, "sigma", float(self.sigma))


def _check_method(method: str) -> None:
    if method not in tucker.METHODS:
        raise ValueError(f"method={method!r} is not allowed; choose one of {', '.join(tucker.METHODS)}")


def _smaller_than_rank(shape: tuple[int, ...], params: TuckerParams) -> str | None:
    height, width = shape[:2]
    if height < params.rank[0] or width < params.rank[1]:
        return (f"image is {height}x{width}, smaller than the Tucker rank {params.rank[0]}x{params.rank[1]} "
                "(its TK image would be the image itself); use larger crops, --size or a smaller --rank")
    return None


def _blur(image: np.ndarray, params: BlurParams) -> np.ndarray:
    """OpenCV's Gaussian blur, kernel from sigma (±3 sigma), borders mirrored without repeating the edge."""
    import cv2  # here, not at the top: the config (and so `tdfake --help`) imports this module

    return cv2.GaussianBlur(np.ascontiguousarray(image, dtype=np.uint8), (0, 0), sigmaX=float(params.sigma),
                            sigmaY=float(params.sigma), borderType=cv2.BORDER_REFLECT_101)


def _blur_version(_params: BlurParams) -> str:
    import cv2

    return f"opencv-{cv2.__version__}"


register(ORIGINAL, lambda image, _params: np.asarray(image).astype(np.uint8), description="original")
register("TK", lambda image, p: tucker.tk_image(image, p.rank, p.method), params=TuckerParams,
         version=lambda p: tucker.implementation(p.method), check=_smaller_than_rank,
         description="Tucker rank [{rank}] reconstruction")
register("TK_diff", residual_of="TK", description="|original − TK|, stretched")
register("CP", lambda image, p: tucker.cp_image(image, p.cp_rank, p.method), params=CPParams,
         version=lambda p: tucker.implementation(p.method), description="CP rank {cp_rank} reconstruction")
register("CP_diff", residual_of="CP", description="|original − CP|, stretched")
register("blur", _blur, params=BlurParams, version=_blur_version,
         description="Gaussian blur, sigma {sigma} px")
