"""tdfake.images: the one place that reads and writes images (RGB, conversions, errors, atomic writes)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tdfake import images
from tdfake.images import ImageReadError


def test_read_rgb_swaps_opencv_bgr_to_rgb(tmp_path):
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's order
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    rgb = images.read_rgb(tmp_path / "red.png")
    assert rgb.dtype == np.uint8 and rgb.shape == (4, 5, 3)
    assert (rgb[..., 0] == 255).all() and not rgb[..., 1:].any()


def test_gray_rgba_and_16_bit_become_rgb_uint8(tmp_path):
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    assert np.array_equal(images.read_rgb(tmp_path / "gray.png"), np.repeat(gray[..., None], 3, axis=2))

    bgra = np.zeros((4, 5, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 200, 7  # blue, nearly transparent: alpha is dropped
    cv2.imwrite(str(tmp_path / "rgba.png"), bgra)
    rgba = images.read_rgb(tmp_path / "rgba.png")
    assert rgba.shape == (4, 5, 3) and (rgba[..., 2] == 200).all() and not rgba[..., :2].any()

    deep = np.zeros((2, 3, 3), np.uint16)
    deep[0, 0] = 65535
    deep[0, 1] = 257 * 100  # exactly 100 in 8 bit
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    eight = images.read_rgb(tmp_path / "deep.png")
    assert eight.dtype == np.uint8
    assert eight[0, 0].tolist() == [255, 255, 255] and eight[0, 1].tolist() == [100, 100, 100]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"GIF89a but not really", "not a decodable image"),
        (b"\x89PNG\r\n\x1a\n broken", "not a decodable image"),
    ],
)
def test_bad_files_raise_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=reason) as info:
        images.read_rgb(path)
    assert info.value.path == str(path) and str(path) in str(info.value)


def test_missing_file_and_min_size(tmp_path):
    with pytest.raises(ImageReadError, match="cannot open") as info:
        images.read_rgb(tmp_path / "missing.jpg")
    assert "missing.jpg" in str(info.value)
    images.write_rgb(tmp_path / "small.png", np.zeros((3, 8, 3), np.uint8))
    with pytest.raises(ImageReadError, match="smaller than 4 px"):
        images.read_rgb(tmp_path / "small.png", min_size=4)
    assert images.read_rgb(tmp_path / "small.png", min_size=3).shape == (3, 8, 3)


def test_list_images_is_recursive_sorted_and_filters_extensions(tmp_path):
    for name in ("b/2.PNG", "a.jpg", "b/1.jpeg", "c/d/e.webp", "notes.txt", "b/readme.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in images.list_images(tmp_path)]
    assert found == ["a.jpg", "b/1.jpeg", "b/2.PNG", "c/d/e.webp"]
    with pytest.raises(FileNotFoundError, match="no such folder"):
        images.list_images(tmp_path / "nope")


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_write_rgb_is_deterministic_atomic_and_round_trips(tmp_path, suffix):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (16, 12, 3), dtype=np.uint8)
    first, second = tmp_path / f"a/one{suffix}", tmp_path / f"b/two{suffix}"
    images.write_rgb(first, image)
    images.write_rgb(second, image)
    assert first.read_bytes() == second.read_bytes() == images.encode_image(image, suffix)
    assert sorted(p.name for p in first.parent.iterdir()) == [first.name]  # no temporary file left
    back = images.read_rgb(first)
    if suffix == ".png":
        assert np.array_equal(back, image)
    else:
        assert back.shape == image.shape


def test_write_atomic_replaces_and_cleans_up_on_failure(tmp_path):
    target = tmp_path / "x.bin"
    images.write_atomic(target, b"old")
    images.write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["x.bin"]
    with pytest.raises(ValueError):
        images.write_rgb(tmp_path / "bad.png", np.zeros((4, 4), np.uint8))  # not RGB: refused before writing
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_encode_image_rejects_non_rgb_uint8():
    with pytest.raises(ValueError, match="RGB uint8"):
        images.encode_image(np.zeros((4, 4, 3), np.float32), ".png")
    with pytest.raises(ValueError, match="RGB uint8"):
        images.encode_image(np.zeros((4, 4, 4), np.uint8), ".png")


def test_derived_path(tmp_path):
    assert images.derived_path(tmp_path, "TK", "FAKE/NT/000_001.jpg") == tmp_path / "TK/FAKE/NT/000_001.jpg"
    assert images.derived_path(tmp_path, "TK_diff", "REAL/0.jpg", "png") == tmp_path / "TK_diff/REAL/0.png"
    assert images.derived_path(tmp_path, "OR", "REAL/0.jpg", ".PNG") == tmp_path / "OR/REAL/0.png"
