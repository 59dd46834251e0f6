"""tdfake.transforms: the registry of image kinds, their parameters, folders and records, and a kind registered here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import smooth_rgb
from scipy.ndimage import gaussian_filter

from tdfake import transforms, tucker
from tdfake.transforms import spec


@pytest.fixture
def registry(monkeypatch):
    """The registry, restored after the test (a kind registered in a test does not outlive it)."""
    monkeypatch.setattr(transforms, "_TRANSFORMS", dict(transforms._TRANSFORMS))
    return transforms


def test_the_package_kinds_and_what_each_makes():
    assert transforms.names() == ("OR", "TK", "TK_diff", "CP", "CP_diff", "blur")
    x = smooth_rgb(24, 24)
    settings = {"rank": (6, 6, 3), "tucker_method": "fast", "cp_rank": 3}
    assert np.array_equal(spec("OR").apply(x), x)
    tk = tucker.tk_image(x, (6, 6, 3), "fast")
    assert np.array_equal(spec("TK", defaults=settings).apply(x), tk)
    assert np.array_equal(spec("TK_diff", defaults=settings).apply(x), tucker.diff_image(tk, x))
    assert np.array_equal(spec("CP", defaults=settings).apply(x), tucker.cp_image(x, 3, "fast"))
    assert np.array_equal(spec("CP_diff", defaults=settings).apply(x), tucker.cp_diff_image(x, 3, "fast"))


def test_a_residual_reuses_its_base_image_of_the_crop():
    x = smooth_rgb(24, 24)
    made: dict = {}
    diff = spec("TK_diff", {"rank": [6, 6, 3]}).apply(x, made)
    tk_key = ("TK", transforms.TuckerParams((6, 6, 3)))
    assert set(made) == {tk_key, ("TK_diff", tk_key[1])}
    made[tk_key] = np.zeros_like(x)  # what the residual is made from: change it and the next residual follows
    assert not np.array_equal(spec("TK_diff", {"rank": [6, 6, 3]}).apply(x, {tk_key: made[tk_key]}), diff)


def test_blur_is_a_gaussian_low_pass_as_scipy_computes_it():
    x = smooth_rgb(40, 48, seed=3)
    blurred = spec("blur", {"sigma": 2.5}).apply(x)
    # OpenCV's kernel reaches 3 sigma, its borders mirror without repeating the edge (scipy's "mirror")
    reference = gaussian_filter(x.astype(np.float64), sigma=(2.5, 2.5, 0), mode="mirror", truncate=3.0)
    assert blurred.dtype == np.uint8 and blurred.shape == x.shape
    assert np.abs(blurred.astype(int) - np.round(reference)).max() <= 1
    assert blurred.std() < x.std()  # a low pass


def test_parameters_default_from_the_global_settings_and_the_folder_names_what_differs():
    settings = {"rank": [30, 30, 3], "tucker_method": "tensorly"}
    tk = spec("TK", defaults=settings)
    assert (tk.folder, tk.params.rank, tk.params.method) == ("TK", (30, 30, 3), "tensorly")
    assert spec("TK", {"rank": [30, 30, 3]}, settings) == tk  # the global value, given again: the same images
    r5 = spec("TK", {"rank": [5, 5, 3]}, settings)
    assert r5.folder == "TK_rank-5-5-3" and r5.params.method == "tensorly"
    assert spec("TK", {"rank": [5, 5, 3], "method": "fast"}, settings).folder == "TK_rank-5-5-3_method-fast"
    assert spec("blur").folder == "blur" and spec("blur", {"sigma": 2}).folder == "blur_sigma-2.0"
    assert spec("TK", {"rank": [5, 5, 3]}).folder == "TK_rank-5-5-3"  # against the kind's own default, 30


def test_records_and_fingerprints_keep_the_names_earlier_versions_wrote():
    """Image folders and trained arms recorded these keys before the registry; the same images must match."""
    tk = spec("TK", defaults={"rank": [30, 30, 3], "tucker_method": "fast"})
    assert tk.record() == {"rank": [30, 30, 3], "method": "fast", "implementation": f"fast-{tucker.FAST_VERSION}"}
    assert tk.fingerprint() == {"rank": [30, 30, 3], "tucker_method": "fast"}
    assert spec("TK_diff", defaults={"rank": [30, 30, 3], "tucker_method": "fast"}).record() == tk.record()
    cp = spec("CP", defaults={"cp_rank": 8, "tucker_method": "tensorly"})
    assert cp.record() == {"cp_rank": 8, "method": "tensorly", "implementation": tucker.implementation("tensorly")}
    assert spec("OR").record() == {} and spec("OR").fingerprint() == {} and spec("OR").implementation() is None
    assert spec("blur").record()["implementation"].startswith("opencv-")


def test_bad_kinds_and_parameters_say_what_is_allowed():
    with pytest.raises(ValueError, match="unknown image kind 'XX'; choose from OR, TK, TK_diff"):
        spec("XX")
    with pytest.raises(ValueError, match=r"unknown parameters \['sigma'\] for image kind 'TK'; its parameters: rank"):
        spec("TK", {"sigma": 1})
    with pytest.raises(ValueError, match="three positive integers"):
        spec("TK", {"rank": [5, 5]})
    with pytest.raises(ValueError, match="method='slow' is not allowed; choose one of fast, tensorly"):
        spec("TK", defaults={"tucker_method": "slow"})
    with pytest.raises(ValueError, match="cp_rank"):
        spec("CP_diff", {"cp_rank": 0})


def test_a_crop_smaller_than_the_rank_cannot_be_made_into_tk():
    tiny = smooth_rgb(4, 9)
    reason = spec("TK_diff", {"rank": [6, 6, 3]}).unusable(tiny)
    assert "image is 4x9, smaller than the Tucker rank 6x6" in reason
    assert spec("OR").unusable(tiny) is None and spec("blur").unusable(tiny) is None


def test_a_kind_registered_by_a_user(registry):
    @dataclasses.dataclass(frozen=True)
    class Gray:
        weights: tuple[float, float, float] = (0.299, 0.587, 0.114)

    def gray(image, params):
        return np.repeat((image @ np.array(params.weights))[..., None], 3, axis=2).round().astype(np.uint8)

    registry.register("gray", gray, params=Gray, version="1", description="gray, weights {weights}")
    registry.register("gray_diff", residual_of="gray")
    x = smooth_rgb(16, 16)
    made = spec("gray").apply(x)
    assert made.shape == x.shape and (made[..., 0] == made[..., 1]).all()
    assert np.array_equal(spec("gray_diff").apply(x), tucker.diff_image(made, x))
    assert spec("gray").record() == {"weights": [0.299, 0.587, 0.114], "implementation": "1"}
    assert spec("gray", {"weights": [1, 0, 0]}).folder == "gray_weights-1-0-0"
    assert spec("gray").describe() == "gray, weights 0.299×0.587×0.114"
    assert transforms.names()[-2:] == ("gray", "gray_diff")
    with pytest.raises(ValueError, match="registered already"):
        registry.register("gray", gray, params=Gray)
    with pytest.raises(ValueError, match="a residual itself"):
        registry.register("gray_diff_diff", residual_of="gray_diff")
    with pytest.raises(ValueError, match="folder name"):
        registry.register("my kind", gray)
    with pytest.raises(ValueError, match="frozen dataclass"):
        registry.register("plain", gray, params=dict)
