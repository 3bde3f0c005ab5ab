"""Run infrastructure: process setup, random streams, logging, run directories, checkpoints.

* :mod:`.process`: device choice, seeding, the torch.distributed context;
* :mod:`.log`: the package logger;
* :mod:`.rng`: capture and restore every random stream as plain tensors;
* :mod:`.rundir`: create and stamp run directories;
* :mod:`.checkpoint`: the one versioned checkpoint file format, read without running code.
"""

from hadamard_restore.runtime.log import get_logger
from hadamard_restore.runtime.process import (
    Dist,
    all_reduce_grads,
    init_distributed,
    pick_device,
    seed_everything,
    setup_process,
)

__all__ = [
    "Dist",
    "all_reduce_grads",
    "get_logger",
    "init_distributed",
    "pick_device",
    "seed_everything",
    "setup_process",
]
