"""The package logger: one stderr handler, quiet on every rank but 0 under torchrun."""

from __future__ import annotations

import logging
import os
import sys

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
