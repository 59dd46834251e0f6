"""The built-in demo dataset: face "videos" and self-blended fakes, made offline in seconds.

Why: the study's FaceForensics++ crops cannot ship with the project, but every entry point
(notebooks, ``tdfake run``, CI) needs data with the same layout and the same traps (many frames
per video, fakes that link two videos).  This module makes such a dataset from photos that
installed packages ship: scikit-image's ``astronaut`` (Eileen Collins), matplotlib's
``grace_hopper.jpg`` and the 100 face crops of scikit-image's ``lfw_subset`` (25 px, grey; they
are upscaled and tinted to a skin tone).

Real "videos": each video is one source face seen through a smooth random trajectory of crop
centre, crop scale, brightness and contrast (sines with random phase), with a per-video colour
grade and sensor noise (sigma 3.5-4.5 grey levels); its frames are ``REAL/{vid}_frame{N}.jpg``.

Fake "videos" mimic face-swap blending with self-blended images (Shiohara & Yamasaki, "Detecting
Deepfakes with Self-Blended Images", CVPR 2022): a copy of the target frame is colour-shifted
towards the *source* video's colour grade (plus a random shift), blurred or sharpened, rescaled
and shifted by a few pixels, and pasted back through a soft, randomly rotated elliptical mask
over the face.  That leaves the artefacts real face swaps leave: a blending boundary, a colour
mismatch between face and surroundings, a sharpness change inside the face.  ``strength``
scales all three (1.0, the default, is clearly learnable by a small CNN trained from scratch;
0.5 is subtle).  Fakes are ``FAKE/SelfBlended/{target}_{source}_frame{N}.jpg`` with the
FaceForensics++ meaning.  By default (``paired=True``) videos are paired (000 with 001, 002 with
003, ...) as in FaceForensics++, so a fake links two real videos and the grouped split has real
work to do.  With ``paired=False`` each fake takes its colour grade from a *donor* video that has
no real frames in the set (named after the last real video onwards), so a group is one real video
and the fake made from it: twice as many independent groups for the same number of images, which
is what honest video-level intervals need from a small test split.

The folder gets ``demo.json`` (the parameters and the file count) once complete; a later call
with the same parameters returns at once.  Output is byte-identical for the same parameters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import matplotlib.image as mpimg
import numpy as np
import skimage.data
from matplotlib import cbook

from tdfake.images import write_atomic, write_rgb

METHOD = "SelfBlended"
MARKER = "demo.json"
FRAME_STEP = 10  # frame numbers 0, 10, 20, ... as if every 10th frame of a video were kept


@dataclass(frozen=True)
class Face:
    """A source photo and where its face is: centre (x, y) and size, in source pixels."""

    image: np.ndarray  # float32 RGB 0..255
    cx: float
    cy: float
    size: float
    margin: float  # crop side = margin * face size (smaller for the tight LFW crops)


def _lfw_tint(index: int) -> np.ndarray:
    """A skin tone for grey LFW face ``index`` (fixed, so identities keep their look)."""
    tones = np.array([[1.00, 0.80, 0.66], [0.95, 0.74, 0.58], [0.82, 0.60, 0.45], [1.00, 0.86, 0.76],
                      [0.70, 0.50, 0.38]])
    return tones[index % len(tones)]


def source_faces() -> list[Face]:
    """The face photos the demo data is made from (astronaut, Grace Hopper, 100 LFW faces).

    Face boxes of the two photos were found once with scikit-image's LBP frontal-face cascade.
    """
    astronaut = skimage.data.astronaut().astype(np.float32)
    hopper = np.asarray(mpimg.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))[..., :3]
    faces = [
        Face(astronaut, cx=222.0, cy=118.0, size=96.0, margin=1.9),
        Face(hopper.astype(np.float32), cx=266.0, cy=228.0, size=201.0, margin=1.7),
    ]
    lfw = skimage.data.lfw_subset()[:100]  # the first 100 are faces, the rest are not
    for i, grey in enumerate(lfw):
        rgb = (grey[..., None] ** 0.9) * _lfw_tint(i) * 255.0
        faces.append(Face(rgb.astype(np.float32), cx=12.5, cy=13.0, size=13.0, margin=1.6))
    return faces


def _crop(face: Face, cx: float, cy: float, side: float, size: int, flip: bool) -> np.ndarray:
    """Square crop of ``side`` source pixels centred at (cx, cy), resampled to size x size."""
    k = side / size
    x0, y0 = cx - side / 2.0, cy - side / 2.0
    matrix = np.array([[k, 0.0, x0], [0.0, k, y0]], dtype=np.float64)
    if flip:  # mirror the output: u -> size - 1 - u
        matrix = np.array([[-k, 0.0, x0 + k * (size - 1)], [0.0, k, y0]], dtype=np.float64)
    interp = cv2.INTER_CUBIC if k < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(face.image, matrix, (size, size), flags=interp | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


@dataclass(frozen=True)
class Video:
    """One real demo video: a face and the random parameters of its trajectory and look."""

    index: int
    face: Face
    flip: bool
    grade: np.ndarray  # per-channel colour gains of the video
    noise: float  # sensor noise sigma (grey levels)
    phases: np.ndarray  # sine phases of x, y, scale, brightness, contrast
    speeds: np.ndarray  # angular speeds per frame

    @property
    def name(self) -> str:
        return f"{self.index:03d}"


def make_video(index: int, faces: list[Face], seed: int) -> Video:
    """The parameters of video ``index`` (deterministic in ``seed`` and ``index`` alone)."""
    rng = np.random.default_rng([seed, index])
    return Video(
        index=index,
        face=faces[index % len(faces)],
        flip=bool((index // len(faces)) % 2),
        grade=rng.uniform(0.85, 1.15, 3).astype(np.float32),
        noise=float(rng.uniform(3.5, 4.5)),
        phases=rng.uniform(0, 2 * np.pi, 5),
        speeds=rng.uniform(0.15, 0.5, 5),
    )


def real_frame(video: Video, frame: int, size: int) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Frame ``frame`` of a real video as float32 RGB, and the face's (x, y, size) in the frame."""
    f = video.face
    wave = np.sin(video.phases + video.speeds * (frame / FRAME_STEP))
    scale = 1.0 + 0.12 * wave[2]
    side = f.size * f.margin * scale
    cx = f.cx + 0.06 * side * wave[0]
    cy = f.cy + 0.06 * side * wave[1]
    image = _crop(f, cx, cy, side, size, video.flip)
    contrast = 1.0 + 0.1 * wave[4]
    brightness = 12.0 * wave[3]
    image = (image - 128.0) * contrast + 128.0 + brightness
    image = image * video.grade
    rng = np.random.default_rng([video.index, frame, 7])
    image = image + rng.normal(0.0, video.noise, image.shape).astype(np.float32)
    k = side / size
    fx = (f.cx - (cx - side / 2.0)) / k
    if video.flip:
        fx = size - 1 - fx
    fy = (f.cy - (cy - side / 2.0)) / k
    return np.clip(image, 0, 255).astype(np.float32), (fx, fy, f.size / k)


def self_blend(image: np.ndarray, face_box: tuple[float, float, float], colour_gain: np.ndarray,
               rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Self-blended fake of ``image`` (float32 RGB): a jittered copy of the face pasted back.

    The copy is multiplied by ``colour_gain`` (the source video's colour grade over the
    target's) and shifted by a random colour of norm 20-40 x strength grey levels; blurred
    (sigma 1.5-3 x strength px at 256 px, which also wipes out the frame's sensor noise);
    rescaled by up to +-5 % and shifted by up to 3 % of the face size; then blended through a
    rotated ellipse covering the face, feathered by 1.5-4 % of the face size (divided by
    strength), at opacity 0.7-1 (times strength when strength < 1, floored at half).
    """
    height, width = image.shape[:2]
    fx, fy, fsize = face_box
    px = width / 256.0
    # colour: towards the source video's grade, plus a random shift of guaranteed size
    shift = rng.normal(0.0, 1.0, 3)
    shift = shift / max(float(np.linalg.norm(shift)), 1e-6) * rng.uniform(20.0, 40.0) * strength
    copy = image * colour_gain.astype(np.float32) + shift.astype(np.float32)
    # sharpness: blur, which also wipes out the frame's sensor noise inside the face
    sigma = max(rng.uniform(1.5, 3.0) * strength * px, 0.3)
    blurred = cv2.GaussianBlur(copy, (0, 0), sigma)
    copy = blurred
    # geometry: scale about the face centre and shift a little
    scale = 1.0 + rng.uniform(-0.05, 0.05) * strength
    dx, dy = rng.uniform(-0.03, 0.03, 2) * fsize * strength
    matrix = np.array([[scale, 0.0, (1 - scale) * fx + dx], [0.0, scale, (1 - scale) * fy + dy]])
    copy = cv2.warpAffine(copy, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    # mask: rotated ellipse over the face, feathered edge, partial opacity
    mask: np.ndarray = np.zeros((height, width), np.float32)
    axes = (int(round(fsize * rng.uniform(0.40, 0.52))), int(round(fsize * rng.uniform(0.50, 0.64))))
    cv2.ellipse(mask, (int(round(fx)), int(round(fy + 0.05 * fsize))), axes, float(rng.uniform(-15, 15)),
                0, 360, 1.0, -1)
    feather = fsize * rng.uniform(0.015, 0.04) / max(strength, 0.25)
    mask = cv2.GaussianBlur(mask, (0, 0), max(feather, 0.5))
    opacity = min(1.0, rng.uniform(0.7, 1.0) * max(strength, 0.5))
    mask = (mask * opacity)[..., None]
    return mask * copy + (1.0 - mask) * image


def _plan(n_per_class: int, frames_per_video: int) -> list[tuple[int, list[int]]]:
    """(video index, frame numbers) for the real videos; the last video may be shorter."""
    plan, left, index = [], n_per_class, 0
    while left > 0:
        count = min(frames_per_video, left)
        plan.append((index, [FRAME_STEP * t for t in range(count)]))
        left -= count
        index += 1
    return plan


def partner(index: int, n_videos: int) -> int:
    """The source video of target ``index``: pairs (0, 1), (2, 3), ...; an odd last one joins its neighbour."""
    if index % 2 == 0:
        return index + 1 if index + 1 < n_videos else max(index - 1, 0)
    return index - 1


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def make_demo_data(out, n_per_class: int = 200, size: int = 256, seed: int = 0, frames_per_video: int = 5,
                   strength: float = 1.0, paired: bool = True, progress: bool = False) -> Path:
    """Write the demo dataset to ``out`` (``REAL/``, ``FAKE/SelfBlended/``) and return ``out``.

    ``n_per_class`` images per class, ``size`` x ``size`` px (>= 128), ``frames_per_video``
    frames per video, fakes at ``strength`` (see :func:`self_blend`), sources from paired real
    videos or from donors (``paired``, see the module docstring).  Idempotent: a folder
    completed with the same parameters returns at once; one made with other parameters is an
    error (pick another folder or delete it), so a run never mixes two datasets.
    """
    out = Path(out)
    if size < 128:
        raise ValueError(f"size={size}: demo images must be at least 128 px")
    if n_per_class < 2 or frames_per_video < 1:
        raise ValueError("n_per_class must be >= 2 and frames_per_video >= 1")
    params = {"n_per_class": n_per_class, "size": size, "seed": seed, "frames_per_video": frames_per_video,
              "strength": strength, "paired": paired, "method": METHOD, "format": "tdfake-demo-1"}
    marker = out / MARKER
    if marker.is_file():
        done = json.loads(marker.read_text())
        if done.get("params") == params:
            return out
        raise ValueError(f"{out} holds demo data made with {done.get('params')}, not {params}; "
                         "use another folder or delete this one")
    faces = source_faces()
    plan = _plan(n_per_class, frames_per_video)
    videos = [make_video(index, faces, seed) for index, _ in plan]
    jobs = [(video, frames) for video, (_, frames) in zip(videos, plan)]
    if progress:
        from tqdm.auto import tqdm

        jobs = tqdm(jobs, desc="demo videos", unit="video", disable=None)  # a bar on a terminal, none in a file
    for video, frames in jobs:
        source = (videos[partner(video.index, len(videos))] if paired
                  else make_video(len(videos) + video.index, faces, seed))
        gain = source.grade / video.grade
        for frame in frames:
            image, box = real_frame(video, frame, size)
            write_rgb(out / "REAL" / f"{video.name}_frame{frame}.jpg", _to_uint8(image))
            rng = np.random.default_rng([seed, video.index, frame, 1])
            fake = self_blend(image, box, gain, rng, strength)
            write_rgb(out / "FAKE" / METHOD / f"{video.name}_{source.name}_frame{frame}.jpg", _to_uint8(fake))
    meta = {"params": params, "files": 2 * n_per_class, "videos": len(videos),
            "sources": "skimage.data.astronaut, matplotlib grace_hopper.jpg, skimage.data.lfw_subset[:100]",
            "manipulation": "self-blended images (Shiohara & Yamasaki, CVPR 2022); see tdfake.demo"}
    write_atomic(marker, (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())
    return out
