"""`tdfake train` on two workers (``MultiWorkerMirroredStrategy``, ``TF_CONFIG``), as docs/cli.md runs two machines.

Two local processes on 127.0.0.1 (free ports) run the documented command, each with its own
``TF_CONFIG`` and ``--run-dir``, on the tiny demo data (``small_cnn`` at 32 px, 24 training crops,
global batch 8, 3 epochs).  Checked:

* The chief's weights equal those of one process training the same global batch on two replicas
  (``MirroredStrategy`` over two logical CPUs), to :data:`WEIGHT_TOLERANCE`.  The reference has two
  replicas because BatchNormalization normalises each replica's own batch: two workers at batch 8
  train like one machine with two GPUs at batch 8 (4 each), not like one device at batch 8; the
  test shows that difference too.
* Only the chief writes: worker 1's ``--run-dir`` never appears and its temporary folder is removed.
* A killed worker stops the chief with one clear error (a subprocess timeout guards against a
  hang), and the same command with ``--resume`` on both workers ends where an uninterrupted run ends.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_models import ROOT, TINY_STUDY

from tdfake import layout
from tdfake.cli import main
from tdfake.config import Config
from tdfake.model import load_model

SETTINGS = {**TINY_STUDY, "demo_n_per_class": 16, "image_size": 32, "epochs": 3, "step_size": 2, "dropout": 0.0}
"""The tiny demo study's settings, smaller still: 24 training crops (3 steps of 8), 4 validation crops.
No dropout: Keras does not save the random state that draws its masks, so a resumed run draws
others than an uninterrupted one, with one worker or several."""

WEIGHT_TOLERANCE = 1e-5
"""Largest absolute weight difference allowed between runs that do the same arithmetic.

Per replica, the two workers and the two-replica process run the same kernels on the same
batches and sum the same two gradients (a two-term sum does not depend on the order), so their
weights agree exactly on one machine.  1e-5 (~100 float32 steps at the weights' scale, below 1)
leaves room for a kernel that reduces in another order elsewhere; one device at batch 8 differs
by 0.07-0.11 (the BatchNorm statistics), far outside it."""

RUN_TIMEOUT = 300
"""Seconds a two-worker run may take before the test kills it: a hang fails the test, never CI."""

MIRRORED = """
import sys
from tdfake.cli import main
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
    sys.exit(main(sys.argv[1:]))
"""
"""`tdfake train` in one process on two replicas (two logical CPUs), the reference for the two workers."""


@pytest.fixture(scope="module")
def demo_split(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny demo data, its split and its OR images (the baseline arm's), made once: (split.csv, images root)."""
    from tdfake.study import prepare

    root = tmp_path_factory.mktemp("multiworker_data")
    cfg = Config.from_yaml(ROOT / "configs/demo.yaml").override(
        **SETTINGS, out_dir=str(root / "study"), demo_dir=str(root / "demo"), workers=1)
    prepared = prepare(cfg, arms=["baseline"])
    split_csv = root / "split.csv"
    prepared.split.to_csv(split_csv, index=False)
    return split_csv, prepared.images_root


def train_argv(demo_split: tuple[Path, Path], run_dir: Path, *extra: str) -> list[str]:
    """The documented `tdfake train` command for the baseline arm with :data:`SETTINGS`, into ``run_dir``."""
    split_csv, images = demo_split
    argv = ["train", "--config", str(ROOT / "configs/demo.yaml"), "--arm", "baseline", "--split", str(split_csv),
            "--images", str(images), "--run-dir", str(run_dir), *extra]
    for key, value in SETTINGS.items():
        argv += ["--set", f"{key}={value}"]
    return argv


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (bound together, then released for the workers)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Cluster:
    """Worker processes started by :func:`start_workers`; each one's output goes to ``logs[i]``.

    A context manager: leaving it kills the workers still running, whatever the test asserted.
    """

    processes: list[subprocess.Popen]
    logs: list[Path]

    def wait(self, timeout: float = RUN_TIMEOUT) -> list[int]:
        """Every worker's exit status; fails the test (the workers are killed) after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        try:
            return [process.wait(timeout=max(1.0, deadline - time.monotonic())) for process in self.processes]
        except subprocess.TimeoutExpired:
            pytest.fail(f"a worker still ran after {timeout} s; logs:\n{self.output()}")

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in self.logs)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def start_workers(argvs: list[list[str]], logs_dir: Path, worker_tmp: Path | None = None) -> Cluster:
    """`python -m tdfake.cli ARGV` as worker i of a cluster on 127.0.0.1 for each ``argvs[i]`` (worker 0: the chief).

    ``worker_tmp``: the temporary-files folder (TMPDIR) of the workers other than the chief.
    """
    hosts = [f"127.0.0.1:{port}" for port in free_ports(len(argvs))]
    processes, logs = [], []
    for index, argv in enumerate(argvs):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": {"worker": hosts},
                                                      "task": {"type": "worker", "index": index}})}
        if index and worker_tmp is not None:
            env["TMPDIR"] = str(worker_tmp)
        logs.append(logs_dir / f"worker{index}.log")
        with open(logs[-1], "a") as out:
            processes.append(subprocess.Popen([sys.executable, "-m", "tdfake.cli", *argv], env=env, cwd=ROOT,
                                              stdout=out, stderr=subprocess.STDOUT))
    return Cluster(processes, logs)


@dataclass
class TwoWorkerRun:
    chief: Path
    worker: Path
    worker_tmp: Path
    logs: list[Path]


@pytest.fixture(scope="module")
def two_workers(demo_split, tmp_path_factory) -> TwoWorkerRun:
    """One uninterrupted run of two workers, each with its own run folder (worker 1's must stay absent)."""
    root = tmp_path_factory.mktemp("two_workers")
    chief, worker, worker_tmp = root / "chief", root / "worker1", root / "worker1_tmp"
    worker_tmp.mkdir()
    with start_workers([train_argv(demo_split, chief), train_argv(demo_split, worker)], root, worker_tmp) as cluster:
        assert cluster.wait() == [0, 0], cluster.output()
    return TwoWorkerRun(chief, worker, worker_tmp, cluster.logs)


def weights(run_dir: Path) -> list[np.ndarray]:
    return load_model(run_dir / layout.LAST_CHECKPOINT, compile=False).get_weights()


def max_abs_difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    assert [w.shape for w in a] == [w.shape for w in b]
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


@pytest.mark.slow
def test_two_workers_train_as_one_process_on_two_replicas_with_the_same_global_batch(two_workers, demo_split,
                                                                                    tmp_path):
    mirrored, one_device = tmp_path / "mirrored", tmp_path / "one_device"
    done = subprocess.run([sys.executable, "-c", MIRRORED, *train_argv(demo_split, mirrored)], cwd=ROOT,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert main(train_argv(demo_split, one_device)) == 0

    chief = weights(two_workers.chief)
    assert max_abs_difference(chief, weights(mirrored)) <= WEIGHT_TOLERANCE
    history = pd.read_csv(two_workers.chief / layout.HISTORY_FILE)
    reference = pd.read_csv(mirrored / layout.HISTORY_FILE)
    assert list(history["epoch"]) == [0, 1, 2]
    pd.testing.assert_frame_equal(history, reference, rtol=1e-5)  # loss, metrics, validation, lr per epoch
    # One device normalises batches of 8, each replica above batches of 4: another computation.
    assert max_abs_difference(chief, weights(one_device)) > 100 * WEIGHT_TOLERANCE


@pytest.mark.slow
def test_only_the_chief_writes_its_run_folder(two_workers):
    assert not two_workers.worker.exists()
    assert list(two_workers.worker_tmp.iterdir()) == []  # worker 1's temporary run folder is removed
    written = {path.name for path in two_workers.chief.iterdir()}
    assert written == {layout.CONFIG_FILE, layout.SPLIT_FILE, layout.RUN_INFO_FILE, layout.HISTORY_FILE,
                       layout.BEST_CHECKPOINT, layout.LAST_CHECKPOINT, layout.LAST_RANDOM_STATE, layout.LOGS_DIR,
                       "training.provenance.json"}
    assert "run folder: the chief's" in two_workers.logs[1].read_text()


@pytest.mark.slow
def test_a_killed_worker_stops_the_chief_with_a_clear_error_and_resume_ends_as_an_uninterrupted_run(
        two_workers, demo_split, tmp_path):
    chief, worker = tmp_path / "chief", tmp_path / "worker1"
    argvs = [train_argv(demo_split, chief), train_argv(demo_split, worker)]
    history = chief / layout.HISTORY_FILE
    with start_workers(argvs, tmp_path) as cluster:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not (history.is_file() and len(history.read_text().splitlines()) >= 2):  # header + epoch 0
            assert time.monotonic() < deadline and cluster.processes[0].poll() is None, cluster.output()
            time.sleep(0.05)
        cluster.processes[1].send_signal(signal.SIGKILL)  # two epochs before the end
        status = cluster.wait()
    chief_log = cluster.logs[0].read_text()
    assert status[0] != 0, "the run ended before worker 1 was killed:\n" + chief_log[-3000:]
    error = [line for line in chief_log.splitlines() if line.startswith("tdfake: error: ")]
    # TensorFlow names the silent worker ("worker 1") unless the whole host stalled past the heartbeat
    # timeout, when every task looks silent at once ("another worker").
    assert error and "worker 0 of a multi-worker run lost contact with" in error[-1], chief_log[-3000:]
    assert "--resume on every worker" in error[-1]
    assert completed(chief) < SETTINGS["epochs"]

    with start_workers([argv + ["--resume"] for argv in argvs], tmp_path) as resumed:
        assert resumed.wait() == [0, 0], resumed.output()
    assert completed(chief) == SETTINGS["epochs"]
    assert not worker.exists()
    assert max_abs_difference(weights(chief), weights(two_workers.chief)) <= WEIGHT_TOLERANCE
    # The training loss is the same; validation differs where worker 1 restarted from the chief's
    # BatchNorm averages (each worker keeps its own, see docs/cli.md).
    np.testing.assert_allclose(pd.read_csv(chief / layout.HISTORY_FILE)["loss"],
                               pd.read_csv(two_workers.chief / layout.HISTORY_FILE)["loss"], rtol=1e-5)


def completed(run_dir: Path) -> int:
    return len(pd.read_csv(run_dir / layout.HISTORY_FILE))
