"""Class 3: one run directory, one writer; a stale lock of a killed process is taken over safely."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.runtime.rundir_lock import LOCK_NAME, RunDirLock, RunDirLockedError

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from hadamard_restore.runtime.rundir_lock import RunDirLock
lock = RunDirLock(sys.argv[1], "hadamard-restore train holder.yaml").acquire()
open(sys.argv[2], "w").close()
time.sleep(120)
"""


def _hold(run_dir: Path, tmp_path: Path) -> subprocess.Popen:
    """A second process that holds ``run_dir``'s lock until killed."""
    ready = tmp_path / "ready"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir), str(ready)], env=env)
    deadline = time.time() + 60
    while not ready.exists():
        assert proc.poll() is None and time.time() < deadline, "the lock holder did not start"
        time.sleep(0.05)
    return proc


def test_a_second_training_into_a_locked_run_is_refused_and_writes_nothing(tmp_path, config_file):
    run = tmp_path / "run"
    holder = _hold(run, tmp_path)
    try:
        res = runner.invoke(app, ["train", str(config_file), "--out", str(run)])
        assert res.exit_code == 2, res.output
        assert f"pid {holder.pid}" in res.output and "holder.yaml" in res.output
        assert sorted(p.name for p in run.iterdir()) == [LOCK_NAME]  # no config.yaml, no split.json
        res = runner.invoke(app, ["search-loss", str(config_file), "--out", str(run)])
        assert res.exit_code == 2 and f"pid {holder.pid}" in res.output, res.output
        res = runner.invoke(app, ["classifier", str(config_file), "--out", str(run / "sub")])
        assert res.exit_code == 2 and "inside the run directory" in res.output, res.output
    finally:
        holder.kill()
        holder.wait()


def test_evaluate_into_a_locked_folder_is_refused(tmp_path, model_file, pairs):
    out = tmp_path / "eval"
    holder = _hold(out, tmp_path)
    try:
        res = runner.invoke(
            app, ["evaluate", str(model_file), "--data", str(pairs), "--layout", "paired", "--out", str(out)]
        )
        assert res.exit_code == 2 and f"pid {holder.pid}" in res.output, res.output
        assert not (out / "metrics.json").exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_of_a_killed_process_is_taken_over(tmp_path):
    run = tmp_path / "run"
    holder = _hold(run, tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert json.loads((run / LOCK_NAME).read_text())["pid"] == holder.pid  # left behind
    with RunDirLock(run, "me") as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
        with pytest.raises(RunDirLockedError, match="already being written by this process"):
            RunDirLock(run, "me again").acquire()
    assert not (run / LOCK_NAME).exists()  # released


def _contend(run_dir: str, barrier, results) -> None:
    barrier.wait()
    try:
        lock = RunDirLock(run_dir, "contender").acquire()
    except RunDirLockedError:
        results.put("refused")
        return
    results.put("won")
    time.sleep(1.0)  # hold it while the others try
    lock.release()


def test_of_many_processes_taking_over_one_stale_lock_exactly_one_wins(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "command": "killed"}))
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(str(run), barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes == ["refused", "refused", "refused", "won"]
