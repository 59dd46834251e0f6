"""The one place that reads, lists and writes images.

Everything in tdfake holds images in memory as RGB ``uint8`` arrays of shape (H, W, 3).
OpenCV reads BGR; the swap to RGB happens here and nowhere else (the study swapped channels
at input by accident, see docs/study.md).  Writes are atomic (temporary file + rename), so an
interrupted run never leaves a half-written image behind, and deterministic (fixed encoder
parameters), so the same input always gives byte-identical files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
JPEG_QUALITY = 95  # OpenCV's default, i.e. what the study's cv2.imwrite produced
PNG_COMPRESSION = 3


class ImageReadError(ValueError):
    """An image file that cannot be turned into an RGB uint8 array; the message names the file."""

    def __init__(self, path: os.PathLike | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def list_images(root: os.PathLike | str) -> list[Path]:
    """All image files under ``root`` (any nesting), sorted so that every run sees the same order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder; pass the folder that holds your images")
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def to_rgb_uint8(array: np.ndarray, path: os.PathLike | str = "<array>") -> np.ndarray:
    """Convert a decoded OpenCV array (gray, BGR, BGRA, 8 or 16 bit) to RGB uint8.

    Grayscale is replicated to three channels, alpha is dropped (crops are opaque), and 16-bit
    images are scaled to 8 bit by their full range (``v * 255 / 65535``), not truncated.
    """
    if array.dtype == np.uint16:
        array = np.round(array.astype(np.float64) * (255.0 / 65535.0)).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ImageReadError(path, f"unsupported pixel type {array.dtype}; convert it to 8-bit RGB")
    if array.ndim == 2:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2RGB)
    if array.ndim == 3 and array.shape[2] == 1:
        return cv2.cvtColor(array[:, :, 0], cv2.COLOR_GRAY2RGB)
    if array.ndim == 3 and array.shape[2] == 3:
        return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    if array.ndim == 3 and array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2RGB)
    raise ImageReadError(path, f"unsupported shape {array.shape}; expected gray, RGB or RGBA")


def read_stored(path: os.PathLike | str) -> np.ndarray:
    """Decode an image file as stored (OpenCV order and depth: gray, BGR, BGRA; 8 or 16 bit).

    Most callers want :func:`read_rgb`; this is for those that must know how the file was stored
    (e.g. to copy an 8-bit RGB file's bytes instead of re-encoding it).  Raises
    :class:`ImageReadError` naming the file for anything that is not a readable image.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise ImageReadError(path, f"cannot open ({err.strerror}); check the path and permissions") from err
    if data.size == 0:
        raise ImageReadError(path, "empty file; delete it or replace it with a valid image")
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise ImageReadError(path, "not a decodable image (corrupt or not an image); remove or re-export it")
    return decoded


def is_stored_rgb8(stored: np.ndarray) -> bool:
    """Whether a :func:`read_stored` array is 8-bit with three colour channels (no gray, alpha or 16 bit)."""
    return stored.dtype == np.uint8 and stored.ndim == 3 and stored.shape[2] == 3


def read_rgb(path: os.PathLike | str, min_size: int = 1, stored: np.ndarray | None = None) -> np.ndarray:
    """Read one image file as RGB uint8 (H, W, 3).

    Raises :class:`ImageReadError` naming the file for anything that is not a readable image,
    or whose height or width is below ``min_size``.  ``stored``: the file's :func:`read_stored`
    array when the caller has decoded it already (it is not decoded twice).
    """
    image = to_rgb_uint8(read_stored(path) if stored is None else stored, path)
    height, width = image.shape[:2]
    if min(height, width) < min_size:
        raise ImageReadError(path, f"image is {height}x{width}, smaller than {min_size} px; "
                                   "drop it or use larger crops")
    return image


def encode_image(image: np.ndarray, suffix: str) -> bytes:
    """Encode an RGB uint8 image for a file with the given suffix (``.jpg``, ``.png``, ...)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected RGB uint8 (H, W, 3), got {image.dtype} {image.shape}")
    suffix = suffix.lower()
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    elif suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION]
    ok, buffer = cv2.imencode(suffix, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"OpenCV cannot encode images as {suffix}")
    return buffer.tobytes()


def write_atomic(path: os.PathLike | str, data: bytes) -> None:
    """Write bytes to ``path`` via a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_rgb(path: os.PathLike | str, image: np.ndarray) -> None:
    """Write an RGB uint8 image atomically; the format follows the file suffix."""
    path = Path(path)
    write_atomic(path, encode_image(image, path.suffix))


def derived_path(out_root: os.PathLike | str, kind: str, relpath: os.PathLike | str,
                 image_format: str | None = None) -> Path:
    """Where the ``kind`` version (``OR``, ``TK``, ``TK_diff``, ...) of ``relpath`` lives under ``out_root``.

    Mirrors the study's ``OR/``, ``TK/``, ``TK_diff/`` trees; ``image_format`` (e.g. ``"png"``)
    replaces the suffix, ``None`` keeps the input's format.
    """
    target = Path(out_root) / kind / Path(relpath)
    if image_format:
        target = target.with_suffix("." + image_format.lower().lstrip("."))
    return target


def image_paths(split_df: pd.DataFrame, images_root: os.PathLike | str | None = None, kind: str = "OR",
                image_format: str | None = None) -> list[str]:
    """The file of each row: ``images_root/kind/path`` (an arm's image), or ``root/path`` when
    ``images_root`` is None."""
    if images_root is None:
        return [str(Path(root) / path) for root, path in zip(split_df["root"], split_df["path"])]
    return [str(derived_path(images_root, kind, path, image_format)) for path in split_df["path"]]
