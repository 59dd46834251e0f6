"""Tucker and CP transforms of face crops: the study's TK / TK_diff images and their CP cousins.

The study (docs/study.md) decomposed every H x W x 3 crop with
``tensorly.decomposition.tucker(x, rank=[30, 30, 3], init='random', tol=1e-4, random_state=42)``,
rebuilt it with ``tl.tucker_to_tensor`` and saved

* ``TK``      = ``to_image(reconstruction)``
* ``TK_diff`` = ``to_image(abs(int(TK image) - int(original)))``

where ``to_image`` shifts the minimum to 0 and stretches the maximum to 255 over all channels at
once, truncating to uint8.  ``CP`` / ``CP_diff`` do the same with
``parafac(x, rank=8, init='random', tol=1e-5)`` (defined in the study, never used there).
These are the functions; the image kinds built on them (names, parameters, versions) are
registered in :mod:`tdfake.transforms`.

Two ways to compute the decompositions, chosen by ``method`` (default :data:`TUCKER_METHOD`,
``"tensorly"``, the config's default too):

``"tensorly"``
    the reference: tensorly called exactly as the study did, one image at a time, in float64.
    CP adds ``random_state=42`` (the study left it unseeded, so its CP images were not
    reproducible).
``"fast"``
    Tucker batched over images, in float32: a seeded randomized sketch ten columns wider than the
    rank (one power iteration) finds height and width bases, the image is compressed onto them,
    the small core gets an exact HOSVD, and two HOOI sweeps on the full image refine it (see
    :func:`_tucker_chunk`).  At the study's rank [30, 30, 3] no channel factor is computed.
    Every step is a matrix product, a CholeskyQR of a thin matrix or a symmetric
    eigendecomposition of a 40 x 40 Gram, on chunks of images shared over threads, so NumPy's
    BLAS/LAPACK does the work without per-image Python; when TensorFlow is already installed
    *and* sees a GPU, the same algorithm runs through ``tf.linalg`` on it (TensorFlow is imported
    only when an NVIDIA device exists, so CPU users never pay its start-up).  Its error stays
    within 1% of tensorly's random-start HOOI on average and 3% on the worst image
    (``bench/bench_tucker.py`` measures both; ``tests/test_tucker.py`` checks it).
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
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tdfake import constants

METHODS = ("fast", "tensorly")
TUCKER_RANK = constants.TUCKER_RANK
TUCKER_METHOD = constants.TUCKER_METHOD
CP_RANK = constants.CP_RANK
TUCKER_TOL = 1e-4
CP_TOL = 1e-5
CP_MAX_ITER = 100
SEED = constants.SEED
SKETCH_OVERSAMPLING = 10  # sketch columns per mode beyond the rank (bench_tucker and test_tucker check the error)
POWER_ITERATIONS = 1  # power iterations of the randomized range finder
HOOI_SWEEPS = 2  # subspace-iteration HOOI sweeps on the full image after the core's HOSVD (noisy images need 2)
FAST_VERSION = 2
"""Version of the fast path's output: raised with every change that alters the images it makes (sketch
width, sweeps, precision, chunking).  Image folders record it (:func:`implementation`), so TK / TK_diff
images made by another version, and the arms trained on them, are made anew rather than reused.
Version 2: no channel factor at full channel rank, shifted CholeskyQR2, two HOOI sweeps (CHANGELOG.md has
what each version changed)."""
CPU_CHUNK = 8  # images per chunk on the CPU: a chunk's arrays stay in cache; chunks share out over threads
GPU_CHUNK = 256  # images per chunk on a GPU: large batched products, a few hundred MB of memory


# --------------------------------------------------------------------------- the study's formulas

def implementation(method: str) -> str:
    """What computes a method's decompositions: ``"fast-<FAST_VERSION>"`` or ``"tensorly-<its version>"``."""
    if method == "fast":
        return f"fast-{FAST_VERSION}"
    if method == "tensorly":
        from importlib.metadata import version

        return f"tensorly-{version('tensorly')}"
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


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

def tucker_reconstruct(x: np.ndarray, rank: Sequence[int] = TUCKER_RANK, method: str = TUCKER_METHOD) -> np.ndarray:
    """Tucker reconstruction of one image (H, W, C) or a batch (N, H, W, C), uint8 or float.

    Returns the float reconstruction with the same shape (float64 for ``"tensorly"``, float32
    for ``"fast"``).  ``rank`` is clipped to the image size; flat images come back unchanged.
    """
    return _apply(x, _check_tucker_rank(rank), method, _tucker_tensorly, _tucker_fast, np.float32)


def cp_reconstruct(x: np.ndarray, rank: int = CP_RANK, method: str = TUCKER_METHOD) -> np.ndarray:
    """CP (parafac) reconstruction of one image or a batch, float64, same shape; flat images come back unchanged."""
    if int(rank) < 1:
        raise ValueError(f"CP rank must be a positive integer, got {rank}")
    return _apply(x, int(rank), method, _cp_tensorly, _cp_fast, np.float64)


def tk_image(x: np.ndarray, rank: Sequence[int] = TUCKER_RANK, method: str = TUCKER_METHOD) -> np.ndarray:
    """The study's TK image: ``to_image`` of the Tucker reconstruction (uint8, same shape as ``x``)."""
    return to_image(tucker_reconstruct(x, rank, method))


def tk_diff_image(x: np.ndarray, rank: Sequence[int] = TUCKER_RANK, method: str = TUCKER_METHOD) -> np.ndarray:
    """The study's TK_diff image: the stretched |TK image - original| (uint8)."""
    return diff_image(tk_image(x, rank, method), x)


def cp_image(x: np.ndarray, rank: int = CP_RANK, method: str = TUCKER_METHOD) -> np.ndarray:
    """``to_image`` of the CP reconstruction (uint8)."""
    return to_image(cp_reconstruct(x, rank, method))


def cp_diff_image(x: np.ndarray, rank: int = CP_RANK, method: str = TUCKER_METHOD) -> np.ndarray:
    """The stretched |CP image - original| (uint8)."""
    return diff_image(cp_image(x, rank, method), x)


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
    if method == "fast" and not flat.any():  # the usual case: no copies of the batch on the way
        out = np.asarray(fast(batch, rank), dtype=fast_dtype)
        return out[0] if single else out
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


# --------------------------------------------------------------------------- fast Tucker (sketch + HOOI on a core)

class _NumpyOps:
    """The handful of array operations the fast Tucker needs, in NumPy: float32 data, float64 k x k Grams."""

    name = "numpy"
    chunk = CPU_CHUNK
    float32 = staticmethod(lambda a: np.asarray(a, dtype=np.float32))
    matmul = staticmethod(np.matmul)
    transpose = staticmethod(np.transpose)
    reshape = staticmethod(np.reshape)
    contiguous = staticmethod(np.ascontiguousarray)
    eigh = staticmethod(np.linalg.eigh)
    to_numpy = staticmethod(np.asarray)

    @staticmethod
    def cholesky_qr(a, passes: int = 2):
        """Orthonormal basis of each a (N, m, k): shifted CholeskyQR2 (Fukaya et al. 2020).

        The first pass factors the k x k Gram in float64 (a sketch after a power step has a
        condition number near 1e5, whose square float32 cannot hold); the second, on a nearly
        orthonormal matrix, repairs the rounding of the first in float32.  The products with the
        tall matrix run in float32; only k x k work is done in float64.
        """
        q = a
        for precision in (np.float64, np.float32)[:passes]:
            wide = q.astype(precision, copy=False)
            gram = np.matmul(wide.transpose(0, 2, 1), wide).astype(np.float64, copy=False)
            largest = np.diagonal(gram, axis1=1, axis2=2).max(axis=1)
            lower = np.linalg.cholesky(gram + _shift(largest)[:, None, None] * np.eye(gram.shape[1]))
            q = np.matmul(q, np.linalg.inv(lower).transpose(0, 2, 1).astype(np.float32))
        return q


class _TensorFlowOps:
    """The same operations through ``tf.linalg``, for a GPU: products, batched Cholesky and triangular solves."""

    name = "tensorflow"
    chunk = GPU_CHUNK

    def __init__(self, tf):
        self.tf = tf
        self.float32 = lambda a: tf.convert_to_tensor(np.asarray(a, dtype=np.float32))
        self.matmul = tf.linalg.matmul
        self.transpose = tf.transpose
        self.reshape = tf.reshape
        self.contiguous = tf.identity
        self.eigh = tf.linalg.eigh
        self.to_numpy = lambda a: a.numpy()

    def cholesky_qr(self, a, passes: int = 2):
        """As :meth:`_NumpyOps.cholesky_qr`; ``Q = A L⁻ᵀ`` by a batched triangular solve instead of an inverse."""
        tf = self.tf
        q = a
        for precision in (tf.float64, tf.float32)[:passes]:
            wide = tf.cast(q, precision)
            gram = tf.cast(tf.linalg.matmul(wide, wide, transpose_a=True), tf.float64)
            largest = tf.reduce_max(tf.linalg.diag_part(gram), axis=1)
            eye = tf.eye(tf.shape(gram)[1], dtype=tf.float64)
            lower = tf.cast(tf.linalg.cholesky(gram + _shift(largest)[:, None, None] * eye), tf.float32)
            q = tf.transpose(tf.linalg.triangular_solve(lower, tf.transpose(q, (0, 2, 1)), lower=True), (0, 2, 1))
        return q


def _shift(largest):
    """The diagonal shift of each Gram so that Cholesky never fails on a rank-deficient sketch.

    1e-12 of the largest diagonal entry: far below what float32 data resolves, so it changes no
    result, yet above float64 rounding in the Gram, so the factorisation always exists.
    """
    return 1e-12 * largest + 1e-300


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
    return _ops().name


@functools.lru_cache(maxsize=1)
def _blas():
    """threadpoolctl's view of the loaded BLAS, made once (a fresh one costs half a millisecond)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def _cpu_threads() -> int:
    """Threads for the CPU path: as many as the caller lets BLAS use (so ``threadpool_limits(1)`` means one)."""
    return max([lib.num_threads for lib in _blas().lib_controllers] or [1])


def _tucker_fast(batch: np.ndarray, rank: tuple[int, int, int]) -> np.ndarray:
    """Tucker reconstruction of a batch (N, H, W, C), in chunks of the backend's size, into one float32 array.

    On the CPU the chunks (:data:`CPU_CHUNK` images, small enough to stay in cache) go to as many
    Python threads as BLAS may use, each running single-threaded BLAS: NumPy releases the GIL in
    every product and factorisation, and a chunk per core keeps both cores busy where BLAS alone
    would spend much of its time waiting in the small products (and, on a busy machine, spinning:
    OpenBLAS threads on small products slow down many-fold when another process holds a core).
    A single chunk runs on one thread too, so the result never depends on the thread count.
    On a GPU the chunks run in turn.
    """
    ops = _ops()
    out = np.empty(batch.shape, dtype=np.float32)
    starts = range(0, len(batch), ops.chunk)

    def run(share: Sequence[int]) -> None:
        for start in share:
            _tucker_chunk(ops, batch[start:start + ops.chunk], rank, out[start:start + ops.chunk])

    allowed = _cpu_threads() if ops.name == "numpy" else 1
    if allowed <= 1:  # a GPU, or a caller that already runs BLAS on one thread
        run(starts)
        return out
    threads = min(len(starts), allowed)
    with _blas().limit(limits=1):
        if threads == 1:
            run(starts)
        else:
            list(_pool().map(run, [starts[i::threads] for i in range(threads)]))
    return out


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    """Threads kept for the CPU path (each keeps its scratch buffer, see :func:`_channels_first`)."""
    return ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0)), thread_name_prefix="tdfake-tucker")


def _swap(ops, a):
    return ops.transpose(a, (0, 2, 1))


def _sketch_size(rank: int, size: int) -> int:
    """Columns of a mode's sketch: the rank plus :data:`SKETCH_OVERSAMPLING`, at most the mode's size."""
    return min(size, rank + SKETCH_OVERSAMPLING)


@functools.lru_cache(maxsize=8)
def _gaussian(rows: int, cols: int, seed: int) -> np.ndarray:
    """A seeded standard normal test matrix, the same for every image (so results do not depend on the batch)."""
    test = np.random.default_rng(seed).standard_normal((rows, cols)).astype(np.float32)
    test.flags.writeable = False
    return test


_scratch = threading.local()


def _channels_first(batch: np.ndarray) -> np.ndarray:
    """The chunk as float32 (N, H, C, W), converted and transposed in one pass into this thread's reused buffer.

    Reusing the buffer matters: a fresh array of a few MB costs more in page faults than the
    conversion itself.  The buffer is overwritten by the thread's next chunk.
    """
    n, h, w, c = batch.shape
    buffer = getattr(_scratch, "buffer", None)
    if buffer is None or buffer.size < batch.size:
        buffer = _scratch.buffer = np.empty(batch.size, dtype=np.float32)
    out = buffer[:batch.size].reshape(n, h, c, w)
    np.copyto(out, np.asarray(batch).transpose(0, 1, 3, 2), casting="unsafe")
    return out


def _tucker_chunk(ops, batch: np.ndarray, rank: tuple[int, int, int], out: np.ndarray,
                  steps: dict | None = None) -> None:
    """Tucker reconstruction of a chunk (N, H, W, C) at ``rank`` into ``out``: sketch, compress, start, refine, expand.

    The image is held once, as (N, H, C, W) float32, so that every unfolding is a free view: rows
    H and columns (C, W) for the height mode, rows (H, C) and columns W to contract the width.

    1. ``sketch`` + ``power``: the height basis u (H x ku, ku = r1 + :data:`SKETCH_OVERSAMPLING`)
       by randomized range finding on the mode-1 unfolding (Halko, Martinsson & Tropp 2011,
       algorithm 4.3): a Gaussian sketch shared by all images (one product over the stacked
       chunk), :data:`POWER_ITERATIONS` power steps, CholeskyQR for each thin QR.  The power
       step matters: the singular values of images decay slowly after the first few.
    2. ``width``: x contracted with u, and its width basis v (W x kv) by the same range finder on
       that small unfolding.
    3. ``core``: the core ``x x1 uᵀ x2 vᵀ`` (ku x kv x C) holds nearly all of the image's energy;
       its HOSVD gives the start U = u a, V = v b and, when the channel rank truncates, the channel
       factor f.  At the study's rank [30, 30, 3] the channel mode keeps all three channels, f is
       None and the problem is the two-sided projection ``U Uᵀ X_c V Vᵀ`` shared by the channels
       (2DSVD / GLRAM, Ding & Ye 2005): no channel factor is computed or applied.
    4. ``hooi``: :data:`HOOI_SWEEPS` sweeps of HOOI on the full image, each factor updated by one
       step of subspace iteration (V ← orth(M₂ M₂ᵀ V), then U likewise), which finds the last
       fraction of a percent that the sketch misses where the spectrum is flat.
    5. ``reconstruct``: ``g x1 U x2 V (x3 f)``, the last product straight into ``out``'s layout.

    Everything is a matrix product, a CholeskyQR of a thin matrix or a symmetric
    eigendecomposition of a ku x ku Gram; the sketches are seeded, so the result is deterministic.
    ``steps``, when given, receives the seconds spent in each step (the backend synchronised).
    """
    clock = _StepClock(ops, steps)
    n, h, w, c = batch.shape
    r1, r2, r3 = _clip(rank, (h, w, c))
    ku, kv = _sketch_size(r1, h), _sketch_size(r2, w)
    x = _channels_first(batch) if ops.name == "numpy" else ops.transpose(ops.float32(batch), (0, 1, 3, 2))
    x_by_height = ops.reshape(x, (n, h, c * w))  # mode-1 unfolding, columns (c, w)
    x_by_width = ops.reshape(x, (n, h * c, w))  # rows (h, c): contracts the width
    x = clock("convert", x)

    test = ops.float32(_gaussian(c * w, ku, SEED))
    y = ops.reshape(ops.matmul(ops.reshape(x, (n * h, c * w)), test), (n, h, ku))  # one product for the chunk
    u = clock("sketch", ops.cholesky_qr(y, passes=1))  # a plain sketch is well conditioned
    for _ in range(POWER_ITERATIONS):
        u = ops.cholesky_qr(ops.matmul(x_by_height, ops.matmul(_swap(ops, x_by_height), u)))
    u = clock("power", u)

    width = _width_unfolding(ops, x_by_height, u, None, c)  # (n, w, ku*c)
    v = ops.cholesky_qr(ops.matmul(width, ops.float32(_gaussian(ku * c, kv, SEED + 1))), passes=1)
    for _ in range(POWER_ITERATIONS):
        v = ops.cholesky_qr(ops.matmul(width, ops.matmul(_swap(ops, width), v)))
    v = clock("width", v)

    core = ops.reshape(ops.matmul(_swap(ops, v), width), (n, kv, ku, c))
    a, b, f = _core_hosvd(ops, core, (r1, r2, r3))
    u, v = ops.matmul(u, a), ops.matmul(v, b)
    v = clock("core", v)

    for _ in range(HOOI_SWEEPS):
        width = _width_unfolding(ops, x_by_height, u, f, c)
        v = ops.cholesky_qr(ops.matmul(width, ops.matmul(_swap(ops, width), v)))
        height = _height_unfolding(ops, x_by_width, v, f, c)
        u = ops.cholesky_qr(ops.matmul(height, ops.matmul(_swap(ops, height), u)))
    if HOOI_SWEEPS == 0:
        height = _height_unfolding(ops, x_by_width, v, f, c)
    u = clock("hooi", u)

    g = ops.reshape(ops.matmul(_swap(ops, u), height), (n, r1 * r3, r2))  # rows (r1, r3)
    expanded = ops.reshape(ops.matmul(g, _swap(ops, v)), (n, r1, r3, w))
    if f is not None:
        expanded = ops.matmul(f[:, None], expanded)  # back to all c channels: (n, r1, c, w)
    expanded = ops.reshape(ops.transpose(expanded, (0, 1, 3, 2)), (n, r1, w * c))  # the image's (w, c) order
    if ops.name == "numpy":
        np.matmul(u, expanded, out=out.reshape(n, h, w * c))
    else:
        out[...] = ops.to_numpy(ops.reshape(ops.matmul(u, expanded), (n, h, w, c)))
    clock("reconstruct", out)


class _StepClock:
    """Adds the seconds since the previous call to ``steps[name]`` (after waiting for the backend); free when None."""

    def __init__(self, ops, steps: dict | None):
        self.ops, self.steps = ops, steps
        self.last = time.perf_counter()

    def __call__(self, name: str, result):
        if self.steps is not None:
            self.ops.to_numpy(result)  # a GPU runs asynchronously: wait for the step's result
            now = time.perf_counter()
            self.steps[name] = self.steps.get(name, 0.0) + now - self.last
            self.last = now
        return result


def _width_unfolding(ops, x_by_height, u, f, c: int):
    """Width unfolding (N, W, k*r3) of ``x x1 uᵀ x3 fᵀ``, from x as (N, H, C*W) and u (N, H, k): a transposed view."""
    n, k = u.shape[0], u.shape[2]
    t = ops.reshape(ops.matmul(_swap(ops, u), x_by_height), (n, k, c, -1))  # (n, k, c, w)
    if f is not None:
        t = ops.matmul(_swap(ops, f)[:, None], t)  # (n, k, r3, w)
    return _swap(ops, ops.reshape(t, (n, -1, t.shape[3])))


def _height_unfolding(ops, x_by_width, v, f, c: int):
    """Height unfolding (N, H, r3*k) of ``x x2 vᵀ x3 fᵀ``, from x as (N, H*C, W) and v (N, W, k); columns (r3, k)."""
    n, k = v.shape[0], v.shape[2]
    t = ops.reshape(ops.matmul(x_by_width, v), (n, -1, c, k))  # (n, h, c, k)
    if f is not None:
        t = ops.matmul(_swap(ops, f)[:, None], t)  # (n, h, r3, k)
    return ops.reshape(t, (n, t.shape[1], -1))


def _leading(ops, unfolding, r: int):
    """The r leading left singular vectors (N, m, r) of each small unfolding (N, m, q): top eigenvectors of its Gram."""
    _, vectors = ops.eigh(ops.matmul(unfolding, _swap(ops, unfolding)))
    return vectors[:, :, ::-1][:, :, :r]


def _core_hosvd(ops, core, rank):
    """Factors (a, b, f) of the HOSVD of a small core laid out (N, kv, ku, C).

    f is None when the channel rank keeps every channel (the study's rank [30, 30, 3]); b is
    taken with a and f applied, as the first half of a HOOI sweep would.
    """
    n, kv, ku, c = core.shape
    r1, r2, r3 = rank
    f = None
    if r3 < c:
        f = _leading(ops, ops.reshape(ops.transpose(core, (0, 3, 1, 2)), (n, c, kv * ku)), r3)
    a = _leading(ops, ops.reshape(ops.transpose(core, (0, 2, 1, 3)), (n, ku, kv * c)), r1)
    t = ops.reshape(ops.transpose(core, (0, 1, 3, 2)), (n, kv * c, ku))
    t = ops.transpose(ops.reshape(ops.matmul(t, a), (n, kv, c, r1)), (0, 1, 3, 2))  # (n, kv, r1, c)
    b = _leading(ops, ops.reshape(_channels(ops, t, f), (n, kv, -1)), r2)
    return a, b, f


def _channels(ops, t, f):
    """Contract the last axis of t (N, p, q, C) with f (N, C, r3); f None leaves it as is."""
    if f is None:
        return t
    n, p, q, c = t.shape
    return ops.reshape(ops.matmul(ops.reshape(t, (n, p * q, c)), f), (n, p, q, f.shape[2]))


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
        """Leading left singular vectors of each (N, m, k) unfolding, padded with seeded random columns if m < rank."""
        _, vectors = np.linalg.eigh(unfolding @ _swap(np, unfolding))
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
        return _swap(np, m) @ m

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
