"""A tiny finished make_pretrained run (real split, 40 training steps, real evaluation) and its package.

Like ``tools/make_pretrained.py`` it trains with ``net.norm=none``: the packaged and loaded
network must be rebuilt from the checkpoint's own net settings, not the defaults.

The run directory has every artifact ``tools/make_pretrained.py`` leaves (heldout.json, dev.json,
classifier/, search/, train/, eval/, commands.txt with absolute paths, timings.json); only the
classifier metrics are written by hand (training a classifier would take a minute).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.tiny import tiny_config

N_PAIRS, H, W = 8, 37, 31
FAKE_STEPS = 40


def _pairs(root: Path) -> None:
    from hadamard_restore.data.io import write_image

    gen = torch.Generator().manual_seed(11)
    for i in range(N_PAIRS):
        low = torch.rand(1, 3, 5, 4, generator=gen)
        ref = torch.nn.functional.interpolate(low, size=(H, W), mode="bilinear", align_corners=False)[0]
        deg = (0.25 * ref + 0.02 * torch.rand(3, H, W, generator=gen)).clamp(0, 1)
        write_image(root / "reference" / f"img{i}.png", ref)
        write_image(root / "degraded" / f"img{i}.png", deg)


def _splits(root: Path, run: Path) -> None:
    from hadamard_restore.data.layouts import find_pairs
    from hadamard_restore.data.split import Split, make_split, split_entries

    make_split(find_pairs(root, "paired"), 0.25, 0, "none", root=root, layout="paired").save(run / "heldout.json")
    held = Split.load(run / "heldout.json")
    train, val = split_entries(held.train, 0.34, 1)
    Split(train, val, 1, 0.34, held.group_key, held.layout, held.root, {"note": "dev"}).save(run / "dev.json")


def _search(run: Path) -> None:
    from hadamard_restore.net.genotype import load_genotype

    g = load_genotype("paper-lol").to_dict()
    layers = {k: v for k, v in g["layers"].items() if k.split(".")[0] in ("enc", "dec", "hnu1")}
    (run / "search").mkdir()
    (run / "search" / "genotype.json").write_text(json.dumps({"num_hnu": 1, "name": "tiny", "layers": layers}))
    weights = dict(l1=1.0, l2=1.0, color=0.1, ssim=0.2, vgg=0.0, lpips=0.0, tv=0.0, laplacian=0.0)
    (run / "search" / "loss_weights.json").write_text(
        json.dumps(
            {
                "weights": weights,
                "name": "tiny",
                "vgg": {"backbone": "vgg16", "layers": ["relu1_1", "relu2_1", "relu3_1", "relu4_2"]},
                "lpips": {"net": "alex"},
            }
        )
    )
    (run / "search" / "config.yaml").write_text(
        "net:\n  channels: 4\nsearch:\n  loss_steps: 3\n  arch_steps: 5\n  crop: 16\n  batch_size: 1\n"
    )
    (run / "classifier").mkdir()
    (run / "classifier" / "classifier_metrics.json").write_text(
        json.dumps(
            {
                "accuracy": 0.9375,
                "accuracy_clear": 0.875,
                "accuracy_degraded": 1.0,
                "images": 4,
                "arch": "resnet18",
                "init": "scratch",
                "steps": 7,
                "crop": 16,
            }
        )
    )


def _commands(run: Path, data: Path) -> None:
    cfg = "/somewhere/checkout/configs/low-light.yaml"
    (run / "commands.txt").write_text(
        f"# data: {data}/tiny\n# held-out split: {run}/heldout.json; development split: {run}/dev.json\n\n"
        f"# classifier\nhadamard-restore classifier {cfg} --set data.split_file={run}/dev.json "
        f"--out {run}/classifier\n\n"
        f"# train\nhadamard-restore train {cfg} --genotype {run}/search/genotype.json --out {run}/train\n\n"
        f"# evaluate\nhadamard-restore evaluate {run}/train/model.pt --data {data}/tiny --split {run}/heldout.json\n"
    )
    (run / "timings.json").write_text(
        json.dumps({"classifier": 50.4, "search": 600.0, "train": 1200.5, "evaluate": 30.0})
    )


@pytest.fixture(scope="session")
def fake_run(tmp_path_factory) -> tuple[Path, Path]:
    """``(run_dir, data_root)`` of a finished tiny run; the pairs are under ``data_root/tiny``."""
    from hadamard_restore.config import config_from_dict
    from hadamard_restore.evaluation.evaluate import evaluate
    from hadamard_restore.losses.loss_weights import load_loss_weights
    from hadamard_restore.net.genotype import load_genotype
    from hadamard_restore.training.train import train

    data, run = tmp_path_factory.mktemp("data"), tmp_path_factory.mktemp("run")
    _pairs(data / "tiny")
    _splits(data / "tiny", run)
    _search(run)
    _commands(run, data)
    # the shared tiny run on the make_pretrained-style splits, trained until it beats its input on
    # every held-out pair (by about 5 dB), as a model must to be packaged; 12 steps lose 2.4 dB
    cfg = tiny_config(data / "tiny", steps=FAKE_STEPS, lr=1e-2, val_every=10, checkpoint_every=10)
    cfg["task"] = "low-light"
    cfg["data"].pop("val_ratio")
    cfg["data"]["split_file"] = str(run / "dev.json")
    cfg["net"]["norm"] = "none"  # as tools/make_pretrained.py trains
    train(
        config_from_dict(cfg),
        run / "train",
        load_genotype(run / "search" / "genotype.json"),
        load_loss_weights(run / "search" / "loss_weights.json"),
        progress=False,
    )
    evaluate(run / "train" / "model.pt", data / "tiny", split=run / "heldout.json", out=run / "eval", device="cpu")
    return run, data


@pytest.fixture(scope="session")
def packaged(fake_run, tmp_path_factory) -> Path:
    """The models folder with the tiny run packaged as ``tiny-light``."""
    from hadamard_restore.zoo.package import package_run

    models = tmp_path_factory.mktemp("models")
    package_run(fake_run[0], "tiny-light", models, fake_run[1])
    return models


@pytest.fixture
def zoo(packaged, monkeypatch) -> Path:
    """The registry pointed at the packaged tiny model (the bundled ones are hidden)."""
    from hadamard_restore.zoo import api, registry

    monkeypatch.setattr(registry, "MODELS_DIR", packaged)
    api._cached.cache_clear()
    yield packaged
    api._cached.cache_clear()
