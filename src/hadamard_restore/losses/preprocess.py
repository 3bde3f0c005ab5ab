"""ImageNet input normalisation shared by the VGG taps and the classifier.

Both backbones were trained on ImageNet with inputs ``(x - mean) / std`` where ``x`` is RGB in
``[0, 1]``. The same transform is applied at training and at use time; inputs are **not**
clamped first (the restored output may leave ``[0, 1]``; docs/method.md 3.2 and 4).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalize(x: Tensor) -> Tensor:
    """``(x - mean) / std`` per RGB channel for ``x`` of shape ``(B, 3, H, W)`` in ``[0, 1]``."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected RGB images of shape (B, 3, H, W), got {tuple(x.shape)}")
    mean, std = _constants(x.dtype, x.device)
    return (x - mean) / std


@lru_cache(maxsize=16)
def _constants(dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    """The mean and std as ``(1, 3, 1, 1)`` tensors, made once per dtype and device: building them
    from Python lists every call copied host to device each step (a sync on a GPU, and illegal
    while a CUDA graph is being captured). Never modified in place."""
    with torch.inference_mode(False), torch.no_grad():
        return (
            torch.tensor(IMAGENET_MEAN, dtype=dtype, device=device).view(1, 3, 1, 1),
            torch.tensor(IMAGENET_STD, dtype=dtype, device=device).view(1, 3, 1, 1),
        )
