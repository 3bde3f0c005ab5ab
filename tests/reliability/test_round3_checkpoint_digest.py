"""Round 3: a checkpoint carries a sha256 of its own weights; a copy with changed tensor bytes is
refused as damaged, and files written before the digest existed still load."""

from __future__ import annotations

import shutil

import pytest
import torch
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.errors import CheckpointError
from hadamard_restore.net.model_file import load_model
from hadamard_restore.runtime.checkpoint import DIGEST_KEY, load_checkpoint, save_checkpoint, weights_digest

runner = CliRunner()


def _flip_tensor_bytes(src, dst, tensor: torch.Tensor, count: int = 8) -> None:
    """Copy ``src`` to ``dst`` with ``count`` bytes inside ``tensor``'s stored data inverted."""
    data = bytearray(src.read_bytes())
    raw = tensor.contiguous().numpy().tobytes()
    at = data.find(raw)
    assert at >= 0 and data.find(raw, at + 1) < 0  # the tensor's bytes are stored once, uncompressed
    for i in range(count):
        data[at + 4 * i + 1] ^= 0xFF
    dst.write_bytes(bytes(data))


def test_saving_writes_the_digest_of_the_weights(model_file):
    blob = load_checkpoint(model_file, "model")
    assert blob[DIGEST_KEY] == weights_digest(blob) and len(blob[DIGEST_KEY]) == 64
    changed = dict(blob, state_dict={k: v + 1 for k, v in blob["state_dict"].items()})
    assert weights_digest(changed) != blob[DIGEST_KEY]  # the digest covers the tensor values


def test_a_copy_with_flipped_bytes_inside_the_tensors_is_refused_as_damaged(model_file, tmp_path, pairs):
    weight = max(load_checkpoint(model_file, "model")["state_dict"].values(), key=lambda t: t.numel())
    bad = tmp_path / "copy.pt"
    _flip_tensor_bytes(model_file, bad, weight)
    assert torch.load(bad, weights_only=True)["state_dict"]  # torch itself reads the damaged copy
    with pytest.raises(CheckpointError, match="is damaged"):
        load_model(bad)
    res = runner.invoke(app, ["enhance", str(bad), str(pairs / "degraded" / "img0.png"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "is damaged" in res.output and str(bad) in res.output, res.output
    assert "Traceback" not in res.output and not (tmp_path / "o" / "img0.png").exists()


def test_every_checkpoint_kind_is_checked(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, "training", {"step": 3, "optimizer": {"state": {0: {"exp_avg": torch.ones(64)}}}})
    assert load_checkpoint(path, "training")["step"] == 3
    _flip_tensor_bytes(path, tmp_path / "bad.pt", torch.ones(64))
    with pytest.raises(CheckpointError, match="is damaged"):
        load_checkpoint(tmp_path / "bad.pt", "training")


def test_a_checkpoint_written_before_the_digest_still_loads(model_file, tmp_path):
    blob = torch.load(model_file, weights_only=True)
    del blob[DIGEST_KEY]
    old = tmp_path / "old.pt"
    torch.save(blob, old)
    model, meta = load_model(old)
    assert meta["genotype"] and sum(p.numel() for p in model.parameters()) > 0
    shutil.copy(old, tmp_path / "old2.pt")
    assert DIGEST_KEY not in load_checkpoint(tmp_path / "old2.pt", "model")
