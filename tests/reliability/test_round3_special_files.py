"""Round 3: a FIFO, ``/dev/zero`` or another non-regular file given as an image is refused at
once with a clear message (never read: reading one can hang or never end)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

TIMEOUT = 120  # seconds; a hang (reading the FIFO) would run into it


def _cli(*args, cwd=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "hadamard_restore", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd)


def _message(res) -> str:
    out = res.stdout + res.stderr
    assert "Traceback" not in out
    return out


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "x.png"
    os.mkfifo(path)
    return path


def test_enhance_refuses_a_fifo_and_dev_zero(fifo, model_file, tmp_path):
    res = _cli("enhance", model_file, fifo, "--out", tmp_path / "o")
    assert res.returncode == 2 and "FIFO" in _message(res) and str(fifo) in res.stderr + res.stdout
    res = _cli("enhance", model_file, "/dev/zero", "--out", tmp_path / "o")
    assert res.returncode == 2 and "/dev/zero is a character device" in _message(res)
    assert not (tmp_path / "o").exists()


def test_enhance_refuses_a_fifo_inside_an_input_folder(fifo, model_file, tmp_path):
    res = _cli("enhance", model_file, fifo.parent, "--out", tmp_path / "o")
    assert res.returncode == 2 and "FIFO" in _message(res) and "x.png" in res.stderr + res.stdout


def test_evaluate_and_data_check_refuse_a_fifo_in_the_pairs(pairs, model_file, tmp_path):
    target = pairs / "degraded" / "img2.png"
    target.unlink()
    os.mkfifo(target)
    res = _cli("evaluate", model_file, "--data", pairs, "--out", tmp_path / "e")
    assert res.returncode == 2 and "FIFO" in _message(res) and "img2.png" in res.stderr + res.stdout
    res = _cli("data", "check", pairs, "--full")
    assert res.returncode != 0 and "FIFO" in _message(res) and "img2.png" in res.stderr + res.stdout


def test_the_check_itself_never_opens_the_file(fifo):
    from hadamard_restore.data.damage import require_regular
    from hadamard_restore.errors import DataError

    with pytest.raises(DataError, match="is a FIFO"):
        require_regular(fifo)  # would block forever if it opened the FIFO for reading
    with pytest.raises(DataError, match="character device"):
        require_regular("/dev/zero")
