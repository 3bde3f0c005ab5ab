"""The versioned checkpoint container: round trip, kinds, versions, legacy files, refusals."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from hadamard_restore.errors import CheckpointError
from hadamard_restore.runtime.checkpoint import VERSION, load_checkpoint, save_checkpoint


def test_round_trip_keeps_tensors_and_plain_data(tmp_path):
    payload = {
        "state_dict": {"w": torch.arange(6.0).reshape(2, 3)},
        "step": 4,
        "psnr": 21.5,
        "name": "x",
        "none": None,
        "pair": (1, 2),
        "hist": [{"a": 1.0}],
        "opt": {0: {"m": torch.ones(2)}},
    }
    path = save_checkpoint(tmp_path / "c.pt", "training", payload)
    blob = load_checkpoint(path, "training")
    assert blob["kind"] == "training" and blob["version"] == VERSION
    assert blob["format"] == "hadamard-restore/training"
    assert torch.equal(blob["state_dict"]["w"], payload["state_dict"]["w"])
    assert blob["pair"] == (1, 2) and blob["hist"] == [{"a": 1.0}] and blob["none"] is None
    assert torch.equal(blob["opt"][0]["m"], torch.ones(2))
    # plain torch.load(weights_only=True) reads it too: no code objects inside
    assert torch.load(path, weights_only=True)["step"] == 4


def test_several_kinds_may_be_accepted(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", "model", {"meta": {}})
    assert load_checkpoint(path, ("model", "training"))["kind"] == "model"
    with pytest.raises(CheckpointError, match="is a model checkpoint.*not the checkpoint.pt of a search"):
        load_checkpoint(path, "search")


def test_non_plain_payload_is_refused_before_writing(tmp_path):
    with pytest.raises(TypeError, match=r"payload\['rng'\]\['numpy'\] is a ndarray"):
        save_checkpoint(tmp_path / "c.pt", "search", {"rng": {"numpy": np.zeros(3)}})
    with pytest.raises(ValueError, match="reserved|written by save_checkpoint"):
        save_checkpoint(tmp_path / "c.pt", "search", {"version": 3})
    with pytest.raises(ValueError, match="unknown checkpoint kind"):
        save_checkpoint(tmp_path / "c.pt", "weights", {})
    assert not (tmp_path / "c.pt").exists()


def test_newer_version_and_foreign_files_are_clear_errors(tmp_path):
    torch.save({"format": "hadamard-restore/model", "version": VERSION + 1, "meta": {}}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="newer than this hadamard-restore understands"):
        load_checkpoint(tmp_path / "new.pt", "model")
    torch.save({"w": torch.ones(1)}, tmp_path / "sd.pt")
    with pytest.raises(CheckpointError, match="not a hadamard-restore checkpoint"):
        load_checkpoint(tmp_path / "sd.pt", "model")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt", "model")
    good = save_checkpoint(tmp_path / "g.pt", "model", {"meta": {}})
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "cut.pt", "model")


def test_version_1_files_are_read(tmp_path):
    """Files written before the unified format: same layout (model/training/classifier), or the
    old search format that pickled NumPy's RNG state as an array."""
    torch.save({"format": "hadamard-restore/model", "version": 1, "meta": {}, "state_dict": {}}, tmp_path / "m.pt")
    assert load_checkpoint(tmp_path / "m.pt", "model")["version"] == 1
    old_search = {
        "format": "hadamard-restore/search-checkpoint/v1",
        "stage": "loss",
        "step": 2,
        "rng": [{"python": random.getstate(), "numpy": np.random.get_state()}],
    }
    torch.save(old_search, tmp_path / "s.pt")
    blob = load_checkpoint(tmp_path / "s.pt", "search")
    assert (blob["kind"], blob["version"], blob["step"]) == ("search", 1, 2)
    key = blob["rng"][0]["numpy"][1]
    assert np.array_equal(key, np.random.get_state()[1])
    # the NumPy allow-list is for old search files only
    with pytest.raises(CheckpointError, match="could run code"):
        load_checkpoint(tmp_path / "s.pt", "model")
