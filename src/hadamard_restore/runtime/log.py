"""The package logger: one stderr handler, quiet on every rank but 0 under torchrun."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def get_logger(name: str = "hadamard_restore") -> logging.Logger:
    """A logger that prints to stderr once (rank 0 only under torchrun)."""
    logger = logging.getLogger(name)
    root = logging.getLogger("hadamard_restore")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_LOG_FORMAT, "%H:%M:%S"))
        root.addHandler(handler)
        root.setLevel(logging.INFO if int(os.environ.get("RANK", "0")) == 0 else logging.WARNING)
    return logger


#: the folder of a run (or stage) directory that TensorBoard events go to, everywhere
TENSORBOARD_DIR = "tensorboard"


def tensorboard_writer(run_dir: str | Path, resumed_at: int = 0):
    """A ``SummaryWriter`` on ``run_dir/tensorboard``, or None when TensorBoard is missing.

    ``resumed_at``: the number of steps already done by the run being resumed; events logged
    after it by the killed run are purged so the curves do not double back.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception as exc:  # tensorboard missing: the curves still go to the history files
        get_logger().warning("TensorBoard unavailable (%s); curves only in the history files", exc)
        return None
    return SummaryWriter(str(Path(run_dir) / TENSORBOARD_DIR), purge_step=resumed_at + 1 if resumed_at else None)
