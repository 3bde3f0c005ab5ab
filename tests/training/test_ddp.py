"""Training under torchrun (2 CPU processes, gloo) equals one process with the global batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from hadamard_restore.net import model_file
from tests.tiny import run_cli, tiny_config


def _train(cfg_path: Path, out: Path, geno: Path, lw: Path, nproc: int) -> None:
    run_cli("train", cfg_path, "--genotype", geno, "--loss-weights", lw, "--out", out, nproc=nproc)


@pytest.mark.slow
def test_two_processes_match_one_process_with_the_global_batch(tmp_path, tiny_pairs, tiny_genotype, tiny_loss_weights):
    for name, batch in (("one", 4), ("two", 2)):
        (tmp_path / f"{name}.yaml").write_text(
            yaml.safe_dump(tiny_config(tiny_pairs, steps=6, batch_size=batch, val_every=3, checkpoint_every=3))
        )
    _train(tmp_path / "one.yaml", tmp_path / "one", tiny_genotype, tiny_loss_weights, 1)
    _train(tmp_path / "two.yaml", tmp_path / "two", tiny_genotype, tiny_loss_weights, 2)
    one, two = (
        model_file.read_model_file(tmp_path / "one" / "last.pt"),
        model_file.read_model_file(tmp_path / "two" / "last.pt"),
    )
    assert two["training"]["step"] == 6
    for k, v in one["state_dict"].items():
        torch.testing.assert_close(two["state_dict"][k], v, rtol=0, atol=1e-5, msg=k)
    assert (tmp_path / "two" / "model.pt").is_file() and (tmp_path / "two" / "history.json").is_file()
