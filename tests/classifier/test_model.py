"""The clear-vs-degraded classifier: construction, preprocessing, clear_loss, checkpoints, BN stats."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision
from torch import nn

from hadamard_restore.classifier.checkpoint import load_classifier, save_classifier
from hadamard_restore.classifier.model import CLEAR, ClearClassifier, build_classifier, clear_loss, freeze_classifier
from hadamard_restore.classifier.reliability import classifier_record
from hadamard_restore.classifier.training import recalibrate_batchnorm
from hadamard_restore.errors import CheckpointError
from hadamard_restore.losses.preprocess import imagenet_normalize


def test_scratch_when_no_imagenet_weights(monkeypatch):
    from hadamard_restore.backbones import weights

    monkeypatch.setattr(weights, "resnet_state_dict", lambda arch: None)
    state = torch.random.get_rng_state()
    a = build_classifier("resnet18", pretrained=True, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    b = build_classifier("resnet18", pretrained=False, seed=3)
    assert a.init == b.init == "scratch" and a.net.fc.out_features == 2
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))  # seeded


def test_imagenet_trunk_is_loaded_when_present(monkeypatch):
    from hadamard_restore.backbones import weights

    torch.manual_seed(7)
    fake = torchvision.models.resnet18(weights=None).state_dict()  # 1000-class head
    monkeypatch.setattr(weights, "resnet_state_dict", lambda arch: fake)
    model = build_classifier("resnet18", pretrained=True)
    assert model.init == "imagenet"
    assert torch.equal(model.net.conv1.weight, fake["conv1.weight"])
    assert torch.equal(model.net.layer4[1].bn2.running_var, fake["layer4.1.bn2.running_var"])
    assert tuple(model.net.fc.weight.shape) == (2, 512)


def test_forward_normalises_with_imagenet_statistics(gen):
    model = build_classifier("resnet18", pretrained=False).eval()
    x = torch.rand(2, 3, 33, 35, generator=gen)
    with torch.no_grad():
        assert torch.equal(model(x), model.net(imagenet_normalize(x)))
    with pytest.raises(ValueError, match="unknown classifier arch"):
        ClearClassifier("vgg11")


class FixedLogits(nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits)
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.logits * self.scale + 0 * x.mean((1, 2, 3))[:, None]


def test_clear_loss_closed_form():
    clf = freeze_classifier(FixedLogits([[2.0, -1.0], [0.0, 0.0]]))
    x = torch.zeros(2, 3, 8, 8)
    expected = (math.log(1 + math.exp(3.0)) + math.log(2.0)) / 2  # -log p(clear), mean
    assert clear_loss(clf, x).item() == pytest.approx(expected)


def test_clear_loss_needs_eval_mode_and_reaches_only_the_images(gen):
    clf = build_classifier("resnet18", pretrained=False)
    x = torch.rand(2, 3, 32, 32, generator=gen, requires_grad=True)
    with pytest.raises(ValueError, match="eval mode"):
        clear_loss(clf, x)
    freeze_classifier(clf)
    loss = clear_loss(clf, x * 1.5)  # unclamped values outside [0, 1] are fine
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in clf.parameters())
    logp = torch.log_softmax(clf(x * 1.5), 1)[:, CLEAR]
    assert loss.item() == pytest.approx(-logp.mean().item(), rel=1e-5)


def test_checkpoint_round_trip(tmp_path, gen):
    model = build_classifier("resnet18", pretrained=False, seed=1)
    with torch.no_grad():
        model.net.bn1.running_mean.uniform_(generator=gen)
    path = save_classifier(model.eval(), tmp_path / "classifier.pt", val_accuracy=0.97)
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["arch"] == "resnet18" and ckpt["preprocessing"]["mean"] == [0.485, 0.456, 0.406]
    assert ckpt["val_accuracy"] == 0.97 and ckpt["labels"] == {"1": "clear", "0": "degraded"}
    back = load_classifier(tmp_path)  # a run directory works too
    assert not back.training and not any(p.requires_grad for p in back.parameters())
    x = torch.rand(1, 3, 40, 36, generator=gen)
    with torch.no_grad():
        assert torch.equal(back(x), model(x))


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no classifier checkpoint.*hadamard-restore classifier"):
        load_classifier(tmp_path / "missing.pt")
    (tmp_path / "trunc.pt").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(CheckpointError, match="truncated"):
        load_classifier(tmp_path / "trunc.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a hadamard-restore checkpoint.*classifier"):
        load_classifier(tmp_path / "other.pt")
    model = build_classifier("resnet18", pretrained=False)
    save_classifier(model, tmp_path / "c.pt")
    ckpt = torch.load(tmp_path / "c.pt", weights_only=True)
    torch.save({**ckpt, "preprocessing": {"mean": [0.5] * 3, "std": [0.5] * 3}}, tmp_path / "pre.pt")
    with pytest.raises(CheckpointError, match="other input preprocessing"):
        load_classifier(tmp_path / "pre.pt")
    torch.save({**ckpt, "arch": "resnet50"}, tmp_path / "arch.pt")
    with pytest.raises(CheckpointError, match="do not fit a resnet50"):
        load_classifier(tmp_path / "arch.pt")


def test_batchnorm_recalibration_is_the_plain_average(gen):
    model = nn.Sequential(nn.Conv2d(3, 3, 1, bias=False), nn.BatchNorm2d(3))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(3).view(3, 3, 1, 1))
    batches = [torch.rand(4, 3, 5, 6, generator=gen) + k for k in range(3)]
    recalibrate_batchnorm(model.eval(), batches)
    expected = torch.stack([b.mean((0, 2, 3)) for b in batches]).mean(0)
    assert torch.allclose(model[1].running_mean, expected, atol=1e-6)
    assert not model.training and model[1].momentum == 0.1


class _Payload:
    """Unpickling this object would create the file ``marker`` (it must never run)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import pathlib

        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def test_crafted_pickle_is_refused_without_running_it(tmp_path):
    """A classifier.pt whose pickle carries code: refused with CheckpointError, the code never runs."""
    model = build_classifier("resnet18", pretrained=False)
    save_classifier(model, tmp_path / "good.pt")
    ckpt = torch.load(tmp_path / "good.pt", weights_only=True)
    marker = tmp_path / "payload-ran"
    torch.save({**ckpt, "init": _Payload(marker)}, tmp_path / "classifier.pt")
    for load in (load_classifier, classifier_record):
        with pytest.raises(CheckpointError, match="could run code"):
            load(tmp_path / "classifier.pt")
    assert not marker.exists(), "the pickled payload was executed"
    # the same file read without the safeguard would have run it: the test's payload is real
    torch.load(tmp_path / "classifier.pt", weights_only=False)
    assert marker.exists()
