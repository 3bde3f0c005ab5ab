"""Python library conventions: the public API is listed, the library prints no INFO lines of its own
(the command line configures logging), and ``enhance_image`` picks its device as the CLI does."""

from __future__ import annotations

import inspect
import logging
import os
import subprocess
import sys
from types import ModuleType

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import hadamard_restore as hr


def test_all_and_dir_show_the_public_api():
    for name in ("load_pretrained", "enhance_image", "available_models", "load_config", "evaluate", "psnr"):
        assert name in hr.__all__ and name in dir(hr)
        assert callable(getattr(hr, name))
    assert all(hasattr(hr, name) for name in hr.__all__)  # nothing listed that cannot be imported
    assert inspect.signature(hr.enhance_image).parameters["device"].default == "auto"


def test_every_public_name_comes_from_the_module_that_defines_it():
    """The public API names each name's home, never a package that only re-exported it: with the
    metrics package no longer importing ``psnr`` over its submodule ``metrics/psnr.py``,
    ``hadamard_restore.psnr`` is still the function, not the module."""
    for name, home in hr._PUBLIC.items():
        value = getattr(hr, name)
        assert not isinstance(value, ModuleType), name
        assert value.__module__ == home, (name, value.__module__, home)
    x = torch.zeros(1, 3, 8, 8)
    assert float(hr.psnr(x + 0.1, x, data_range=1.0)[0]) == pytest.approx(20.0)  # a call, not a module


def test_enhance_image_runs_with_device_auto():
    x = np.full((24, 20, 3), 40, np.uint8)
    out = hr.enhance_image(x, model="low-light", device="auto")
    assert out.shape == x.shape and out.dtype == np.uint8 and out.mean() > x.mean()  # brighter


def test_library_calls_print_no_info_lines_but_warnings():
    """In a fresh interpreter (no CLI): enhance_image and a library INFO log stay silent."""
    script = (
        "import numpy as np, hadamard_restore as hr\n"
        "from hadamard_restore.runtime.log import get_logger\n"
        "hr.enhance_image(np.full((300, 400, 3), 40, np.uint8), model='low-light', device='cpu')\n"
        "get_logger('hadamard_restore.user').info('INFO-MARKER')\n"
        "get_logger('hadamard_restore.user').warning('WARNING-MARKER')\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "INFO" not in done.stderr and "INFO" not in done.stdout, done.stderr
    assert "WARNING-MARKER" in done.stderr  # warnings still reach the user (Python's last-resort handler)


def test_the_command_line_configures_logging(capfd):
    root = logging.getLogger("hadamard_restore")
    before = list(root.handlers), root.level
    root.handlers[:] = []  # as in a fresh process (earlier tests may have run commands)
    root.setLevel(logging.NOTSET)
    try:
        for _ in range(2):  # a second command in one process adds no second handler
            assert CliRunner().invoke(hr_cli(), ["models"]).exit_code in (0, 1)
        assert len(root.handlers) == 1 and root.getEffectiveLevel() == logging.INFO
        logging.getLogger("hadamard_restore.cli_test").info("SHOWN-MARKER")
        assert "INFO hadamard_restore.cli_test: SHOWN-MARKER" in capfd.readouterr().err
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])


def hr_cli():
    from hadamard_restore.cli.app import app

    return app
