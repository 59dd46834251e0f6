"""The bench helpers (bench/_common.py): banner, alternating rounds, data folders."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import _common

from tdfake.images import list_images


def test_banner_names_cpu_blas_threads_core_type_and_env(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    lines = _common.machine_banner()
    assert lines[0].startswith("cpu: ") and "cores" in lines[0]
    blas = [line for line in lines if line.startswith("blas: ")]
    assert blas and all(" threads, core type " in line for line in blas)  # NumPy's BLAS at least
    omp = os.environ.get("OMP_NUM_THREADS", "(unset)")
    assert lines[-1] == f"env: OPENBLAS_CORETYPE=Haswell, OPENBLAS_L2_SIZE=(unset), OMP_NUM_THREADS={omp}"


def test_alternate_rounds_interleaves_sides_and_keeps_each_best(capsys):
    calls = []
    rates = {"ref": iter([1.0, 3.0, 2.0]), "ours": iter([5.0, 4.0, 6.0])}

    def side(name):
        def measure():
            calls.append(name)
            return next(rates[name])

        return measure

    best = _common.alternate_rounds({"ref": side("ref"), "ours": side("ours")}, rounds=3)
    assert calls == ["ref", "ours"] * 3
    assert best == {"ref": 3.0, "ours": 6.0}
    _common.print_ratio(best, ours="ours", reference="ref")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("round 1: ref") and len([line for line in out if line.startswith("round ")]) == 3
    assert out[-1] == "ratio: 2.00"


def test_image_folder_makes_demo_data_and_removes_it():
    with _common.image_folder(None, n_per_class=2, size=128) as folder:
        paths = list_images(folder)
        assert len(paths) >= 4 and folder.is_dir()
        chosen = _common.pick_evenly(paths, 3)
        assert len(chosen) == 3 and chosen == _common.pick_evenly(paths, 3)
    assert not folder.exists()


def test_image_folder_uses_given_data_and_rejects_a_missing_one(tmp_path):
    with _common.image_folder(tmp_path, n_per_class=2, size=128) as folder:
        assert folder == tmp_path
    with pytest.raises(SystemExit, match="not a folder"), _common.image_folder(tmp_path / "missing", 2, 128):
        pass


def test_step_flops_count_the_study_rank():
    """The FLOP table's passes: each product with the full 256 x 256 x 3 image costs 2 x 196,608 x columns."""
    import bench_tucker

    flops = bench_tucker.step_flops(256, 256, 3, (30, 30, 3))
    pixels = 256 * 256 * 3
    assert flops["convert"] == 0
    assert 2 * pixels * 30 < flops["reconstruct"] < 1.3 * 2 * pixels * 30
    assert all(value >= 0 for value in flops.values())


@pytest.mark.slow
def test_device_check_without_a_gpu_says_so_and_exits_0():
    """bench/device_check.sh on a machine without a GPU: one line says so, the CPU rows print, exit status 0."""
    pytest.importorskip("tensorflow")
    import subprocess

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "DEVICE_CHECK_N": "4"}
    done = subprocess.run(["bash", str(root / "bench" / "device_check.sh")], capture_output=True, text=True,
                          env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "device check: no GPU visible" in done.stdout
    for row in ("Tucker tensorly (CPU)", "Tucker fast (CPU, NumPy)", "Xception train float32 (CPU)"):
        assert row in done.stdout


@pytest.mark.slow
def test_bench_video_runs_every_part_on_a_small_demo_video():
    """bench/bench_video.py end to end on an 8-frame 320x240 demo video: faces against decoding with a ratio,
    predict of a TK arm both ways, and every stage (the figures themselves are machine-dependent: not checked)."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "bench" / "bench_video.py"), "--frames", "8", "--width", "320",
                           "--height", "240", "--rounds", "1", "--sizes", "320"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for line in ("ratio: ", "predict --every 1", "predict --frames 32", "faces found in 8 of 8 frames",
                 "detect, MTCNN at full resolution", "Tucker tensorly (paper)", "network 256 px (paper)"):
        assert line in done.stdout, line
