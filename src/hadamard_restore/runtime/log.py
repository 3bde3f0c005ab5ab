"""The package logger: silent until the application configures it (the command line does).

A library adds no handler of its own (Python's logging convention): ``enhance_image`` in a user's
script prints no INFO lines, warnings still reach stderr through Python's last-resort handler.
:func:`configure_logging` is what ``hadamard-restore`` runs at start: one stderr handler on the
``hadamard_restore`` logger, INFO on rank 0 and WARNING on the other ranks under torchrun.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def get_logger(name: str = "hadamard_restore") -> logging.Logger:
    """The package's logger ``name`` (below ``hadamard_restore``); it has no handler of its own."""
    return logging.getLogger(name)


class _StderrHandler(logging.StreamHandler):
    """Writes to the ``sys.stderr`` of the moment (a test runner or a second command may swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(level: int | None = None) -> logging.Logger:
    """One stderr handler on the ``hadamard_restore`` logger (added once), at ``level`` (default:
    INFO on rank 0, WARNING on the other ranks under torchrun); returns that logger."""
    root = logging.getLogger("hadamard_restore")
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(_LOG_FORMAT, "%H:%M:%S"))
        root.addHandler(handler)
    if level is None:
        level = logging.INFO if int(os.environ.get("RANK", "0")) == 0 else logging.WARNING
    root.setLevel(level)
    return root


#: the folder of a run (or stage) directory that TensorBoard events go to, everywhere
TENSORBOARD_DIR = "tensorboard"


def tensorboard_writer(run_dir: str | Path, resumed_at: int = 0):
    """A ``SummaryWriter`` on ``run_dir/tensorboard``, or None when TensorBoard is missing.

    ``resumed_at``: the number of steps already done by the run being resumed; events logged
    after it by the killed run are purged so the curves do not double back.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter  # lazy: optional dependency (tensorboard)
    except Exception as exc:  # tensorboard missing: the curves still go to the history files
        get_logger().warning("TensorBoard unavailable (%s); curves only in the history files", exc)
        return None
    return SummaryWriter(str(Path(run_dir) / TENSORBOARD_DIR), purge_step=resumed_at + 1 if resumed_at else None)
