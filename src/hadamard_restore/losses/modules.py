"""Thin ``nn.Module`` wrappers of :mod:`hadamard_restore.losses.functional`.

Each module stores only its hyperparameters (and, for LPIPS, the frozen network) and calls the
pure function; tests check that both agree. The VGG loss module lives in
:mod:`hadamard_restore.losses.vgg`. TV and Laplacian take the reference for a uniform
``loss(x, y)`` signature and ignore it.
"""

from __future__ import annotations

from torch import Tensor, nn

from hadamard_restore.losses import functional as LF


class L1Loss(nn.Module):
    """``mean |x - y|``."""

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return LF.l1(x, y)


class L2Loss(nn.Module):
    """``mean (x - y)^2``."""

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return LF.l2(x, y)


class ColorAngleLoss(nn.Module):
    """``0.1 * mean angle in degrees`` between RGB vectors (authors' scale)."""

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return LF.color_angle(x, y)


class SSIMLoss(nn.Module):
    """``10 * (1 - SSIM)`` (authors' scale), Gaussian window ``window_size``/``sigma``."""

    def __init__(self, window_size: int = LF.SSIM_WINDOW, sigma: float = LF.SSIM_SIGMA):
        super().__init__()
        self.window_size, self.sigma = window_size, sigma

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return LF.ssim_loss(x, y, self.window_size, self.sigma)


class TVLoss(nn.Module):
    """Total variation of ``x`` (authors' scale); ``y`` is ignored."""

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return LF.tv(x)


class LaplacianLoss(nn.Module):
    """Squared valid Laplacian response of ``x`` (authors' scale); ``y`` is ignored."""

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return LF.laplacian(x)


class LPIPSLoss(nn.Module):
    """Mean LPIPS through a frozen ``lpips.LPIPS``.

    Args:
        model: the network; default ``weights.lpips_model(net)`` from the weights cache.
        net: ``"alex"`` (the authors' choice) or ``"vgg"``; used only when ``model`` is None.
        normalize: ``False`` feeds ``[0, 1]`` images directly as the authors did; ``True``
            maps them to ``[-1, 1]`` (see :func:`functional.lpips_loss`).
    """

    def __init__(self, model: nn.Module | None = None, net: str = "alex", normalize: bool = False):
        super().__init__()
        if model is None:
            from hadamard_restore.pretrained import weights

            model = weights.lpips_model(net)
        self.model = model
        self.normalize = normalize

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return LF.lpips_loss(x, y, self.model, self.normalize)
