"""The registry: names, cards, and weights checked against their sha256 before use."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from hadamard_restore.artifacts import sha256_file
from hadamard_restore.data.split import Split
from hadamard_restore.zoo import (
    ModelIntegrityError,
    UnknownModelError,
    available_models,
    load_pretrained,
    read_card,
    registry,
)


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
