"""bfloat16 for the loss mix's frozen feature networks (VGG, LPIPS) only, inside a training step.

The VGG and LPIPS terms are most of a training step's cost on a CPU and tolerate bfloat16 (their
networks are frozen; only gradients pass through). The pixel terms (L1, L2, colour, SSIM, TV,
Laplacian) stay in float32: SSIM's local variances are differences of nearly equal means and
would lose their precision. :func:`bf16_features` switches the feature terms to a bfloat16
autocast for the code inside it; :class:`~hadamard_restore.losses.mix.LossMix` asks
:func:`feature_autocast` around those two terms and returns values in the output's dtype
either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch

_BF16: ContextVar[bool] = ContextVar("hadamard_restore_feature_bf16", default=False)


@contextmanager
def bf16_features(enabled: bool = True) -> Iterator[None]:
    """Inside: the VGG and LPIPS terms run under a bfloat16 autocast when ``enabled``."""
    token = _BF16.set(enabled)
    try:
        yield
    finally:
        _BF16.reset(token)


def features_in_bf16() -> bool:
    """True inside :func:`bf16_features` (enabled)."""
    return _BF16.get()


def feature_autocast(device_type: str) -> torch.autocast:
    """The autocast the feature terms run under (disabled unless inside :func:`bf16_features`)."""
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=_BF16.get())
