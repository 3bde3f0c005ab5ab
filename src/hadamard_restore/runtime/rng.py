"""Capture and restore every random stream of a process, as plain checkpointable data.

One state is a dict of tensors, numbers and tuples (no NumPy arrays), so it can go into any
checkpoint (:mod:`hadamard_restore.runtime.checkpoint`) and be read back with
``weights_only=True``::

    {"generators": {name: ByteTensor},          # the explicit torch.Generator objects
     "python": random.getstate(),               # a tuple of ints
     "numpy": {"key": int64 tensor, "pos": int, "has_gauss": int, "cached_gaussian": float},
     "torch": ByteTensor,                       # the default CPU generator
     "cuda": [ByteTensor, ...]}                 # every GPU's default generator, when CUDA is in use
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from hadamard_restore.errors import CheckpointError


def _numpy_state() -> dict[str, Any]:
    state = np.random.get_state()
    if isinstance(state, dict):  # the legacy tuple exists only for MT19937
        raise RuntimeError(f"NumPy's global generator is {state['bit_generator']}, expected MT19937")
    name, key, pos, has_gauss, cached = state
    if name != "MT19937":
        raise RuntimeError(f"NumPy's global generator is {name}, expected MT19937")
    return {
        "key": torch.from_numpy(key.astype(np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }


def _set_numpy_state(state: Mapping[str, Any]) -> None:
    key = state["key"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", key, state["pos"], state["has_gauss"], state["cached_gaussian"]))


def capture_rng(generators: Mapping[str, torch.Generator] | None = None) -> dict[str, Any]:
    """Every random stream of this process: the named generators and the global ones."""
    state: dict[str, Any] = {
        "generators": {name: g.get_state() for name, g in (generators or {}).items()},
        "python": random.getstate(),
        "numpy": _numpy_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(
    state: Mapping[str, Any],
    generators: Mapping[str, torch.Generator] | None = None,
    device: torch.device | None = None,
) -> None:
    """Restore what :func:`capture_rng` captured; the named generators must all be there.

    Streams the state lacks (an older checkpoint that saved only some of them) are left as
    they are. ``device`` is the GPU a version-1 training state saved the one CUDA state of.

    Raises:
        CheckpointError: a generator in ``generators`` has no saved state.
    """
    generators = generators or {}
    saved = state.get("generators", {})
    missing = set(generators) - set(saved)
    if missing:
        raise CheckpointError(
            f"checkpoint lacks the random streams {sorted(missing)}; "
            "it was written by another stage or version; start without --resume"
        )
    for name, g in generators.items():
        g.set_state(saved[name])
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    numpy_state = state.get("numpy")
    if isinstance(numpy_state, Mapping):
        _set_numpy_state(numpy_state)
    elif numpy_state is not None:  # version-1 search checkpoints: NumPy's own tuple
        np.random.set_state(tuple(numpy_state))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        if isinstance(cuda, torch.Tensor):  # version-1 training states: the training GPU only
            torch.cuda.set_rng_state(cuda, device or "cuda")
        else:
            for index, gpu_state in enumerate(list(cuda)[: torch.cuda.device_count()]):
                torch.cuda.set_rng_state(gpu_state, index)
