"""tdfake.tucker against docs/study.md's formulas and against tensorly (the study's exact call)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tensorly as tl
from conftest import smooth_rgb
from tensorly.decomposition import tucker as tl_tucker
from threadpoolctl import threadpool_limits

from tdfake import images, transforms, tucker

# --------------------------------------------------------------------------- formulas on hand-computed arrays

def test_to_image_stretches_over_all_channels_and_truncates():
    t = np.array([[[0.0, 1.0, 2.0], [4.0, 1.0, 0.0]]])  # (1, 2, 3): one image, 3 channels
    # (t - 0) / 4 * 255 = 0, 63.75, 127.5, 255 ... truncated, one stretch for all channels
    assert tucker.to_image(t).tolist() == [[[0, 63, 127], [255, 63, 0]]]
    assert tucker.to_image(np.array([-1.0, 0.0, 1.0])).tolist() == [0, 127, 255]


def test_to_image_batch_is_stretched_per_image_and_flat_is_black():
    batch = np.stack([np.full((2, 2, 3), 5.0), np.arange(12.0).reshape(2, 2, 3)])
    out = tucker.to_image(batch)
    assert out.dtype == np.uint8 and out.shape == batch.shape
    assert not out[0].any()  # flat: all zeros, no NaN warning
    assert out[1].min() == 0 and out[1].max() == 255
    assert np.array_equal(out[1], tucker.to_image(batch[1]))


def test_diff_image_uses_signed_difference_of_the_stretched_reconstruction():
    rec_image = np.array([[[10, 200, 50]]], dtype=np.uint8)
    original = np.array([[[20, 100, 50]]], dtype=np.uint8)
    # |10-20| = 10, |200-100| = 100, 0  ->  stretch over 0..100: 25.5 -> 25, 255, 0 (no uint8 wrap-around)
    assert tucker.diff_image(rec_image, original).tolist() == [[[25, 255, 0]]]


def test_relative_error():
    x = np.ones((2, 2, 3))
    assert tucker.relative_error(x, x * 0.5) == pytest.approx(0.5)
    assert tucker.relative_error(np.zeros((2, 2, 3)), np.zeros((2, 2, 3))) == 0.0
    assert tucker.relative_error(np.stack([x, x]), np.stack([x, 0 * x])).tolist() == [0.0, 1.0]


# --------------------------------------------------------------------------- tensorly path is the study's call

def test_tensorly_path_is_exactly_the_study():
    x = smooth_rgb(24, 24)
    rank = (6, 5, 3)
    study = tl.tucker_to_tensor(tl_tucker(x.astype(float), rank=list(rank), init="random", tol=1e-4, random_state=42))
    rec = tucker.tucker_reconstruct(x, rank, method="tensorly")
    assert rec.dtype == np.float64 and np.array_equal(rec, study)
    tk = tucker.to_image(study)
    assert np.array_equal(tucker.tk_image(x, rank, method="tensorly"), tk)
    expected_diff = tucker.to_image(np.abs(tk.astype(int) - x.astype(int)))
    assert np.array_equal(tucker.tk_diff_image(x, rank, method="tensorly"), expected_diff)


def test_the_functions_default_to_the_configs_method_the_studys_call():
    from tdfake.config import Config

    x, rank = smooth_rgb(16, 16), (4, 4, 3)
    assert Config().tucker_method == tucker.TUCKER_METHOD == "tensorly"
    assert np.array_equal(tucker.tk_image(x, rank), tucker.tk_image(x, rank, method="tensorly"))
    assert tucker.tucker_reconstruct(x, rank).dtype == np.float64  # tensorly's float64, not the fast float32


# --------------------------------------------------------------------------- fast path vs the reference

@pytest.mark.parametrize("rank", [(6, 6, 3), (8, 5, 2), (4, 6, 1)])
def test_fast_error_at_most_tensorly(rank):
    batch = np.stack([smooth_rgb(24, 24, seed) for seed in range(3)])
    fast = tucker.tucker_reconstruct(batch, rank, method="fast")
    ref = tucker.tucker_reconstruct(batch, rank, method="tensorly")
    assert fast.shape == batch.shape and fast.dtype == np.float32
    assert np.mean(tucker.relative_error(batch, fast)) <= 1.01 * np.mean(tucker.relative_error(batch, ref))


def assert_close_to_tensorly(batch, rank=tucker.TUCKER_RANK):
    """The fast path's relative error: at most 1.01 x tensorly's on average and 1.03 x on the worst image."""
    fast = tucker.relative_error(batch, tucker.tucker_reconstruct(batch, rank, method="fast"))
    ref = tucker.relative_error(batch, tucker.tucker_reconstruct(batch, rank, method="tensorly"))
    assert np.all(fast > 0)
    assert np.mean(fast) <= 1.01 * np.mean(ref)
    assert np.max(fast / ref) <= 1.03


def test_fast_within_one_percent_of_tensorly_at_study_rank_on_smooth_images():
    assert_close_to_tensorly(np.stack([smooth_rgb(128, 112, seed) for seed in range(3)]))


def test_fast_within_one_percent_of_tensorly_at_study_rank_on_a_photo():
    """scikit-image's astronaut photo at the study's 256 px: a real image with a face, edges and texture."""
    skimage_data = pytest.importorskip("skimage.data")
    photo = cv2.resize(skimage_data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    assert_close_to_tensorly(photo[None])


def test_fast_within_one_percent_of_tensorly_on_demo_crops(tmp_path):
    """Demo crops at 256 px, more than one CPU chunk, so the threaded path runs and its chunks are checked."""
    from tdfake.demo import make_demo_data

    paths = images.list_images(make_demo_data(tmp_path / "demo", n_per_class=6, size=256))
    batch = np.stack([images.read_rgb(p) for p in paths[:: max(1, len(paths) // 10)][:10]])
    assert len(batch) > tucker.CPU_CHUNK
    assert_close_to_tensorly(batch)


def test_fast_is_deterministic_and_batch_independent():
    batch = np.stack([smooth_rgb(24, 20, seed) for seed in range(3)])
    together = tucker.tk_image(batch, (6, 6, 3), "fast")
    assert np.array_equal(together, tucker.tk_image(batch, (6, 6, 3), "fast"))
    tucker.tucker_reconstruct(smooth_rgb(24, 20, 7), (6, 6, 3), "fast")  # the seeded sketch ignores earlier calls
    assert np.array_equal(together, tucker.tk_image(batch, (6, 6, 3), "fast"))
    alone = tucker.tucker_reconstruct(batch[1], (6, 6, 3), "fast")
    np.testing.assert_allclose(tucker.tucker_reconstruct(batch, (6, 6, 3), "fast")[1], alone, rtol=0, atol=1e-3)


def test_batch_over_several_chunks_and_threads_equals_single_images(monkeypatch):
    """Chunks shared over threads give each image what it gets alone, whatever the thread count."""
    monkeypatch.setattr(tucker._NumpyOps, "chunk", 2)
    batch = np.stack([smooth_rgb(40, 36, seed) for seed in range(5)])
    together = tucker.tucker_reconstruct(batch, (8, 8, 3), "fast")
    with threadpool_limits(1):  # one thread: the chunks run in turn
        np.testing.assert_array_equal(tucker.tucker_reconstruct(batch, (8, 8, 3), "fast"), together)
    for i in range(len(batch)):
        alone = tucker.tucker_reconstruct(batch[i], (8, 8, 3), "fast")
        np.testing.assert_allclose(together[i], alone, rtol=0, atol=1e-3)


def test_low_rank_image_is_reconstructed_exactly():
    """A rank-2 image makes every sketch rank-deficient: the shifted CholeskyQR must neither fail nor give NaN."""
    gradient = np.add.outer(np.linspace(0, 200, 48), np.linspace(0, 50, 40))
    x = np.stack([gradient, 255 - gradient, 0.5 * gradient], axis=-1)
    rec = tucker.tucker_reconstruct(x, (10, 10, 3), "fast")
    assert np.isfinite(rec).all() and tucker.relative_error(x, rec) < 1e-5


@pytest.mark.parametrize("rank", [(6, 5, 2), (8, 8, 3)])
def test_tensorflow_backend_matches_numpy(monkeypatch, rank):
    """The GPU code path (tf.linalg), run here on the CPU, gives the NumPy path's result."""
    tf = pytest.importorskip("tensorflow")
    x = np.stack([smooth_rgb(24, 20, seed) for seed in range(2)])
    expected = tucker.tucker_reconstruct(x, rank, "fast")
    monkeypatch.setattr(tucker, "_ops", lambda: tucker._TensorFlowOps(tf))
    np.testing.assert_allclose(tucker.tucker_reconstruct(x, rank, "fast"), expected, atol=0.05)


@pytest.mark.gpu
def test_gpu_path_close_to_tensorly_on_the_gpu():
    """On a GPU the fast path runs through TensorFlow and keeps the error bounds."""
    tf = pytest.importorskip("tensorflow")
    if not tf.config.list_physical_devices("GPU"):
        pytest.skip("no GPU visible to TensorFlow")
    assert tucker.fast_backend() == "tensorflow"
    assert_close_to_tensorly(np.stack([smooth_rgb(128, 112, seed) for seed in range(3)]))


def test_cp_fast_matches_tensorly_error():
    batch = np.stack([smooth_rgb(20, 20, seed) for seed in range(2)])
    fast = tucker.cp_reconstruct(batch, rank=4, method="fast")
    ref = tucker.cp_reconstruct(batch, rank=4, method="tensorly")
    assert np.isfinite(fast).all()
    assert np.mean(tucker.relative_error(batch, fast)) <= 1.05 * np.mean(tucker.relative_error(batch, ref))
    assert np.array_equal(tucker.cp_image(batch[0], 4, "fast"), tucker.cp_image(batch[0], 4, "fast"))  # seeded


@pytest.mark.realdata
def test_fast_matches_tensorly_on_real_photos(real_photos):
    paths = images.list_images(real_photos)
    chosen = paths[:: len(paths) // 4][:4]  # both classes
    batch = np.stack([cv2.resize(images.read_rgb(p), (256, 256), interpolation=cv2.INTER_AREA) for p in chosen])
    assert_close_to_tensorly(batch)


# --------------------------------------------------------------------------- awkward inputs

@pytest.mark.parametrize("method", tucker.METHODS)
def test_flat_image_is_its_own_reconstruction_and_black(method):
    flat = np.full((12, 12, 3), 77, dtype=np.uint8)
    assert np.array_equal(tucker.tucker_reconstruct(flat, (4, 4, 3), method), flat)
    for kind in ("TK", "TK_diff", "CP", "CP_diff"):
        spec = transforms.spec(kind, defaults={"rank": (4, 4, 3), "tucker_method": method, "cp_rank": 2})
        out = spec.apply(flat)
        assert out.dtype == np.uint8 and not out.any()


@pytest.mark.parametrize("method", tucker.METHODS)
def test_image_smaller_than_rank_clips_rank_and_is_exact(method):
    tiny = smooth_rgb(5, 12)
    rec = tucker.tucker_reconstruct(tiny, (30, 30, 3), method)
    assert np.isfinite(rec).all() and np.allclose(rec, tiny, atol=1e-2)
    assert tucker.tk_image(tiny, method=method).shape == tiny.shape


def test_batch_with_flat_and_normal_images():
    batch = np.stack([np.zeros((16, 16, 3), np.uint8), smooth_rgb(16, 16)])
    out = tucker.tk_diff_image(batch, (4, 4, 3), "fast")
    assert not out[0].any() and out[1].max() == 255


def test_unknown_method_is_refused():
    x = smooth_rgb(16, 16)
    with pytest.raises(ValueError, match="unknown method"):
        tucker.tk_image(x, method="magic")
    with pytest.raises(ValueError, match="three positive integers"):
        tucker.tucker_reconstruct(x, (4, 4))
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        tucker.tucker_reconstruct(x[:, :, 0])
