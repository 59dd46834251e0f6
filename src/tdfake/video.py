"""Videos through trained arms: sampled frames → the kept face → the arm's input image → scores per frame and video.

Why: a user holds videos, not face crops, and a detector trained on crops must see crops made
the way its training crops were.  So a video is sampled (``frames`` evenly spaced frames, 32 by
default as DeepfakeBench, ``np.linspace(0, n - 1, frames)`` floored; or every ``every``-th frame),
the sampled frames are read with :mod:`tdfake.video_io` (as ``tdfake faces`` reads them), each
goes through :class:`tdfake.faces.FaceDetector` (MTCNN on a 320 px copy, in batches of frames)
and the crop rule of ``tdfake faces`` (:func:`tdfake.faces.square_crop`, margin 1.3, 256 px,
kept in memory), and each crop is scored by :func:`tdfake.crop_scoring.score_crops`: through the
bytes of a JPEG file as ``tdfake faces`` writes its crops, made into the arm's input image (its kind
with its parameters) as image creation makes it, and through the input pipeline's resize and scale, so
its score is the one its files would get, without writing them.  The kept face is that of ``tdfake faces``:
the most confident detection at or above 0.9, the largest among equally confident ones.

Tables: :func:`frames_table` (``frames.csv``: video, frame index, time in seconds, face box, one
score column per arm; a sampled frame without a face keeps its row with an empty box and empty
scores) and :func:`videos_table` (``videos.csv``: frames sampled, frames with a face, and per arm
the mean and max score over the frames with a face, the share of those frames at or above the
arm's threshold, and the prediction of the mean score at that threshold; plus ``error``).  A
video that cannot be used (empty, unreadable, no frame decodes, no face in any sampled frame)
keeps its row with the reason in ``error``; a truncated one is scored on the sampled frames that
decode and says so there.

:func:`plot_scores` draws a video's score over time (one line per arm, each arm's threshold
dashed); :func:`evaluate_videos` scores a labelled folder of videos (``tdfake evaluate --data``)
and reports video-level and frame-level results with grouped intervals.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm import tqdm

from tdfake import layout
from tdfake.arms import colour as arm_colour
from tdfake.constants import LABEL_NAMES
from tdfake.crop_scoring import score_crops
from tdfake.datasets import build_manifest
from tdfake.evaluate import (
    load_or_make_report,
    load_run_model,
    predict_paths,
    report_markdown,
    report_on_rows,
    write_evaluation,
)
from tdfake.faces import CROP_MARGIN, CROP_SIZE, DETECT_BATCH, FaceDetector, square_crop
from tdfake.images import list_images
from tdfake.layout import Run, load_run
from tdfake.metrics import Report
from tdfake.video_io import (
    DEFAULT_FRAMES,
    NO_FRAMES,
    VideoError,
    VideoFrames,
    batched,
    is_video,
    list_videos,
    prefetched,
    probe,
    sample_indices,
)

SCORE_BATCH = 256
"""Crops scored together (across videos), in the scoring thread while the next frames are searched."""
CROP_SUFFIX = ".jpg"  # as `tdfake faces` writes its crops, so the arm sees the same JPEG round trip
NO_FACE = "no face found in any sampled frame"


def holds_videos(path: os.PathLike | str) -> bool:
    """Whether ``path`` is a folder with at least one video under it (``tdfake evaluate --data`` then scores videos)."""
    return Path(path).is_dir() and bool(list_videos(path))


def split_paths(paths: Iterable[os.PathLike | str]) -> tuple[list[Path], list[Path]]:
    """(image files, video files) from files and folders (searched recursively), every path checked first.

    A path that does not exist, or a folder with neither images nor videos, raises
    ``FileNotFoundError`` before any work.  A file given by name is a video when :func:`is_video`
    says so and an image otherwise (an unreadable one then gets its error row).
    """
    given = [Path(p) for p in paths]
    missing = [str(p) for p in given if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)}: no such file or folder")
    images: list[Path] = []
    videos: list[Path] = []
    for path in given:
        if path.is_dir():
            found_videos, found_images = list_videos(path), list_images(path)
            if not found_videos and not found_images:
                raise FileNotFoundError(f"{path}: folder holds no image or video files")
            videos += found_videos
            images += found_images
        elif is_video(path):
            videos.append(path)
        else:
            images.append(path)
    return images, videos


@dataclass
class VideoScores:
    """One video's sampled frames, their face boxes, each arm's score per frame (NaN: no face) and any error."""

    path: Path
    fps: float = math.nan
    frames: list[int] = field(default_factory=list)
    boxes: list[tuple[int, int, int, int] | None] = field(default_factory=list)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    error: str = ""


def score_videos(runs: Sequence[Run], videos: Sequence[os.PathLike | str], frames: int | None = DEFAULT_FRAMES,
                 every: int | None = None, detector: FaceDetector | None = None,
                 progress: bool = True) -> list[VideoScores]:
    """Score every video with every run (see the module docstring); one progress bar over all sampled frames.

    The sampled frames are read (:class:`tdfake.video_io.VideoFrames`) a batch ahead of the face
    detector, in a thread, and searched for faces :data:`tdfake.faces.DETECT_BATCH` at a time;
    faces are found once per frame and shared by the arms; each run's model is loaded once, and
    crops are held in memory and scored :data:`SCORE_BATCH` at a time across videos
    (:func:`tdfake.crop_scoring.score_crops`), in a thread of their own while the next crops are
    found.  No more than two batches of frames are held at once, whatever
    ``every``.  A video that cannot be used gets its :class:`VideoScores` with the reason in
    ``error`` and never stops the rest.
    """
    detector = detector or FaceDetector()
    arms = layout.arms_of(runs)
    models = [load_run_model(run) for run in runs]
    results, counts, indices = [], [], []
    for path in map(Path, videos):
        count, fps, error = probe(path)
        results.append(VideoScores(path, fps=fps, error=error))
        counts.append(count)
        indices.append(sample_indices(count, frames, every) if not error else [])
    scores: dict[str, dict[tuple[int, int], float]] = {arm: {} for arm in arms}  # arm -> (video, frame) -> score
    pending: list[tuple[int, int]] = []  # (video, frame) of the crops waiting to be scored
    pending_crops: list[np.ndarray] = []
    scoring: list[Future] = []  # the batch being scored while the next one is detected
    with tqdm(total=sum(map(len, indices)), desc="frames", unit="frame", disable=None if progress else True) as bar, \
            ThreadPoolExecutor(1, thread_name_prefix="tdfake-score") as scorer:

        def score(keys: list[tuple[int, int]], crops: list[np.ndarray]) -> None:
            for run, model, arm in zip(runs, models, arms):
                scores[arm].update(zip(keys, score_crops(model, crops, run, CROP_SUFFIX).tolist()))

        def flush() -> None:
            """Score the pending crops in the scoring thread, once the batch before them is done."""
            while scoring:
                scoring.pop().result()
            if pending:
                scoring.append(scorer.submit(score, list(pending), list(pending_crops)))
                pending.clear()
                pending_crops.clear()

        for k, batch in prefetched(_frame_batches(results, counts, indices)):
            result = results[k]
            boxes = detector.best_boxes([image for _, image in batch])
            for (number, image), box in zip(batch, boxes):
                result.frames.append(number)
                result.boxes.append(box)
                if box is not None:
                    pending.append((k, number))
                    pending_crops.append(square_crop(image, box, CROP_MARGIN, CROP_SIZE))
            bar.update(len(batch))
            if len(pending) >= SCORE_BATCH:
                flush()
        flush()
        flush()  # waits for the last batch
        bar.update(bar.total - bar.n)  # the sampled frames that truncated and unreadable videos did not give
    for k, result in enumerate(results):
        if result.frames and all(box is None for box in result.boxes):
            result.error = "; ".join(filter(None, [result.error, NO_FACE]))
        for arm in arms:
            result.scores[arm] = np.array([scores[arm].get((k, n), np.nan) for n in result.frames])
    return results


def _frame_batches(results: Sequence[VideoScores], counts: Sequence[int], indices: Sequence[list[int]]):
    """(video number, batch of (frame number, RGB frame)) over every video's sampled frames, in order; a video
    that gives none of them, or ends before its last, gets the reason in its ``error``."""
    for k, (result, count, wanted) in enumerate(zip(results, counts, indices)):
        if result.error or not wanted:
            continue
        reader = VideoFrames(result.path, set(wanted).__contains__, last=wanted[-1])
        given = 0
        try:
            for batch in batched(reader, DETECT_BATCH):
                given += len(batch)
                yield k, batch
        except VideoError as err:
            result.error = str(err)
            continue
        if not given:
            result.error = NO_FRAMES
        elif reader.grabbed <= wanted[-1]:
            result.error = (f"truncated: frames from {reader.grabbed} on do not decode (the container says "
                            f"{count}); scored the {given} sampled frames before that")


def frames_table(results: Sequence[VideoScores], arms: Sequence[str]) -> pd.DataFrame:
    """``frames.csv``: one row per decoded sampled frame (video, frame, time, x, y, w, h, ``<arm>_score``)."""
    rows = []
    for result in results:
        for i, (number, box) in enumerate(zip(result.frames, result.boxes)):
            row = {"video": str(result.path), "frame": number, "time": number / result.fps}
            row.update(zip("xywh", box if box is not None else (None,) * 4))
            row.update({f"{arm}_score": result.scores[arm][i] for arm in arms})
            rows.append(row)
    columns = ["video", "frame", "time", "x", "y", "w", "h", *(f"{arm}_score" for arm in arms)]
    table = pd.DataFrame(rows, columns=columns)
    return table.astype({c: "Int64" for c in ("frame", "x", "y", "w", "h")})


def videos_table(results: Sequence[VideoScores], thresholds: dict[str, float]) -> pd.DataFrame:
    """``videos.csv``: one row per video (frames sampled, frames with a face, per arm mean, max, share at or
    above the threshold, prediction of the mean, threshold; error).  Empty cells where no frame has a face."""
    rows = []
    for result in results:
        row = {"video": str(result.path), "frames_sampled": len(result.frames),
               "frames_with_face": sum(box is not None for box in result.boxes)}
        for arm, threshold in thresholds.items():
            scores = result.scores.get(arm, np.zeros(0))
            scores = scores[~np.isnan(scores)]
            mean = float(scores.mean()) if scores.size else math.nan
            row[f"{arm}_mean"] = mean
            row[f"{arm}_max"] = float(scores.max()) if scores.size else math.nan
            row[f"{arm}_share"] = float((scores >= threshold).mean()) if scores.size else math.nan
            row[f"{arm}_prediction"] = "" if math.isnan(mean) else LABEL_NAMES[int(mean >= threshold)]
            row[f"{arm}_threshold"] = threshold
        row["error"] = result.error
        rows.append(row)
    return pd.DataFrame(rows)


def short_table(videos: pd.DataFrame, arms: Sequence[str]) -> str:
    """The printed summary of ``videos.csv``: video, frames, faces, each arm's mean score and prediction, error."""
    table = pd.DataFrame({"video": videos["video"].map(lambda v: Path(v).name), "frames": videos["frames_sampled"],
                          "faces": videos["frames_with_face"]})
    for arm in arms:
        table[arm] = [f"{m:.3f} {p}" if p else "-" for m, p in zip(videos[f"{arm}_mean"], videos[f"{arm}_prediction"])]
    table["error"] = videos["error"]
    return table.to_string(index=False)


def plot_scores(frames: pd.DataFrame, thresholds: dict[str, float], path: os.PathLike | str | None = None,
                title: str | None = None) -> Figure:
    """One video's score over time (``frames.csv`` rows of that video): a line per arm, its threshold dashed.

    Time in seconds (frame index when the video has no frame rate); frames without a face leave a
    gap in the lines and a grey tick at the bottom.
    """
    figure = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax = figure.add_subplot()
    timed = bool(len(frames)) and bool(frames["time"].notna().all())
    x = frames["time"] if timed else frames["frame"].astype(float)
    for i, (arm, threshold) in enumerate(thresholds.items()):
        colour = arm_colour(arm, i)
        score = frames[f"{arm}_score"]
        ax.plot(x, score, "o-", color=colour, ms=3, lw=1.5, label=f"{arm} (mean {score.mean():.3f})")
        ax.axhline(threshold, color=colour, ls="--", lw=1, alpha=0.8)
    no_face = frames["x"].isna()
    if no_face.any():
        ax.plot(x[no_face], np.zeros(int(no_face.sum())), "|", color="grey", ms=10, label="no face")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("time (s)" if timed else "frame")
    ax.set_ylabel("P(fake)")
    ax.set_title(title or (Path(frames["video"].iloc[0]).name if len(frames) else "no frames"), fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110)
    return figure


def figure_names(videos: Sequence[str]) -> dict[str, str]:
    """A PNG name per video: its path below the videos' common folder, ``/`` as ``__`` (``real__000.png``)."""
    if not videos:
        return {}
    parents = [str(Path(v).resolve().parent) for v in videos]
    common = Path(os.path.commonpath(parents))
    return {v: Path(v).resolve().relative_to(common).with_suffix(".png").as_posix().replace("/", "__")
            for v in videos}


def annotate(frames: pd.DataFrame, videos: pd.DataFrame, thresholds: dict[str, float],
             out_dir: os.PathLike | str) -> list[Path]:
    """:func:`plot_scores` of every video with at least one decoded frame, as ``out_dir/<name>.png``."""
    out_dir = Path(out_dir)
    names = figure_names(videos["video"].tolist())
    written = []
    for video, rows in frames.groupby("video", sort=False):
        path = out_dir / names[video]
        plot_scores(rows, thresholds, path)
        written.append(path)
    return written


def thresholds_of(runs: Sequence[Run], threshold: float | None = None) -> dict[str, float]:
    """Each arm's decision threshold: ``threshold`` for all when given, else the one each run chose on validation."""
    return {run.arm: float(threshold) if threshold is not None else run.threshold for run in runs}


@dataclass
class Prediction:
    """What ``tdfake predict`` made of its paths: per-frame and per-video tables, the images' table, figures."""

    frames: pd.DataFrame
    videos: pd.DataFrame
    images: pd.DataFrame | None
    thresholds: dict[str, float]
    figures: list[Path] = field(default_factory=list)


def predict_images(run_dirs: Sequence[os.PathLike | str], images: Sequence[Path],
                   threshold: float | None = None) -> pd.DataFrame:
    """The images' table: :func:`tdfake.evaluate.predict_paths`'s (path, score, prediction, error) for one run;
    for several, ``<arm>_score`` and ``<arm>_prediction`` per arm beside path, then error."""
    tables = {load_run(d).arm: predict_paths(d, images, threshold) for d in run_dirs}
    if len(tables) == 1:
        return next(iter(tables.values()))
    first = next(iter(tables.values()))
    wide = first[["path"]].copy()
    for arm, table in tables.items():
        wide[f"{arm}_score"] = table["score"]
        wide[f"{arm}_prediction"] = table["prediction"]
    wide["error"] = first["error"]
    return wide


def predict(run_dirs: Sequence[os.PathLike | str], images: Sequence[Path], videos: Sequence[Path],
            out_dir: os.PathLike | str, frames: int | None = DEFAULT_FRAMES, every: int | None = None,
            threshold: float | None = None, annotate_dir: os.PathLike | str | None = None,
            detector: FaceDetector | None = None, progress: bool = True) -> Prediction:
    """Score videos (and the images of a mixed call) with each run; write ``frames.csv``, ``videos.csv`` and,
    when images were given too, ``images.csv`` (:func:`predict_images`) into ``out_dir``; figures into
    ``annotate_dir`` (:func:`annotate`)."""
    runs = [load_run(d) for d in run_dirs]
    thresholds = thresholds_of(runs, threshold)
    results = score_videos(runs, videos, frames, every, detector, progress)
    prediction = Prediction(frames_table(results, list(thresholds)), videos_table(results, thresholds),
                            predict_images(run_dirs, images, threshold) if images else None, thresholds)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prediction.frames.to_csv(out_dir / layout.FRAMES_CSV, index=False)
    prediction.videos.to_csv(out_dir / layout.VIDEOS_CSV, index=False)
    if prediction.images is not None:
        prediction.images.to_csv(out_dir / layout.IMAGES_CSV, index=False)
    if annotate_dir is not None:
        prediction.figures = annotate(prediction.frames, prediction.videos, thresholds, annotate_dir)
    return prediction


# ------------------------------------------------------------------------------- labelled videos

@dataclass
class VideoEvaluation:
    """One run's reports on a labelled video folder: video level (mean frame score per video) and frame level."""

    run: Run
    out: Path
    videos: Report
    frames: Report


def evaluate_videos(run_dirs: Sequence[os.PathLike | str], data: os.PathLike | str,
                    out_dir: os.PathLike | str | None = None, n_bootstrap: int = 1000,
                    frames: int | None = DEFAULT_FRAMES, every: int | None = None,
                    detector: FaceDetector | None = None, progress: bool = True, data_layout: str = "auto",
                    compression: str | None = None, methods: Sequence[str] | None = None,
                    test_list: bool | str | Path = True) -> list[VideoEvaluation]:
    """Score a labelled folder of videos with each run and report at the run's validation threshold.

    ``data``: ``real/`` and ``fake/`` subfolders of videos, any layout ``tdfake manifest``
    reads with videos in place of frames, or a FaceForensics++ / Celeb-DF download as it is
    (``data_layout``, ``compression``, ``methods``: see :func:`tdfake.datasets.build_manifest`),
    so a fake video and the real one it was made from share a group when the layout says so.
    ``test_list``: only the videos of the official test list the folder holds (True, the
    default; every video when it holds none), of that file, or (False) every video.  Each video's score is the
    mean of its frames' scores (:func:`videos_table`); the threshold is the one the run chose on
    its validation frames (the run is evaluated first when it has no report), applied to the
    video means and, beside them, to the frames.  Intervals resample whole groups.  Writes into
    ``out_dir`` (one run) or ``out_dir/<arm>`` (several; default ``RUN/eval-<data name>``):
    ``videos.csv``, ``frames.csv`` (with label, method, video id and group), ``predictions.csv``
    (validation frames + test videos), ``report.json`` (video level), ``frame_report.json``,
    ``report.md`` (both) and ``skipped.csv`` (videos that could not be scored, with the reason).
    """
    data = Path(data)
    rows = build_manifest(data, layout=data_layout, list_videos=list_videos, compression=compression, methods=methods,
                          test_list=test_list)
    rows["file"] = [str(Path(root) / path) for root, path in zip(rows["root"], rows["path"])]
    runs = [load_run(d) for d in run_dirs]
    for run in runs:
        load_or_make_report(run.run_dir)  # its validation scores, on which the threshold is chosen
    results = score_videos(runs, rows["file"].tolist(), frames, every, detector, progress)
    arms = [run.arm for run in runs]
    frame_rows = frames_table(results, arms)
    video_rows = videos_table(results, thresholds_of(runs))
    meta = rows[["file", "path", "label", "method", "video", "group"]].rename(
        columns={"file": "source", "video": "video_id"})
    frame_rows = frame_rows.merge(meta, left_on="video", right_on="source", how="left").drop(columns="source")
    video_rows = video_rows.merge(meta, left_on="video", right_on="source", how="left").drop(columns="source")
    evaluations = []
    for run in runs:
        out = _eval_dir(run, data, out_dir, several=len(runs) > 1)
        val = layout.validation_scores(run.run_dir)
        scored = _as_test_rows(video_rows, f"{run.arm}_mean")
        scored_frames = _as_test_rows(frame_rows, f"{run.arm}_score")
        unused = video_rows[video_rows[f"{run.arm}_mean"].isna()]
        video_report = report_on_rows(run, scored, val, n_bootstrap)
        frame_report = report_on_rows(run, scored_frames, val, n_bootstrap)
        write_evaluation(out, video_report, evaluation_markdown(video_report, frame_report, run, data), scored, val,
                         unused[["path", "error"]].rename(columns={"error": "reason"}), "videos")
        video_rows.to_csv(out / layout.VIDEOS_CSV, index=False)
        frame_rows.to_csv(out / layout.FRAMES_CSV, index=False)
        frame_report.to_json(out / layout.FRAME_REPORT_JSON)
        evaluations.append(VideoEvaluation(run, out, video_report, frame_report))
    return evaluations


def _as_test_rows(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows of ``table`` with a score in ``column``, as :func:`tdfake.evaluate.report_on_rows` reads test rows."""
    scored = table[table[column].notna()]
    return scored.assign(score=scored[column], video=scored["video_id"], split="test")


def _eval_dir(run: Run, data: Path, out_dir: os.PathLike | str | None, several: bool) -> Path:
    if out_dir is None:
        return layout.eval_dir(run.run_dir, data)
    return Path(out_dir) / run.arm if several else Path(out_dir)


def evaluation_markdown(video_report: Report, frame_report: Report, run: Run, data: os.PathLike | str) -> str:
    """``report.md`` of a video folder: the video-level report (with the study's table beside it), then the
    frame-level one, both at the threshold the run chose on its validation frames."""
    text = report_markdown(video_report, run, data)
    return (text + "\nVideo level: each video's score is the mean of its sampled frames' scores.\n\n"
            "## Frame level (every scored frame)\n\n" + frame_report.to_markdown() + "\n")
