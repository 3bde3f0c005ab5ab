"""The registry: names, cards, and weights checked against their sha256 before use."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from hadamard_restore.artifacts import sha256_file
from hadamard_restore.data.split import Split
from hadamard_restore.zoo import registry
from hadamard_restore.zoo.api import load_pretrained
from hadamard_restore.zoo.registry import ModelIntegrityError, UnknownModelError, available_models, read_card


def test_names_card_and_weights_only_load(zoo):
    assert available_models() == ["tiny-light"]
    card = read_card("tiny-light")
    path = registry.model_path("tiny-light")
    assert card["weights"]["sha256"] == sha256_file(path) and card["weights"]["bytes"] == path.stat().st_size
    blob = torch.load(path, map_location="cpu", weights_only=True)
    assert blob["format"] == "hadamard-restore/model" and blob["meta"]["pretrained"]["name"] == "tiny-light"
    assert {v.dtype for v in blob["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    net = load_pretrained("tiny-light")
    assert not net.training and all(p.dtype == torch.float32 for p in net.parameters())
    assert sum(p.numel() for p in net.parameters()) == card["net"]["parameters"]


def test_split_file_matches_card(zoo, fake_run):
    card = read_card("tiny-light")
    split_path = registry.heldout_split_path("tiny-light")
    assert sha256_file(split_path) == card["data"]["split"]["sha256"] == sha256_file(fake_run[0] / "heldout.json")
    held = Split.load(split_path)
    assert card["data"]["split"]["heldout"] == [{"degraded": e.degraded, "reference": e.reference} for e in held.val]


def test_tampered_weights_are_refused(zoo, tmp_path, monkeypatch):
    copy = tmp_path / "models"
    shutil.copytree(zoo, copy)
    monkeypatch.setattr(registry, "MODELS_DIR", copy)
    weights = copy / "tiny-light" / "model.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one weight
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="sha256 .* does not match|its card says"):
        load_pretrained("tiny-light")
    weights.unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        registry.model_path("tiny-light")


def test_bad_cards_and_unknown_names(zoo, tmp_path, monkeypatch):
    with pytest.raises(UnknownModelError, match="unknown model 'nope'; available models: tiny-light"):
        load_pretrained("nope")
    copy = tmp_path / "models"
    shutil.copytree(zoo, copy)
    monkeypatch.setattr(registry, "MODELS_DIR", copy)
    card_path = copy / "tiny-light" / "card.json"
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**card, "version": 99}))
    with pytest.raises(ModelIntegrityError, match="newer"):
        read_card("tiny-light")
    card_path.write_text("{not json")
    with pytest.raises(ModelIntegrityError, match="unreadable"):
        read_card("tiny-light")
    monkeypatch.setattr(registry, "MODELS_DIR", tmp_path / "nothing")
    assert available_models() == []
    with pytest.raises(UnknownModelError, match="none are bundled"):
        read_card("low-light")


def test_the_network_is_built_from_the_checkpoints_own_net_settings(zoo, fake_run):
    """The run trained with norm "none" (as make_pretrained does). Affine-free norms have no weights,
    so a network built with the default norm would load the same state_dict silently: the card, the
    shipped meta and the loaded module must all say "none", and the output must be the trained one."""
    from hadamard_restore.inference.norm_stats import has_image_stats
    from hadamard_restore.net.model_file import load_model, load_state_into, network_from_meta

    card = read_card("tiny-light")
    blob = torch.load(registry.model_path("tiny-light"), weights_only=True)
    assert card["net"]["norm"] == blob["meta"]["net"]["norm"] == "none"
    net = load_pretrained("tiny-light")
    assert not has_image_stats(net) and (net.norm, net.channels, net.num_hnu) == ("none", 4, 1)
    trained, _ = load_model(fake_run[0] / "train" / "model.pt", "cpu")
    wrong = network_from_meta(dict(blob["meta"], net=dict(blob["meta"]["net"], norm="instance"))).eval()
    load_state_into(wrong, trained.state_dict())  # loads silently: nothing in the weights tells them apart
    x = torch.rand(1, 3, 24, 20, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        got, want, bad = net(x), trained(x), wrong(x)
    assert (got - want).abs().max() < 2e-3  # fp16 storage only
    assert (bad - want).abs().max() > 10 * (got - want).abs().max()
