"""Non-finite metric inputs raise a type of their own, which the trainer reads as divergence."""

from __future__ import annotations

import pytest
import torch

from hadamard_restore.metrics.common import NonFiniteValues
from hadamard_restore.metrics.psnr import psnr
from hadamard_restore.training import health


def test_a_nan_output_raises_the_typed_error_and_the_trainer_calls_it_divergence(tmp_path):
    out, ref = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    out[0, 1, 2, 3] = float("nan")
    with pytest.raises(NonFiniteValues):
        psnr(out, ref, data_range=1.0)
    with pytest.raises(health.TrainingDiverged, match="became NaN or infinite"):
        health.checked_psnr(lambda: float(psnr(out, ref, data_range=1.0)[0]), 7, 1e-3, tmp_path)


def test_another_value_error_is_not_mistaken_for_divergence_whatever_its_text(tmp_path):
    def validate():
        raise ValueError("a bug that mentions NaN or inf values")

    with pytest.raises(ValueError, match="a bug") as info:
        health.checked_psnr(validate, 7, 1e-3, tmp_path)
    assert not isinstance(info.value, health.TrainingDiverged)
