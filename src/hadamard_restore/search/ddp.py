"""Multi-process helpers for the search (torchrun; gloo on CPU, NCCL on GPU).

Why not ``DistributedDataParallel``: every search step evaluates the network at several
parameter sets that are not the module's own (w, w', w ± εv) through
``torch.func.functional_call``, and takes gradients with ``torch.autograd.grad`` rather than
``.backward()``. DDP's reducer hooks only fire for ``.backward()`` on the wrapped module's own
parameters, so they would average the real lower step and silently leave the hypergradient
per-rank. Instead the search all-reduces explicitly: the hypergradient averages its internal
gradients through :func:`average_` (see ``hypergrad``), the real step averages ``.grad`` of the
weights through :func:`hadamard_restore.runtime.process.all_reduce_grads`, and all ranks start from
rank 0's parameters (:func:`broadcast_`). Every rank then holds identical weights, α and β
after every step; each samples its own data shard from its own generator stream.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist

from hadamard_restore.runtime.process import Dist


def average_(tensors: Sequence[torch.Tensor], dist_ctx: Dist) -> None:
    """Average ``tensors`` over ranks in place (no-op in one process)."""
    if not dist_ctx.enabled:
        return

    if not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist_ctx.world_size
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset : offset + n].view_as(t))
        offset += n


def broadcast_(tensors: Sequence[torch.Tensor], dist_ctx: Dist) -> None:
    """Overwrite ``tensors`` on every rank with rank 0's values."""
    if not dist_ctx.enabled:
        return

    with torch.no_grad():
        for t in tensors:
            dist.broadcast(t.data, src=0)
