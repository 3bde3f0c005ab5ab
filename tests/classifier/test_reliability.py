"""Held-out accuracy at the judged size, training-window sides, and the low-accuracy warning."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from hadamard_restore.classifier.reliability import ACCURACY_WARN, held_out_accuracy, reliability_warning
from hadamard_restore.classifier.training import train_sides
from hadamard_restore.config import load_config
from hadamard_restore.jobs import classifier_job


class Brightness(nn.Module):
    """Says "clear" (logit 1 > logit 0) when the window's mean exceeds ``thr``; records input shapes."""

    def __init__(self, thr: float):
        super().__init__()
        self.thr, self.shapes = thr, []

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        m = x.mean((1, 2, 3))
        return torch.stack([self.thr - m, m - self.thr], 1)


class Pairs:
    """A ``PairedImages`` stand-in: ``full(i)`` gives (degraded, reference)."""

    def __init__(self, degraded, references):
        self.items = list(zip(degraded, references))

    def __len__(self):
        return len(self.items)

    def full(self, i):
        return self.items[i]


def _dark_and_bright(gen, n=3, h=37, w=41):
    deg = [0.3 * torch.rand(3, h, w, generator=gen) for _ in range(n)]
    ref = [0.6 + 0.4 * torch.rand(3, h, w, generator=gen) for _ in range(n)]
    return Pairs(deg, ref)


def test_accuracy_is_counted_over_windows_of_the_judged_size(gen):
    data = _dark_and_bright(gen)
    model = Brightness(0.45)
    m = held_out_accuracy(model, data, "cpu", eval_crop=17, crops_per_image=5)
    assert m == {"accuracy": 1.0, "accuracy_clear": 1.0, "accuracy_degraded": 1.0, "images": 6, "judged": 30}
    assert set(model.shapes) == {(5, 3, 17, 17)}
    # a judge that calls everything clear: half right, every degraded window wrong
    m = held_out_accuracy(Brightness(-1.0), data, "cpu", eval_crop=17, crops_per_image=2)
    assert (m["accuracy"], m["accuracy_clear"], m["accuracy_degraded"], m["judged"]) == (0.5, 1.0, 0.0, 12)


def test_window_larger_than_image_is_clipped_and_full_images_without_crop(gen):
    data = _dark_and_bright(gen, n=2, h=19, w=23)
    model = Brightness(0.45)
    held_out_accuracy(model, data, "cpu", eval_crop=64, crops_per_image=3)
    assert set(model.shapes) == {(3, 3, 19, 19)}
    model.shapes.clear()
    m = held_out_accuracy(model, data, "cpu", eval_crop=None)
    assert set(model.shapes) == {(1, 3, 19, 23)} and m["judged"] == 4


def test_accuracy_depends_on_the_window_not_only_on_the_image(gen):
    """Degraded images with a bright band: small windows can miss it, full images see it."""
    deg = torch.zeros(3, 30, 30)
    deg[:, :, :4] = 1.0  # full-image mean 0.133
    data = Pairs([deg], [torch.full((3, 30, 30), 0.2)])
    model = Brightness(0.1)  # full degraded image -> "clear" (wrong)
    assert held_out_accuracy(model, data, "cpu", None)["accuracy_degraded"] == 0.0
    # 8-px windows away from the band have mean 0 -> "degraded" (right); seeded, so repeatable
    a = held_out_accuracy(model, data, "cpu", 8, crops_per_image=20)
    b = held_out_accuracy(model, data, "cpu", 8, crops_per_image=20)
    assert a == b and 0.0 < a["accuracy_degraded"] < 1.0


def test_accuracy_warning_below_threshold():
    ok = {"accuracy": ACCURACY_WARN, "accuracy_clear": 0.9, "accuracy_degraded": 0.9, "eval_crop": 64}
    assert reliability_warning(ok) is None
    bad = {"accuracy": 0.5, "accuracy_clear": 1.0, "accuracy_degraded": 0.0, "eval_crop": 64}
    msg = reliability_warning(bad)
    assert "0.500 < 0.90" in msg and "64px windows" in msg and "degraded 0.00" in msg and "classifier.steps" in msg
    assert reliability_warning({**bad, "eval_crop": None}).count("full images") == 1
    assert reliability_warning(ok, threshold=0.95) is not None


def test_train_sides_cover_the_jittered_range():
    assert train_sides(64, 0.25, 400) == list(range(48, 81))
    assert train_sides(64, 0.0, 400) == [64]
    assert train_sides(64, 0.5, 70) == list(range(32, 71))  # clipped to the smallest image
    assert train_sides(20, 0.5, 400) == list(range(16, 31))  # never below 16
    assert train_sides(64, 0.25, 40) == [40]  # images smaller than the window


def test_judged_size_defaults_to_the_search_crop():
    cfg = load_config(None, ["search.crop=72"])
    assert cfg.classifier.crop is None and classifier_job(cfg).judged_crop == 72 == classifier_job(cfg).train_crop
    assert classifier_job(load_config(None, ["search.crop=72", "classifier.eval_crop=96"])).judged_crop == 96


def test_classifier_record_flags_low_accuracy_and_size_mismatch(tmp_path):
    from hadamard_restore.classifier.checkpoint import save_classifier
    from hadamard_restore.classifier.model import build_classifier
    from hadamard_restore.classifier.reliability import classifier_record

    path = save_classifier(
        build_classifier("resnet18", pretrained=False), tmp_path / "classifier.pt", val_accuracy=0.97, eval_crop=64
    )
    rec = classifier_record(path, 64)  # from the checkpoint alone
    assert rec["accuracy"] == 0.97 and rec["reliable"] is True and rec["warning"] is None
    rec = classifier_record(path, 192)
    assert rec["reliable"] is False and "measured on 64px windows" in rec["warning"] and "192px" in rec["warning"]
    (tmp_path / "classifier_metrics.json").write_text(
        json.dumps(
            {"accuracy": 0.5, "accuracy_clear": 1.0, "accuracy_degraded": 0.0, "eval_crop": 64, "init": "scratch"}
        )
    )
    rec = classifier_record(path, 64)  # the metrics file wins
    assert rec["accuracy"] == 0.5 and rec["accuracy_degraded"] == 0.0 and rec["reliable"] is False
    assert "0.500 < 0.9" in rec["warning"]


@pytest.mark.parametrize("bad", ["classifier.scale_jitter=1.0", "classifier.eval_crops_per_image=0"])
def test_bad_classifier_settings_are_refused(bad):
    from hadamard_restore.config import ConfigError

    with pytest.raises(ConfigError, match=bad.split("=")[0].split(".")[1]):
        load_config(None, [bad])


def test_search_logs_a_warning_for_an_untrustworthy_judge(tmp_path, caplog):
    import logging

    from hadamard_restore.classifier.checkpoint import save_classifier
    from hadamard_restore.classifier.model import build_classifier
    from hadamard_restore.classifier.reliability import logged_classifier_record

    path = save_classifier(
        build_classifier("resnet18", pretrained=False), tmp_path / "classifier.pt", val_accuracy=0.5, eval_crop=48
    )
    with caplog.at_level(logging.INFO, logger="hadamard_restore"):
        assert logged_classifier_record(path, 48)["reliable"] is False
    assert [r.levelname for r in caplog.records] == ["WARNING"] and "untrustworthy" in caplog.text
    caplog.clear()
    path = save_classifier(
        build_classifier("resnet18", pretrained=False),
        tmp_path / "ok" / "classifier.pt",
        val_accuracy=0.99,
        eval_crop=48,
    )
    with caplog.at_level(logging.INFO, logger="hadamard_restore"):
        assert logged_classifier_record(path, 48)["reliable"] is True
    assert [r.levelname for r in caplog.records] == ["INFO"]


def test_train_classifier_records_the_warning(tmp_path, monkeypatch, caplog):
    """A judge that calls everything clear: classifier_metrics.json and the checkpoint say so."""
    import logging
    from pathlib import Path

    from hadamard_restore.classifier import training as T

    monkeypatch.setattr(
        T,
        "held_out_accuracy",
        lambda model, ds, device, crop, n: {
            "accuracy": 0.5,
            "accuracy_clear": 1.0,
            "accuracy_degraded": 0.0,
            "images": 2 * len(ds),
            "judged": 2 * n * len(ds),
        },
    )
    cfg = load_config(
        Path(__file__).resolve().parents[2] / "configs" / "demo.yaml",
        [
            f"out_dir={tmp_path}",
            "data.demo.size=32",
            "data.demo.crops_per_image=1",
            "search.crop=24",
            "classifier.crop=null",
            "classifier.steps=1",
            "classifier.batch_size=2",
            "classifier.pretrained=false",
            "device=cpu",
        ],
    )
    with caplog.at_level(logging.WARNING, logger="hadamard_restore"):
        path = T.train_classifier(classifier_job(cfg), tmp_path / "clf")
    metrics = json.loads((tmp_path / "clf" / "classifier_metrics.json").read_text())
    assert metrics["reliable"] is False and metrics["warn_below"] == ACCURACY_WARN
    assert metrics["crop"] == metrics["eval_crop"] == 24 and "0.500 < 0.90" in metrics["warning"]
    assert metrics["warning"] in caplog.text
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["reliable"] is False and ckpt["eval_crop"] == 24 and ckpt["val_accuracy"] == 0.5
