"""capture_rng / restore_rng: every stream comes back, and the state is plain data."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from hadamard_restore.errors import CheckpointError
from hadamard_restore.runtime.checkpoint import load_checkpoint, save_checkpoint
from hadamard_restore.runtime.rng import capture_rng, restore_rng


def _draw(gen: torch.Generator) -> tuple:
    return (
        torch.rand(3, generator=gen).tolist(),
        random.random(),
        float(np.random.rand()),
        np.random.standard_normal(),
        torch.rand(2).tolist(),
    )


def test_every_stream_resumes_after_a_checkpoint_round_trip(tmp_path):
    gen = torch.Generator().manual_seed(5)
    np.random.standard_normal()  # leave a cached Gaussian in NumPy's state
    state = capture_rng({"data": gen})
    path = save_checkpoint(tmp_path / "s.pt", "search", {"rng": [state]})  # plain data only
    expected = _draw(gen)
    _draw(torch.Generator().manual_seed(9))  # move every global stream on
    restored = load_checkpoint(path, "search")["rng"][0]
    gen2 = torch.Generator()
    restore_rng(restored, {"data": gen2})
    assert _draw(gen2) == expected


def test_a_missing_named_stream_is_refused():
    state = capture_rng({"train": torch.Generator()})
    with pytest.raises(CheckpointError, match=r"lacks the random streams \['val'\]"):
        restore_rng(state, {"train": torch.Generator(), "val": torch.Generator()})


def test_version_1_states_are_restored():
    """The old training layout (generator under its own key) and the old search layout (NumPy tuple)."""
    gen = torch.Generator().manual_seed(3)
    old_search = {
        "generators": {"data": gen.get_state()},
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    expected = _draw(gen)
    gen2 = torch.Generator()
    restore_rng(old_search, {"data": gen2})
    assert _draw(gen2) == expected
