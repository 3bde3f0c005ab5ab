"""The image-quality losses of the loss search space as pure functions (docs/method.md section 3).

Every function takes images ``(B, C, H, W)`` (restored output ``x``, unclamped, and reference
``y`` in ``[0, 1]``) and returns a **scalar** tensor: the mean over the batch, in the scale
conventions of the authors' code. Those scales matter: the published loss weights (docs/method.md
7.1) were searched with exactly these scales, so e.g. SSIM enters as ``10 * (1 - SSIM)`` and the
colour term as ``0.1 *`` the mean angle in *degrees*. Metrics (``hadamard_restore.metrics``)
follow the evaluation protocol instead and must not be confused with these training terms.

No function clamps its input: the network output is unclamped during training (docs/method.md 1.1).

Examples:
    >>> import torch
    >>> x = torch.zeros(1, 3, 5, 7); x[:, 0] = 1.0          # pure red
    >>> y = torch.zeros(1, 3, 5, 7); y[:, 1] = 1.0          # pure green
    >>> round(color_angle(x, y).item(), 4)                  # 0.1 * 90 degrees
    9.0
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "COLOR_DOT_CLAMP",
    "SSIM_C1",
    "SSIM_C2",
    "SSIM_SIGMA",
    "SSIM_WINDOW",
    "l1",
    "l2",
    "color_angle",
    "gaussian_window",
    "ssim_map",
    "ssim_loss",
    "tv",
    "laplacian",
    "lpips_loss",
    "angle_floor",
]

COLOR_DOT_CLAMP = 0.999999
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2


def _check_pair(x: Tensor, y: Tensor, fn: str) -> None:
    if x.dim() != 4:
        raise ValueError(
            f"{fn}: expected images of shape (B, C, H, W), got {tuple(x.shape)}; add a batch dimension with img[None]"
        )
    if x.shape != y.shape:
        raise ValueError(
            f"{fn}: output {tuple(x.shape)} and reference {tuple(y.shape)} differ in shape; "
            "crop or resize them to the same size"
        )


def _check_image(x: Tensor, fn: str, min_hw: int = 1) -> None:
    if x.dim() != 4:
        raise ValueError(
            f"{fn}: expected images of shape (B, C, H, W), got {tuple(x.shape)}; add a batch dimension with img[None]"
        )
    if x.shape[-2] < min_hw or x.shape[-1] < min_hw:
        raise ValueError(f"{fn}: images must be at least {min_hw}x{min_hw} pixels, got {x.shape[-2]}x{x.shape[-1]}")


def l1(x: Tensor, y: Tensor) -> Tensor:
    """Mean absolute error ``mean |x - y|`` over all elements (``nn.L1Loss``)."""
    _check_pair(x, y, "l1")
    return (x - y).abs().mean()


def l2(x: Tensor, y: Tensor) -> Tensor:
    """Mean squared error ``mean (x - y)^2`` over all elements (``nn.MSELoss``)."""
    _check_pair(x, y, "l2")
    return (x - y).pow(2).mean()


def color_angle(x: Tensor, y: Tensor) -> Tensor:
    """Colour loss: ``0.1 * mean_p angle_deg(x_p, y_p)`` over all pixels of all images.

    For each pixel ``p`` the RGB 3-vectors are L2-normalised along the channel axis
    (``F.normalize``, eps 1e-12), their dot product is clamped to ``±0.999999`` and
    ``arccos`` gives the angle, converted to degrees. The factor 0.1 and the degrees are the
    authors' scale. The authors' code flattened one image to ``3 x (H*W)`` (B = 1); here each
    pixel of each image counts once, which is the same for B = 1 and the natural mean for B > 1.

    Because of the clamp the value on identical images is not 0 but the floor
    ``0.1 * degrees(arccos(0.999999)) ~= 0.0081``, and its gradient there is 0.

    Args:
        x: output ``(B, C, H, W)``.
        y: reference ``(B, C, H, W)``.

    Returns:
        Scalar tensor, in ``[0.0081, 18]``.
    """
    _check_pair(x, y, "color_angle")
    xn = F.normalize(x, dim=1)
    yn = F.normalize(y, dim=1)
    dot = (xn * yn).sum(dim=1).clamp(-COLOR_DOT_CLAMP, COLOR_DOT_CLAMP)
    return 0.1 * torch.rad2deg(torch.acos(dot)).mean()


def gaussian_window(
    size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA, *, dtype: torch.dtype = torch.float32, device=None
) -> Tensor:
    """The normalised 2-D Gaussian ``g g^T`` with ``g_i ∝ exp(-(i - size//2)^2 / (2 sigma^2))``.

    Returns:
        ``(size, size)`` tensor summing to 1.
    """
    coords = torch.arange(size, dtype=torch.float64, device=device) - size // 2
    g = torch.exp(-coords.pow(2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g).to(dtype)


def ssim_map(x: Tensor, y: Tensor, window_size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> Tensor:
    """Per-pixel SSIM map in the pytorch-ssim convention (data range 1, no clamping).

    Local statistics use the Gaussian window per channel (grouped ``conv2d``) with **zero
    padding** ``window_size // 2``, so the map has the input size and border pixels see zeros:

    ``SSIM = ((2 mu_x mu_y + C1)(2 s_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))``
    with ``C1 = 0.01^2``, ``C2 = 0.03^2``, ``s_x^2 = G*(x^2) - mu_x^2``, ``s_xy = G*(xy) - mu_x mu_y``.

    Returns:
        ``(B, C, H, W)`` map.
    """
    _check_pair(x, y, "ssim")
    c = x.shape[1]
    win = gaussian_window(window_size, sigma, dtype=x.dtype, device=x.device)
    win = win.expand(c, 1, window_size, window_size).contiguous()
    pad = window_size // 2

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(t, win, padding=pad, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    mu_x2, mu_y2, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    s_x = blur(x * x) - mu_x2
    s_y = blur(y * y) - mu_y2
    s_xy = blur(x * y) - mu_xy
    num = (2 * mu_xy + SSIM_C1) * (2 * s_xy + SSIM_C2)
    den = (mu_x2 + mu_y2 + SSIM_C1) * (s_x + s_y + SSIM_C2)
    return num / den


def ssim_loss(x: Tensor, y: Tensor, window_size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> Tensor:
    """SSIM loss in the authors' scale: ``10 * (1 - mean(ssim_map(x, y)))``.

    The factor 10 is in the authors' code (not in the paper's Table 1); the published SSIM weights
    (docs/method.md 7.1) assume it. The mean runs over batch, channels and pixels (pytorch-ssim's
    ``size_average=True``). 0 on identical images.

    Returns:
        Scalar tensor, ``0`` for identical images, up to about ``20``.
    """
    return 10.0 * (1.0 - ssim_map(x, y, window_size, sigma).mean())


def tv(x: Tensor) -> Tensor:
    """Total variation of the output alone (no reference), authors' scale:

    ``2 * ( sum (x[y+1,x] - x[y,x])^2 / (C (H-1) W) + sum (x[y,x+1] - x[y,x])^2 / (C H (W-1)) ) / B``

    where the sums run over the whole batch. 0 on constant images; ``2 a^2`` on the ramp
    ``x[.., w] = a * w``.

    Args:
        x: output ``(B, C, H, W)``, ``H, W >= 2``.
    """
    _check_image(x, "tv", min_hw=2)
    b, c, h, w = x.shape
    dh = (x[:, :, 1:, :] - x[:, :, :-1, :]).pow(2).sum()
    dw = (x[:, :, :, 1:] - x[:, :, :, :-1]).pow(2).sum()
    return 2.0 * (dh / (c * (h - 1) * w) + dw / (c * h * (w - 1))) / b


_LAPLACE = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))


def laplacian(x: Tensor) -> Tensor:
    """Squared Laplacian response of the output alone, authors' scale:

    ``sum (K * x)^2 / (C H W) / B`` with ``K = [[0,1,0],[1,-4,1],[0,1,0]]`` applied per channel
    as a *valid* (unpadded) depthwise convolution; ``H, W`` are the input sizes. The paper writes
    the response without the square; the authors' code squares it, and the searched weights
    assume the square. 0 on constant (and on linear) images.

    Args:
        x: output ``(B, C, H, W)``, ``H, W >= 3``.
    """
    _check_image(x, "laplacian", min_hw=3)
    b, c, h, w = x.shape
    k = torch.tensor(_LAPLACE, dtype=x.dtype, device=x.device).expand(c, 1, 3, 3).contiguous()
    resp = F.conv2d(x, k, groups=c)
    return resp.pow(2).sum() / (c * h * w) / b


def lpips_loss(x: Tensor, y: Tensor, model: torch.nn.Module, normalize: bool = False) -> Tensor:
    """LPIPS distance averaged over the batch, through a frozen ``lpips.LPIPS`` model.

    The authors fed the network output and reference **directly in [0, 1]** (``normalize=False``),
    although LPIPS expects ``[-1, 1]``; the published weights were searched that way, so this is
    the default here. ``normalize=True`` maps ``[0, 1] -> [-1, 1]`` first (the metric's
    convention, used by ``hadamard_restore.metrics.perceptual.lpips``).

    Args:
        x, y: ``(B, 3, H, W)``.
        model: an ``lpips.LPIPS`` (e.g. ``weights.lpips_model("alex")``), in eval mode.
        normalize: map inputs from ``[0, 1]`` to ``[-1, 1]`` before the network.

    Returns:
        Scalar tensor, the mean of the per-image distances; 0 on identical images.
    """
    _check_pair(x, y, "lpips")
    if x.shape[1] != 3:
        raise ValueError(f"lpips: expected RGB images with 3 channels, got {x.shape[1]}")
    return model(x, y, normalize=normalize).mean()


def angle_floor() -> float:
    """The colour loss of identical images: ``0.1 * degrees(arccos(0.999999))``."""
    return 0.1 * math.degrees(math.acos(COLOR_DOT_CLAMP))
