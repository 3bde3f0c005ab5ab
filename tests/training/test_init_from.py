"""train(init_from=...): fine-tuning starts from the source's weights, network and loss, scores them
first, records where it started, and keeps that through a resume; the CLI's --init-from."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from hadamard_restore.artifacts import sha256_file
from hadamard_restore.config import config_from_dict
from hadamard_restore.errors import GenotypeError, HadamardRestoreError
from hadamard_restore.losses.loss_weights import load_loss_weights
from hadamard_restore.net import model_file
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.training.init_from import read_init_source
from hadamard_restore.training.train import train
from hadamard_restore.zoo.registry import model_path, read_card
from tests.tiny import run_cli, tiny_config


def _config(tiny_pairs, **train_overrides):
    cfg = tiny_config(tiny_pairs, **train_overrides)
    cfg["net"] = {"channels": 8, "num_hnu": 1, "norm": "none", "upsample": "resize"}  # none of the source's
    return config_from_dict(cfg)


def test_a_fine_tune_starts_from_the_source_and_scores_it_before_the_first_step(tmp_path, tiny_run, tiny_pairs):
    source = tiny_run / "model.pt"
    src = model_file.read_model_file(source)
    at_step_one = {}

    def grab(step):
        if step == 1:  # model.pt now holds the weights validated before the first step
            at_step_one.update(model_file.read_model_file(tmp_path / "model.pt"))

    summary = train(
        _config(tiny_pairs, steps=6, ema_decay=0.9),
        tmp_path,
        init_from=read_init_source(source),
        on_step=grab,
        progress=False,
    )

    for k, v in src["state_dict"].items():
        assert torch.equal(at_step_one["state_dict"][k], v), k
    val = json.loads((tmp_path / "history.json").read_text())["val"]
    assert (
        val[0]["step"] == 0 and "psnr_ema" not in val[0] and "psnr_ema" in val[-1]
    )  # the average starts as the weights
    assert val[0]["psnr"] == pytest.approx(src["meta"]["val_psnr"], abs=1e-9)  # same pairs, same weights
    assert summary["best_val_psnr"] >= val[0]["psnr"]
    _, meta = model_file.load_model(tmp_path / "last.pt")
    assert meta["net"] == src["meta"]["net"]  # the source's network, not the config's
    assert meta["genotype"]["layers"] == src["meta"]["genotype"]["layers"]
    assert meta["loss_weights"]["weights"] == src["meta"]["loss_weights"]["weights"]
    assert meta["init_from"]["sha256"] == sha256_file(source)
    assert json.loads((tmp_path / "init_from.json").read_text()) == meta["init_from"]
    changed = [
        k
        for k, v in src["state_dict"].items()
        if not torch.equal(model_file.read_model_file(tmp_path / "last.pt")["state_dict"][k], v)
    ]
    assert changed, "six steps at lr 3e-3 left every weight where it started"


def test_loss_weights_and_genotype_given_win_over_the_source(tmp_path, tiny_run, tiny_pairs, tiny_loss_weights):
    lw = load_loss_weights(tiny_loss_weights).derived_without("ssim")
    train(
        _config(tiny_pairs, steps=2, val_every=2),
        tmp_path,
        loss_weights=lw,
        init_from=read_init_source(tiny_run / "model.pt"),
        progress=False,
    )
    assert json.loads((tmp_path / "loss_weights.json").read_text())["weights"]["ssim"] == 0.0
    with pytest.raises(GenotypeError, match="describes 7 HNUs but num_hnu=1"):
        train(
            _config(tiny_pairs),
            tmp_path / "other",
            load_genotype("paper-lol"),
            init_from=read_init_source(tiny_run / "model.pt"),
            progress=False,
        )


def test_a_resumed_fine_tune_keeps_the_source_network_and_its_record(tmp_path, tiny_run, tiny_pairs):
    source = read_init_source(tiny_run / "model.pt")
    train(_config(tiny_pairs, steps=4), tmp_path, init_from=source, progress=False)
    other = read_init_source(tmp_path / "model.pt")
    with pytest.raises(HadamardRestoreError, match="names other weights. Drop --init-from"):
        train(_config(tiny_pairs, steps=8), tmp_path, resume=True, allow_changes=True, init_from=other, progress=False)
    # the config still says 8 channels and resize up-samplers: the resume must build the source's network;
    # the same --init-from again (make_pretrained reruns its command) continues the run
    train(_config(tiny_pairs, steps=6), tmp_path, resume=True, allow_changes=True, progress=False)
    train(_config(tiny_pairs, steps=8), tmp_path, resume=True, allow_changes=True, init_from=source, progress=False)
    _, meta = model_file.load_model(tmp_path / "last.pt")
    assert meta["init_from"]["sha256"] == source.sha256 and meta["net"]["channels"] == 4
    assert json.loads((tmp_path / "history.json").read_text())["val"][-1]["step"] == 8


def test_cli_fine_tunes_a_bundled_model_and_refuses_bad_sources(tmp_path, tiny_pairs, tiny_genotype, tiny_loss_weights):
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_config(tiny_pairs, steps=1, val_every=1, batch_size=1)))
    out = tmp_path / "run"
    run_cli("train", cfg_path, "--init-from", "dehaze", "--loss-weights", tiny_loss_weights, "--out", out)
    _, meta = model_file.load_model(out / "model.pt")
    card = read_card("dehaze")
    assert meta["init_from"]["sha256"] == card["weights"]["sha256"]
    assert meta["init_from"]["path"] == str(model_path("dehaze"))
    assert meta["net"]["channels"] == card["net"]["channels"] and meta["genotype"]["name"] == card["genotype"]["name"]

    done = run_cli("train", cfg_path, "--init-from", "no-such-model", "--out", tmp_path / "x", check=False)
    assert done.returncode == 2 and "neither a model file nor a bundled model" in done.stderr
    assert not (tmp_path / "x").exists()
    scratch = tmp_path / "scratch"
    run_cli("train", cfg_path, "--genotype", tiny_genotype, "--loss-weights", tiny_loss_weights, "--out", scratch)
    done = run_cli("train", cfg_path, "--init-from", "dehaze", "--resume", "--out", scratch, check=False)
    assert done.returncode == 2 and "which started from scratch" in done.stderr


def test_a_model_file_without_a_valid_genotype_is_a_clear_error(tmp_path, tiny_run):
    from hadamard_restore.errors import CheckpointError
    from hadamard_restore.runtime.checkpoint import save_checkpoint

    blob = model_file.read_model_file(tiny_run / "model.pt")
    meta = {k: v for k, v in blob["meta"].items() if k != "genotype"}
    save_checkpoint(tmp_path / "bad.pt", "model", {"meta": meta, "state_dict": blob["state_dict"]})
    with pytest.raises(CheckpointError, match="holds no valid genotype .* pass a model.pt"):
        read_init_source(tmp_path / "bad.pt")


def test_a_fine_tune_without_warm_up_is_warned_about(tmp_path, tiny_run, tiny_pairs, caplog):
    from hadamard_restore.training.init_from import starting_point

    source = read_init_source(tiny_run / "model.pt")
    for warmup, warned in ((0, True), (2, False)):
        caplog.clear()
        with caplog.at_level("WARNING", logger="hadamard_restore.train"):
            starting_point(_config(tiny_pairs, warmup_steps=warmup), tmp_path, None, None, source, False)
        assert ("without warm-up" in caplog.text) is warned, warmup
