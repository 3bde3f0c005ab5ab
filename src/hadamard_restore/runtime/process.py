"""Process setup: device choice, seeding, the torch.distributed context."""

from __future__ import annotations

import atexit
import datetime
import logging
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from hadamard_restore.errors import DeviceError, HadamardRestoreError

GPU_RUN_CPU_THREADS = 4  # intra-op CPU threads of a process whose work runs on a GPU (by default)
THREADS_ENV = "HADAMARD_RESTORE_CPU_THREADS"


def cpu_threads_for(
    device: torch.device, env: Mapping[str, str] = os.environ, cpu_count: int | None = None
) -> int | None:
    """The intra-op CPU thread count a process working on ``device`` should use; None keeps torch's.

    ``$HADAMARD_RESTORE_CPU_THREADS`` (a positive integer) always wins. Otherwise a CPU process
    keeps torch's default (``$OMP_NUM_THREADS``, else every core). A GPU process only crops
    batches and launches kernels on the CPU: it takes at most ``GPU_RUN_CPU_THREADS`` threads and
    its share of the cores among the ``$LOCAL_WORLD_SIZE`` ranks, unless ``$OMP_NUM_THREADS`` says
    otherwise. Three trainings on one 16-core GPU machine that each took all 16 threads ran 22x
    slower per step than one alone.
    """
    explicit = env.get(THREADS_ENV, "").strip()
    if explicit:
        if not explicit.isdigit() or int(explicit) < 1:
            raise HadamardRestoreError(
                f"${THREADS_ENV}={explicit!r} is not a positive whole number of threads; set e.g. 4, or unset it"
            )
        return int(explicit)
    if device.type != "cuda" or env.get("OMP_NUM_THREADS", "").strip():
        return None
    cores = cpu_count or os.cpu_count() or 1
    ranks = max(1, int(env.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(1, min(GPU_RUN_CPU_THREADS, cores // ranks))


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU; an unknown name, or ``cuda`` without a GPU,
    is a :class:`~hadamard_restore.errors.DeviceError`.

    Also sets the process's intra-op CPU threads for that device (:func:`cpu_threads_for`).
    """
    if name == "auto":
        dev = (
            torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            if torch.cuda.is_available()
            else torch.device("cpu")
        )
    else:
        try:
            dev = torch.device(name)
        except (RuntimeError, TypeError, ValueError):
            raise DeviceError(
                f"device {str(name)[:40]!r} is not a device name; use auto, cpu, cuda or cuda:N"
            ) from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise DeviceError(f"device {str(name)!r} asked for, but no CUDA GPU is visible; use device=cpu or auto")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(
                f"device {str(name)!r} asked for, but this machine has {torch.cuda.device_count()} GPU(s)"
            )
    threads = cpu_threads_for(dev)
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return dev


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass(frozen=True)
class Dist:
    """The torch.distributed context (a single process when not launched by torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> Dist:
    """Join the process group when launched by torchrun (NCCL on GPU, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        # leave the group before the interpreter tears down: a gloo group still alive at exit can
        # abort the process ("terminate called without an active exception", exit -6)
        atexit.register(_leave_process_group)
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


LEAVE_TIMEOUT_S = 120  # how long a rank waits at exit for the others before leaving anyway


def _leave_process_group() -> None:
    """Wait for every rank, then leave. A rank that tore its connections down while another still
    finished its last step (rank 0 validates and writes checkpoints after the last all-reduce)
    aborted at exit with "terminate called without an active exception" (SIGABRT), 1 run in
    about 10 under load; the barrier makes the ranks leave together. It is bounded, so a rank
    whose peer died still exits."""
    if not dist.is_initialized():
        return
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=datetime.timedelta(seconds=LEAVE_TIMEOUT_S))
        else:
            dist.barrier()
    except RuntimeError as exc:  # a peer is gone: leave anyway, saying so
        logging.getLogger(__name__).warning("leaving the process group without the other ranks: %s", exc)
    dist.destroy_process_group()


def all_reduce_grads(params, dist_ctx: Dist) -> None:
    """Average the ``.grad`` of ``params`` over ranks (no-op in a single process)."""
    if not dist_ctx.enabled:
        return

    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= dist_ctx.world_size


def gather_objects(obj: Any, dist_ctx: Dist) -> list[Any]:
    """Every rank's ``obj`` (a list of length 1 in one process)."""
    if not dist_ctx.enabled:
        return [obj]
    out: list[Any] = [None] * dist_ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(dist_ctx: Dist) -> None:
    """Wait for every rank (no-op in one process)."""
    if dist_ctx.enabled:
        dist.barrier()


def setup_process(device: str, seed: int | None = None) -> tuple[torch.device, Dist]:
    """The one process setup of every command: device, torchrun process group, global seeds.

    Under torchrun each rank uses ``cuda:LOCAL_RANK`` (or the CPU with gloo). ``seed`` seeds
    Python, NumPy and torch's global generators; None leaves them alone (for code that draws
    only from explicit generators).
    """
    dev = pick_device(device)
    dist_ctx = init_distributed(dev)
    if dev.type == "cuda":
        if dist_ctx.enabled:
            dev = torch.device("cuda", dist_ctx.local_rank)
        torch.cuda.set_device(dev)
    if seed is not None:
        seed_everything(seed)
    return dev, dist_ctx
