"""How many CPU threads a process takes: all of them on CPU, a few on a GPU, or what the user set."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from hadamard_restore.errors import HadamardRestoreError
from hadamard_restore.runtime.process import GPU_RUN_CPU_THREADS, THREADS_ENV, cpu_threads_for

CUDA, CPU = torch.device("cuda", 0), torch.device("cpu")


def test_a_gpu_process_takes_a_few_threads_and_its_share_of_the_cores():
    assert cpu_threads_for(CUDA, {}, cpu_count=16) == GPU_RUN_CPU_THREADS
    assert cpu_threads_for(CUDA, {"LOCAL_WORLD_SIZE": "8"}, cpu_count=16) == 2  # 8 ranks on 16 cores
    assert cpu_threads_for(CUDA, {"LOCAL_WORLD_SIZE": "32"}, cpu_count=16) == 1
    assert cpu_threads_for(CUDA, {}, cpu_count=2) == 2


def test_a_cpu_process_keeps_torchs_default_and_omp_num_threads_is_respected():
    assert cpu_threads_for(CPU, {}, cpu_count=16) is None
    assert cpu_threads_for(CUDA, {"OMP_NUM_THREADS": "12"}, cpu_count=16) is None


def test_the_project_setting_wins_everywhere_and_nonsense_is_refused():
    assert cpu_threads_for(CPU, {THREADS_ENV: "3"}, cpu_count=16) == 3
    assert cpu_threads_for(CUDA, {THREADS_ENV: "7", "OMP_NUM_THREADS": "1"}, cpu_count=16) == 7
    for bad in ("0", "-2", "four", "1.5"):
        with pytest.raises(HadamardRestoreError, match=THREADS_ENV):
            cpu_threads_for(CPU, {THREADS_ENV: bad})


def test_pick_device_applies_the_setting_to_the_process():
    code = (
        "import torch; from hadamard_restore.runtime.process import pick_device; "
        "pick_device('cpu'); print(torch.get_num_threads())"
    )
    env = {"PATH": "/usr/bin:/bin", THREADS_ENV: "1", "OMP_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
