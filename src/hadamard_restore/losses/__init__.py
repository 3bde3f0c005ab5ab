"""The loss search space (docs/method.md 3).

- :mod:`.functional`: the eight losses as pure functions in the authors' scales.
- :mod:`.vgg`: VGG taps and the searched-layer loss.
- :mod:`.mix`: :class:`LossMix` (``beta`` and VGG logits as parameters).
- :mod:`.loss_weights`: ``loss_weights.json`` and the bundled published weights.

The clear-vs-degraded classifier that judges the loss search lives in :mod:`hadamard_restore.classifier`.
"""

from hadamard_restore.losses.functional import (
    color_angle,
    l1,
    l2,
    laplacian,
    lpips_loss,
    ssim_loss,
    tv,
)
from hadamard_restore.losses.loss_weights import LOSS_NAMES, LossWeights, bundled_names, load_loss_weights
from hadamard_restore.losses.mix import LossMix
from hadamard_restore.losses.vgg import VGGLoss, VGGTaps, vgg_loss

__all__ = [
    "LOSS_NAMES",
    "LossMix",
    "LossWeights",
    "VGGLoss",
    "VGGTaps",
    "bundled_names",
    "color_angle",
    "l1",
    "l2",
    "laplacian",
    "load_loss_weights",
    "lpips_loss",
    "ssim_loss",
    "tv",
    "vgg_loss",
]
