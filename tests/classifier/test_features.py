"""The frozen-feature classifier: statistics against a direct computation, gradients to the images, a trunk
that training never changes, head-only checkpoints and what they refuse."""

from __future__ import annotations

import pytest
import torch
import torchvision

from hadamard_restore.classifier.checkpoint import load_classifier, save_classifier
from hadamard_restore.classifier.features import EPS, HIDDEN, trunk_digest
from hadamard_restore.classifier.model import build_classifier, clear_loss, freeze_classifier
from hadamard_restore.classifier.provide import provide_classifier
from hadamard_restore.classifier.reliability import classifier_record
from hadamard_restore.config import ConfigError
from hadamard_restore.errors import CheckpointError, WeightsMissingError
from hadamard_restore.losses.preprocess import imagenet_normalize

pytestmark = pytest.mark.weights


def test_statistics_are_the_per_channel_mean_and_std_at_each_tap(provisioned_weights, gen):
    state = torch.random.get_rng_state()
    clf = build_classifier("vgg16-features", seed=2)
    assert torch.equal(torch.random.get_rng_state(), state)  # seeded head, global RNG untouched
    again = build_classifier("vgg16-features", seed=2)
    assert all(torch.equal(p, q) for p, q in zip(clf.head.parameters(), again.head.parameters()))
    assert clf.init == "imagenet" and not any(p.requires_grad for p in clf.trunk.parameters())
    assert clf.training and not clf.trunk.training  # the trunk is in eval mode even in train()
    x = torch.rand(3, 3, 40, 36, generator=gen)
    stats = clf.statistics(x)
    assert stats.shape == (3, 2 * (64 + 128 + 256 + 512))
    with torch.no_grad():
        relu1_2 = clf.trunk[:4](imagenet_normalize(x)).flatten(2)  # (3, 64, 40*36)
        relu4_3 = clf.trunk(imagenet_normalize(x)).flatten(2)  # (3, 512, 5*4)
    std = lambda f: torch.sqrt(f.var(2, unbiased=False) + EPS)  # noqa: E731
    assert torch.allclose(stats[:, :64], relu1_2.mean(2), rtol=1e-5, atol=1e-6)
    assert torch.allclose(stats[:, 64:128], std(relu1_2), rtol=1e-4, atol=1e-5)
    assert torch.allclose(stats[:, -1024:-512], relu4_3.mean(2), rtol=1e-4, atol=1e-5)
    assert torch.allclose(stats[:, -512:], std(relu4_3), rtol=1e-4, atol=1e-5)
    assert clf(x).shape == (3, 2) and clf.head[1].in_features == stats.shape[1] == clf.head[0].num_features
    assert clf.head[3].in_features == HIDDEN and clf.head[3].out_features == 2
    alex = build_classifier("alexnet-features").eval()
    assert alex.statistics(x).shape == (3, 2 * (64 + 192 + 384 + 256 + 256)) and alex(x).shape == (3, 2)
    assert alex(x[..., :31, :31]).shape == (3, 2) and clf(x[..., :8, :8]).shape == (3, 2)  # the smallest
    for model, side in ((alex, 30), (clf, 7)):
        with pytest.raises(ConfigError, match=f"at least {side + 1} px.*search.crop"):
            model(x[..., :side, :])


def test_clear_loss_gradient_reaches_the_images_and_matches_finite_differences(provisioned_weights, gen):
    clf = freeze_classifier(build_classifier("vgg16-features", seed=1)).double()
    with torch.no_grad():  # a head that is not at its initialisation: non-trivial statistics
        clf.head[0].running_mean.normal_(generator=gen)
        clf.head[0].running_var.uniform_(0.5, 2.0, generator=gen)
    x = torch.rand(2, 3, 24, 20, generator=gen, dtype=torch.float64, requires_grad=True)
    loss = clear_loss(clf, x * 1.2)
    (grad,) = torch.autograd.grad(loss, x)
    assert grad.abs().sum() > 0 and all(p.grad is None for p in clf.parameters())
    h = 1e-8  # ReLU kinks lie within 1e-6 of some of the ~10^5 units; double precision allows 1e-8
    for _ in range(3):
        v = torch.randn(x.shape, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            fd = (clear_loss(clf, (x + h * v) * 1.2) - clear_loss(clf, (x - h * v) * 1.2)) / (2 * h)
        assert float((grad * v).sum()) == pytest.approx(float(fd), rel=1e-4, abs=1e-9)


def _capture_models(monkeypatch):
    from hadamard_restore.classifier import training

    built, trunk_modes = [], []

    def build(arch, pretrained, seed):
        model = build_classifier(arch, pretrained, seed)
        trunk = model.trunk
        trunk[0].register_forward_pre_hook(lambda m, a: trunk_modes.append(any(t.training for t in trunk.modules())))
        built.append(model)
        return model

    monkeypatch.setattr(training, "build_classifier", build)
    return built, trunk_modes


def test_training_separates_dark_images_and_leaves_the_trunk_bitwise_unchanged(
    provisioned_weights, tiny_pairs, tmp_path, monkeypatch
):
    from hadamard_restore.backbones import weights
    from hadamard_restore.classifier.reliability import held_out_accuracy
    from hadamard_restore.config import ClassifierConfig
    from hadamard_restore.data.dataset import PairedImages
    from hadamard_restore.data.layouts import Pair
    from hadamard_restore.jobs import ClassifierJob

    pairs = [Pair(tiny_pairs / "degraded" / f"img{i}.png", tiny_pairs / "reference" / f"img{i}.png") for i in range(8)]
    settings = ClassifierConfig(arch="vgg16-features", steps=20, batch_size=8, lr=1e-3)
    job = ClassifierJob(settings, lambda out: (pairs[:6], pairs[6:]), search_crop=32, seed=3, device="cpu")
    built, trunk_modes = _capture_models(monkeypatch)
    path = provide_classifier(job, tmp_path / "clf")  # trains (dark = 0.25 * reference + noise)
    (model,) = built
    cached = weights.vgg_features("vgg16").state_dict()
    assert all(torch.equal(v, cached[k]) for k, v in model.trunk.state_dict().items())  # bitwise
    assert len(trunk_modes) > 20 and not any(trunk_modes)  # trunk in eval mode at every forward
    fresh = build_classifier("vgg16-features", seed=3)
    assert not torch.equal(model.head[1].weight, fresh.head[1].weight)  # the head did train

    val = PairedImages(pairs[6:])
    untrained = held_out_accuracy(fresh, val, "cpu", eval_crop=32)["accuracy"]
    metrics = classifier_record(path, 32)
    assert metrics["accuracy"] >= 0.9 and metrics["accuracy"] > untrained and metrics["init"] == "imagenet"
    assert metrics["reliable"] is True and metrics["eval_crop"] == 32
    loaded = load_classifier(path)
    again = held_out_accuracy(loaded, val, "cpu", eval_crop=32)
    assert again["accuracy"] == metrics["accuracy"]  # the checkpoint is the classifier that was measured


def test_checkpoint_holds_only_the_head_and_round_trips(provisioned_weights, tmp_path, gen):
    clf = build_classifier("alexnet-features", seed=0)
    with torch.no_grad():
        for p in clf.head.parameters():
            p.add_(torch.randn(p.shape, generator=gen))
        clf.head[0].running_mean.normal_(generator=gen)
    path = save_classifier(clf.eval(), tmp_path / "classifier.pt", val_accuracy=0.99, eval_crop=64)
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["arch"] == "alexnet-features" and set(ckpt["state_dict"]) == set(clf.head_state())
    assert all(k.startswith("head.") for k in ckpt["state_dict"]) and ckpt["trunk_sha256"] == trunk_digest(clf.trunk)
    trunk_bytes = sum(v.numel() * 4 for v in clf.trunk.state_dict().values())
    assert path.stat().st_size < 1.5e6 < trunk_bytes
    back = load_classifier(tmp_path)
    assert not back.training and not any(p.requires_grad for p in back.parameters())
    x = torch.rand(2, 3, 64, 48, generator=gen)
    with torch.no_grad():
        assert torch.equal(back(x), clf(x))
    assert classifier_record(path, 64)["accuracy"] == 0.99


def test_mismatched_checkpoints_and_missing_weights_are_refused(provisioned_weights, tmp_path, monkeypatch):
    from hadamard_restore.config import load_config

    save_classifier(build_classifier("vgg16-features").eval(), tmp_path / "c.pt")
    ckpt = torch.load(tmp_path / "c.pt", weights_only=True)
    del ckpt["weights_sha256"]  # hand-edited files: what is checked here is not the weights' digest
    cases = {
        "digest.pt": ({**ckpt, "trunk_sha256": "0" * 64}, "other vgg16 weights"),
        "alex.pt": ({**ckpt, "arch": "alexnet-features"}, "do not fit a alexnet-features"),
        "trunk.pt": ({**ckpt, "state_dict": {**ckpt["state_dict"], "trunk.0.weight": torch.zeros(1)}}, "only its head"),
        "resnet.pt": (
            {**ckpt, "state_dict": torchvision.models.resnet18(num_classes=2).state_dict()},
            "only its head",
        ),
    }
    for name, (blob, message) in cases.items():
        torch.save(blob, tmp_path / name)
        with pytest.raises(CheckpointError, match=message):
            load_classifier(tmp_path / name)
    with pytest.raises(ValueError, match="cannot start from scratch"):
        build_classifier("vgg16-features", pretrained=False)
    with pytest.raises(ConfigError, match="cannot start from scratch.*backbones install"):
        load_config(None, ["classifier.arch=vgg16-features", "classifier.pretrained=false"])
    monkeypatch.setenv("HADAMARD_RESTORE_WEIGHTS", str(tmp_path / "empty"))
    for attempt in (lambda: build_classifier("vgg16-features"), lambda: load_classifier(tmp_path / "c.pt")):
        with pytest.raises(WeightsMissingError, match="hadamard-restore backbones install"):
            attempt()


def test_feature_judges_train_their_head_at_head_lr_and_are_the_default():
    from hadamard_restore.classifier.training import learning_rate
    from hadamard_restore.config import ClassifierConfig

    assert ClassifierConfig().arch == "vgg16-features"
    assert learning_rate(ClassifierConfig(arch="vgg16-features", lr=5e-5, head_lr=2e-3)) == 2e-3
    assert learning_rate(ClassifierConfig(arch="resnet18", lr=5e-5, head_lr=2e-3)) == 5e-5
