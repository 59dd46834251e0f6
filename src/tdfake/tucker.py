"""Tucker and CP transforms of face crops: the study's TK / TK_diff images and their CP cousins.

The study (docs/study.md) decomposed every H x W x 3 crop with
``tensorly.decomposition.tucker(x, rank=[30, 30, 3], init='random', tol=1e-4, random_state=42)``,
rebuilt it with ``tl.tucker_to_tensor`` and saved

* ``TK``      = ``to_image(reconstruction)``
* ``TK_diff`` = ``to_image(abs(int(TK image) - int(original)))``

where ``to_image`` shifts the minimum to 0 and stretches the maximum to 255 over all channels at
once, truncating to uint8.  ``CP`` / ``CP_diff`` do the same with
``parafac(x, rank=8, init='random', tol=1e-5)`` (defined in the study, never used there).

Two ways to compute the decompositions, chosen by ``method``:

``"tensorly"``
    the reference: tensorly called exactly as the study did, one image at a time, in float64.
    CP adds ``random_state=42`` (the study left it unseeded, so its CP images were not
    reproducible).
``"fast"`` (default)
    Tucker by HOSVD initialisation plus a few HOOI sweeps, batched over images, in float32.
    Every step is a batched matrix product, a symmetric eigendecomposition of a small Gram
    matrix or a thin QR, so NumPy's LAPACK does the work without per-image Python loops; when
    TensorFlow is already installed *and* sees a GPU, the same algorithm runs through
    ``tf.linalg`` on it (TensorFlow is imported only when an NVIDIA device exists, so CPU users
    never pay its start-up).  HOSVD lands next to the optimum for images, so its error matches
    tensorly's random-start HOOI or beats it (``bench/bench_tucker.py`` measures both).
    CP runs alternating least squares batched in NumPy float64, started from the leading
    singular vectors of the unfoldings (tensorly's ``init='svd'``; the channel factor, having
    only 3 of them for rank 8, is padded with seeded random columns), stopping like tensorly
    (at most 100 sweeps, or when the relative error changes by less than ``tol``).  The SVD
    start lands in better minima than a random one and tensorly's ``parafac`` takes seconds
    per 256 px crop, hence this path.

Defined results for awkward inputs (never NaN, never a crash):

* a **flat image** (max == min) is its own exact rank-1 reconstruction, returned as is, and
  ``to_image`` of a flat array is all zeros, so its TK and TK_diff images are black;
* an image **smaller than the rank** gets each mode's rank clipped to that mode's size
  (a 20 x 20 crop is decomposed with rank [20, 20, 3], i.e. reconstructed exactly).

Both paths are deterministic: the same image gives the same output on the same machine.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence

import numpy as np

from tdfake import constants

KINDS = ("OR", "TK", "TK_diff", "CP", "CP_diff")
METHODS = ("fast", "tensorly")
TUCKER_RANK = constants.TUCKER_RANK
CP_RANK = constants.CP_RANK
TUCKER_TOL = 1e-4
CP_TOL = 1e-5
CP_MAX_ITER = 100
SEED = constants.SEED
HOOI_SWEEPS = 2  # HOOI sweeps after the HOSVD start; bench/bench_tucker.py shows the error is then at tensorly's or below


# --------------------------------------------------------------------------- the study's formulas

def to_image(t: np.ndarray) -> np.ndarray:
    """The study's stretch to uint8: ``(t - t.min()) / max * 255``, truncated.

    One stretch over all channels of an image.  A 4-d array (N, H, W, C) is a batch and each
    image is stretched on its own; any other array is stretched as a whole.  A flat array
    (max == min) has nothing to stretch and gives all zeros.
    """
    t = np.asarray(t, dtype=np.float64)
    axes = tuple(range(1, t.ndim)) if t.ndim == 4 else None
    shifted = t - t.min(axis=axes, keepdims=True)
    peak = shifted.max(axis=axes, keepdims=True)
    unit = np.divide(shifted, peak, out=np.zeros_like(shifted), where=peak > 0)
    return (unit * 255).astype(np.uint8)


def diff_image(reconstruction_image: np.ndarray, original: np.ndarray) -> np.ndarray:
    """The study's residual: ``to_image(abs(int(reconstruction image) - int(original)))``."""
    residual = np.abs(np.asarray(reconstruction_image).astype(np.int64) - np.asarray(original).astype(np.int64))
    return to_image(residual)


def relative_error(x: np.ndarray, reconstruction: np.ndarray) -> np.ndarray | float:
    """``||x - rec|| / ||x||`` per image (a float for one image, an array for a batch); 0 for an all-zero image."""
    x = np.asarray(x, dtype=np.float64)
    rec = np.asarray(reconstruction, dtype=np.float64)
    axes = tuple(range(1, x.ndim)) if x.ndim == 4 else None
    num = np.sqrt(((x - rec) ** 2).sum(axis=axes))
    den = np.sqrt((x**2).sum(axis=axes))
    err = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(err) if np.ndim(err) == 0 else err


# --------------------------------------------------------------------------- public transforms

def tucker_reconstruct(x: np.ndarray, rank: Sequence[int] = TUCKER_RANK, method: str = "fast") -> np.ndarray:
    """Tucker reconstruction of one image (H, W, C) or a batch (N, H, W, C), uint8 or float.

    Returns the float reconstruction with the same shape (float64 for ``"tensorly"``, float32
    for ``"fast"``).  ``rank`` is clipped to the image size; flat images come back unchanged.
    """
    return _apply(x, _check_tucker_rank(rank), method, _tucker_tensorly, _tucker_fast, np.float32)


def cp_reconstruct(x: np.ndarray, rank: int = CP_RANK, method: str = "fast") -> np.ndarray:
    """CP (parafac) reconstruction of one image or a batch, float64, same shape; flat images come back unchanged."""
    if int(rank) < 1:
        raise ValueError(f"CP rank must be a positive integer, got {rank}")
    return _apply(x, int(rank), method, _cp_tensorly, _cp_fast, np.float64)


def tk_image(x: np.ndarray, rank: Sequence[int] = TUCKER_RANK, method: str = "fast") -> np.ndarray:
    """The study's TK image: ``to_image`` of the Tucker reconstruction (uint8, same shape as ``x``)."""
    return to_image(tucker_reconstruct(x, rank, method))


def tk_diff_image(x: np.ndarray, rank: Sequence[int] = TUCKER_RANK, method: str = "fast") -> np.ndarray:
    """The study's TK_diff image: the stretched |TK image - original| (uint8)."""
    return diff_image(tk_image(x, rank, method), x)


def cp_image(x: np.ndarray, rank: int = CP_RANK, method: str = "fast") -> np.ndarray:
    """``to_image`` of the CP reconstruction (uint8)."""
    return to_image(cp_reconstruct(x, rank, method))


def cp_diff_image(x: np.ndarray, rank: int = CP_RANK, method: str = "fast") -> np.ndarray:
    """The stretched |CP image - original| (uint8)."""
    return diff_image(cp_image(x, rank, method), x)


def transform(
    x: np.ndarray,
    kind: str,
    rank: Sequence[int] = TUCKER_RANK,
    method: str = "fast",
    cp_rank: int = CP_RANK,
) -> np.ndarray:
    """The ``kind`` image (one of :data:`KINDS`) of one image or a batch, as uint8.

    ``OR`` is the input itself as uint8 (the study's originals are uint8 already).
    ``rank`` is the Tucker rank, ``cp_rank`` the CP rank.
    """
    if kind == "OR":
        return np.asarray(x).astype(np.uint8)
    if kind == "TK":
        return tk_image(x, rank, method)
    if kind == "TK_diff":
        return tk_diff_image(x, rank, method)
    if kind == "CP":
        return cp_image(x, cp_rank, method)
    if kind == "CP_diff":
        return cp_diff_image(x, cp_rank, method)
    raise ValueError(f"unknown image kind {kind!r}; choose from {', '.join(KINDS)}")


# --------------------------------------------------------------------------- shared plumbing

def _check_tucker_rank(rank: Sequence[int]) -> tuple[int, int, int]:
    ranks = tuple(int(r) for r in rank)
    if len(ranks) != 3 or min(ranks) < 1:
        raise ValueError(f"Tucker rank must be three positive integers (height, width, channels), got {list(rank)}")
    return ranks


def _as_batch(x: np.ndarray) -> tuple[np.ndarray, bool]:
    x = np.asarray(x)
    if x.ndim == 3:
        return x[None], True
    if x.ndim == 4:
        return x, False
    raise ValueError(f"expected one image (H, W, C) or a batch (N, H, W, C), got shape {x.shape}")


def _apply(x, rank, method, reference, fast, fast_dtype):
    """Run ``reference`` (per image, float64) or ``fast`` (batched, ``fast_dtype``) on the non-flat images.

    Flat images stay as they are: a constant is its own exact reconstruction at any rank.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    batch, single = _as_batch(x)
    flat = np.ptp(batch.reshape(len(batch), -1), axis=1) == 0
    out = batch.astype(fast_dtype if method == "fast" else np.float64, copy=True)
    todo = np.flatnonzero(~flat)
    if len(todo):
        if method == "tensorly":
            out[todo] = np.stack([reference(batch[i].astype(np.float64), rank) for i in todo])
        else:
            out[todo] = fast(batch[todo], rank)
    return out[0] if single else out


def _clip(ranks: Sequence[int], shape: Sequence[int]) -> list[int]:
    return [min(r, s) for r, s in zip(ranks, shape)]


# --------------------------------------------------------------------------- tensorly reference

def _tucker_tensorly(x: np.ndarray, rank: tuple[int, int, int]) -> np.ndarray:
    import tensorly as tl
    from tensorly.decomposition import tucker

    decomposition = tucker(x, rank=_clip(rank, x.shape), init="random", tol=TUCKER_TOL, random_state=SEED)
    return tl.tucker_to_tensor(decomposition)


def _cp_tensorly(x: np.ndarray, rank: int) -> np.ndarray:
    import tensorly as tl
    from tensorly.decomposition import parafac

    return tl.cp_to_tensor(parafac(x, rank=rank, init="random", tol=CP_TOL, random_state=SEED))


# --------------------------------------------------------------------------- fast Tucker (HOSVD + HOOI)

class _NumpyOps:
    """The handful of array operations the fast Tucker needs, in NumPy."""

    float32 = staticmethod(lambda a: np.asarray(a, dtype=np.float32))
    matmul = staticmethod(np.matmul)
    transpose = staticmethod(np.transpose)
    reshape = staticmethod(np.reshape)
    eigh = staticmethod(np.linalg.eigh)
    qr_q = staticmethod(lambda a: np.linalg.qr(a)[0])
    to_numpy = staticmethod(np.asarray)


class _TensorFlowOps:
    """The same operations through ``tf.linalg``, for a GPU."""

    def __init__(self, tf):
        self.float32 = lambda a: tf.convert_to_tensor(np.asarray(a, dtype=np.float32))
        self.matmul = tf.linalg.matmul
        self.transpose = tf.transpose
        self.reshape = tf.reshape
        self.eigh = tf.linalg.eigh
        self.qr_q = lambda a: tf.linalg.qr(a)[0]
        self.to_numpy = lambda a: a.numpy()


@functools.lru_cache(maxsize=1)
def _ops():
    """TensorFlow ops when TensorFlow sees a GPU, else NumPy; TensorFlow is imported only if a GPU can exist."""
    has_nvidia = os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/nvidia0")
    if not (has_nvidia or "tensorflow" in sys.modules):
        return _NumpyOps()
    try:
        import tensorflow as tf
    except ImportError:
        return _NumpyOps()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return _NumpyOps()
    for gpu in gpus:  # share the card with training and with other worker processes
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised by the caller: keep its settings
            pass
    return _TensorFlowOps(tf)


def fast_backend() -> str:
    """Where ``method="fast"`` Tucker runs on this machine: ``"tensorflow"`` (a GPU) or ``"numpy"``."""
    return "tensorflow" if isinstance(_ops(), _TensorFlowOps) else "numpy"


def _swap(ops, a):
    return ops.transpose(a, (0, 2, 1))


def _leading_basis(ops, y, r: int):
    """Orthonormal basis (N, m, r) of the leading r-dimensional column space of each y (N, m, k).

    Eigendecomposes whichever Gram matrix is smaller (y yᵀ is m x m, yᵀ y is k x k); from the
    k x k side the basis is the QR of y times the top eigenvectors (QR keeps it orthonormal
    even where y is rank-deficient).
    """
    m, k = y.shape[1], y.shape[2]
    if m <= k or k < r:
        _, vectors = ops.eigh(ops.matmul(y, _swap(ops, y)))
        return vectors[:, :, ::-1][:, :, :r]
    _, vectors = ops.eigh(ops.matmul(_swap(ops, y), y))
    return ops.qr_q(ops.matmul(y, vectors[:, :, ::-1][:, :, :r]))


def _tucker_fast(batch: np.ndarray, rank: tuple[int, int, int]) -> np.ndarray:
    ops = _ops()
    n, h, w, c = batch.shape
    r1, r2, r3 = _clip(rank, (h, w, c))
    x = ops.float32(batch)

    def project_channels(p3):
        return x if p3 is None else ops.matmul(x, p3[:, None])

    def channel_projector(u, v):
        """Top-r3 projector of the channel mode given the spatial factors (None when r3 keeps all channels)."""
        if r3 == c:
            return None
        core = ops.matmul(_swap(ops, u), ops.reshape(ops.transpose(x, (0, 1, 3, 2)), (n, h, c * w)))
        core = ops.reshape(ops.transpose(ops.reshape(core, (n, r1 * c, w)), (0, 2, 1)), (n, w, r1 * c))
        core = ops.reshape(ops.matmul(_swap(ops, v), core), (n, r2 * r1, c))
        basis = _leading_basis(ops, _swap(ops, core), r3)
        return ops.matmul(basis, _swap(ops, basis))

    def unfold_rows_hc(t):  # (n, h*c, w): contract the width
        return ops.reshape(ops.transpose(t, (0, 1, 3, 2)), (n, h * c, w))

    def unfold_rows_wc(t):  # (n, w*c, h): contract the height
        return ops.reshape(ops.transpose(t, (0, 2, 3, 1)), (n, w * c, h))

    # HOSVD start: leading height vectors of the mode-1 unfolding, leading channel subspace.
    u = _leading_basis(ops, ops.reshape(x, (n, h, w * c)), r1)
    p3 = None
    if r3 < c:
        basis = _leading_basis(ops, _swap(ops, ops.reshape(x, (n, h * w, c))), r3)
        p3 = ops.matmul(basis, _swap(ops, basis))
    v = None
    for _ in range(HOOI_SWEEPS):
        xp = project_channels(p3)
        v = _leading_basis(ops, ops.reshape(ops.matmul(unfold_rows_wc(xp), u), (n, w, c * r1)), r2)
        u = _leading_basis(ops, ops.reshape(ops.matmul(unfold_rows_hc(xp), v), (n, h, c * r2)), r1)
        p3 = channel_projector(u, v)
    xp = project_channels(p3)
    if v is None:
        v = _leading_basis(ops, ops.reshape(ops.matmul(unfold_rows_wc(xp), u), (n, w, c * r1)), r2)
    # reconstruction = x x1 (u uᵀ) x2 (v vᵀ) x3 p3
    t = ops.reshape(ops.matmul(unfold_rows_hc(xp), v), (n, h, c * r2))
    t = ops.matmul(u, ops.matmul(_swap(ops, u), t))
    rec = ops.matmul(ops.reshape(t, (n, h * c, r2)), _swap(ops, v))
    return ops.to_numpy(ops.transpose(ops.reshape(rec, (n, h, c, w)), (0, 1, 3, 2)))


# --------------------------------------------------------------------------- fast CP (batched ALS)

def _cp_fast(batch: np.ndarray, rank: int) -> np.ndarray:
    """CP by alternating least squares from an SVD start, batched, with per-image stopping (tensorly's rule).

    An image that has converged keeps its factors while the rest of the batch iterates, so each
    image's result does not depend on which other images share its batch.
    """
    x = batch.astype(np.float64)
    n, h, w, c = x.shape
    rng = np.random.default_rng(SEED)

    def svd_start(unfolding):
        """Leading left singular vectors of each (N, m, k) unfolding, padded with seeded random columns when m < rank."""
        _, vectors = np.linalg.eigh(unfolding @ _swap(_NumpyOps, unfolding))
        vectors = vectors[:, :, ::-1][:, :, :rank]
        missing = rank - vectors.shape[2]
        padding = np.repeat(rng.random((1, vectors.shape[1], missing)), n, axis=0)
        return np.concatenate([vectors, padding], axis=2)

    a = np.zeros((n, h, rank))  # solved first, from b and f
    b = svd_start(x.transpose(0, 2, 1, 3).reshape(n, w, h * c))
    f = svd_start(x.reshape(n, h * w, c).transpose(0, 2, 1))  # the channel factor
    rows_hc = x.transpose(0, 1, 3, 2).reshape(n, h * c, w)
    rows_wc = x.transpose(0, 2, 3, 1).reshape(n, w * c, h)
    norm2 = (x**2).sum(axis=(1, 2, 3))
    active = np.ones(n, dtype=bool)
    previous = np.full(n, np.inf)

    def gram(m):
        return _swap(_NumpyOps, m) @ m

    for _ in range(CP_MAX_ITER):
        a_new = ((rows_hc @ b).reshape(n, h, c, rank) * f[:, None]).sum(2) @ np.linalg.pinv(gram(b) * gram(f))
        a = np.where(active[:, None, None], a_new, a)
        b_new = ((rows_wc @ a).reshape(n, w, c, rank) * f[:, None]).sum(2) @ np.linalg.pinv(gram(a) * gram(f))
        b = np.where(active[:, None, None], b_new, b)
        mttkrp = ((rows_hc @ b).reshape(n, h, c, rank) * a[:, :, None]).sum(1)
        f_new = mttkrp @ np.linalg.pinv(gram(a) * gram(b))
        f = np.where(active[:, None, None], f_new, f)
        inner = (f * mttkrp).sum(axis=(1, 2))
        model2 = (gram(a) * gram(b) * gram(f)).sum(axis=(1, 2))
        error = np.sqrt(np.abs(norm2 - 2 * inner + model2) / norm2)
        active &= np.abs(previous - error) >= CP_TOL
        previous = np.where(active, error, previous)
        if not active.any():
            break
    return np.einsum("nhr,nwr,ncr->nhwc", a, b, f)
