"""The one entry point: a configured checkpoint, else an earlier one, else training (never twice)."""

from __future__ import annotations

import pytest

from hadamard_restore.classifier.provide import provide_classifier
from hadamard_restore.config import ClassifierConfig
from hadamard_restore.errors import CheckpointError
from hadamard_restore.jobs import ClassifierJob


def _no_data(run_dir):
    raise AssertionError("the training data were read: the classifier was trained instead of reused")


def test_configured_checkpoint_is_used_and_must_exist(tmp_path):
    given = tmp_path / "given.pt"
    job = ClassifierJob(ClassifierConfig(checkpoint=given), _no_data, search_crop=32)
    with pytest.raises(CheckpointError, match="does not exist.*hadamard-restore classifier"):
        provide_classifier(job, tmp_path / "out")
    given.write_bytes(b"x")
    assert provide_classifier(job, tmp_path / "out") == given
    assert not (tmp_path / "out").exists()


def test_a_classifier_trained_earlier_into_the_folder_is_reused(tmp_path):
    earlier = tmp_path / "elsewhere" / "classifier.pt"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "path.txt").write_text(str(earlier))
    job = ClassifierJob(ClassifierConfig(), _no_data, search_crop=32)
    assert provide_classifier(job, tmp_path / "out") == earlier


def test_without_either_it_trains_once_and_records_the_path(tmp_path, monkeypatch):
    from hadamard_restore.classifier import provide

    calls = []

    def fake_train(job, out_dir):
        calls.append(out_dir)
        return out_dir / "classifier.pt"

    monkeypatch.setattr(provide, "train_classifier", fake_train)
    job = ClassifierJob(ClassifierConfig(), _no_data, search_crop=32)
    first = provide_classifier(job, tmp_path / "out")
    again = provide_classifier(job, tmp_path / "out")
    assert first == again == (tmp_path / "out" / "classifier.pt").resolve() and len(calls) == 1
