"""Synthetic degradations: deterministic formulas plus seeded parameter samplers.

Each degradation is a pure function of the clean image ``J`` (``(3, H, W)`` or
``(B, 3, H, W)`` in ``[0, 1]``) and a few scalar parameters; randomness lives only in
:func:`sample_params` (and in the sensor-noise draw of :func:`low_light`), both taking an
explicit ``torch.Generator``. Parameters are plain floats/lists, so they can be saved as JSON.

- **low light**: ``x = gain * J ** gamma`` (darkening, monotone in ``J``), then
  Poisson-Gaussian sensor noise ``y = shot * Poisson(x / shot) + read * N(0, 1)``, clipped
  to ``[0, 1]``. ``shot`` is the intensity of one photo-electron; ``read`` the read-noise std.
- **haze** (atmospheric scattering model): ``y = J t + A (1 - t)``, ``t = exp(-beta d)``,
  with ``A`` the airlight (per channel) and ``d`` the smooth :func:`depth_map`.
- **underwater** (simplified Jaffe-McGlamery): per channel ``c``,
  ``y_c = J_c t_c + B_c (1 - t_c)``, ``t_c = exp(-b_c d)``, attenuation ``b_red`` largest
  (red light is absorbed first), ``B`` the veiling backscatter colour.

The samplers draw degradations of the strength seen in LOL, SOTS and UIEB/LSUI.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from hadamard_restore.errors import DataError

TASKS = ("low-light", "dehaze", "underwater")
_ALIASES = {
    "low_light": "low-light",
    "lowlight": "low-light",
    "llie": "low-light",
    "haze": "dehaze",
    "sihr": "dehaze",
    "uie": "underwater",
}


def task_name(task: str) -> str:
    """Canonical task name (``low-light``, ``dehaze``, ``underwater``)."""
    key = _ALIASES.get(task.lower(), task.lower())
    if key not in TASKS:
        raise DataError(f"no synthetic degradation for task {task!r}; choose one of {', '.join(TASKS)}")
    return key


def _check_image(img: torch.Tensor) -> None:
    if img.ndim not in (3, 4) or img.shape[-3] != 3:
        raise DataError(f"expected an RGB image (3, H, W) or batch (B, 3, H, W), got shape {tuple(img.shape)}")


def depth_map(
    height: int,
    width: int,
    near: float = 0.3,
    far: float = 1.5,
    angle: float = math.pi / 2,
    wave: float = 0.0,
    freq: float = 1.0,
    phase: float = 0.0,
) -> torch.Tensor:
    """A smooth scene depth ``(H, W)`` with values in ``[near, far]``.

    ``s = n(cos(angle) u - sin(angle) v + wave sin(2 pi freq (sin(angle) u + cos(angle) v) + phase))``,
    with ``u, v`` the column/row coordinates in ``[-0.5, 0.5]`` (row 0 at the top) and ``n`` the
    affine map of the formula's bounds onto ``[0, 1]``; ``d = near + (far - near) s``. With the
    default ``angle = pi / 2`` depth grows towards the top of the image (the sky is far).
    """
    if not 0 <= near <= far:
        raise DataError(f"depth_map needs 0 <= near <= far, got near={near}, far={far}")
    v = (torch.arange(height, dtype=torch.float32) + 0.5) / height - 0.5
    u = (torch.arange(width, dtype=torch.float32) + 0.5) / width - 0.5
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    ca, sa = math.cos(angle), math.sin(angle)
    s = ca * uu - sa * vv + wave * torch.sin(2 * math.pi * freq * (sa * uu + ca * vv) + phase)
    bound = 0.5 * (abs(ca) + abs(sa)) + abs(wave)
    s = (s + bound) / (2 * bound) if bound > 0 else torch.zeros_like(s)
    return near + (far - near) * s


def _depth(img: torch.Tensor, p: dict[str, Any]) -> torch.Tensor:
    keys = ("near", "far", "angle", "wave", "freq", "phase")
    return depth_map(img.shape[-2], img.shape[-1], **{k: p[f"depth_{k}"] for k in keys if f"depth_{k}" in p})


def low_light(
    img: torch.Tensor,
    gamma: float,
    gain: float,
    shot: float = 0.0,
    read: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Darken with ``gain * J ** gamma``, then add Poisson-Gaussian noise (see module docstring).

    Args:
        img: clean image(s) in ``[0, 1]``.
        gamma: >= 1 darkens mid-tones more than highlights.
        gain: in ``(0, 1]``, overall exposure.
        shot: photo-electron intensity (0 = no shot noise); needs ``generator`` when > 0.
        read: read-noise standard deviation (0 = none); needs ``generator`` when > 0.

    Returns:
        The low-light image(s), same shape, in ``[0, 1]``.
    """
    _check_image(img)
    if gamma <= 0 or not 0 < gain <= 1 or shot < 0 or read < 0:
        raise DataError(
            f"low_light needs gamma > 0, 0 < gain <= 1, shot >= 0, read >= 0; "
            f"got gamma={gamma}, gain={gain}, shot={shot}, read={read}"
        )
    x = gain * img.clamp(0, 1) ** gamma
    if (shot > 0 or read > 0) and generator is None:
        raise DataError("low_light with noise (shot or read > 0) needs an explicit torch.Generator")
    if shot > 0:
        x = torch.poisson(x / shot, generator=generator) * shot
    if read > 0:
        x = x + read * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return x.clamp(0, 1)


def transmission(img: torch.Tensor, beta: float, **depth: float) -> torch.Tensor:
    """``t = exp(-beta d)`` as ``(1, H, W)``, in ``(0, 1]`` for ``beta >= 0``."""
    return torch.exp(-beta * _depth(img, depth))[None]


def haze(img: torch.Tensor, beta: float, airlight: list[float] | float = 0.9, **depth: float) -> torch.Tensor:
    """Atmospheric scattering ``y = J t + A (1 - t)``, ``t = exp(-beta d)``.

    Args:
        img: clean image(s) ``J`` in ``[0, 1]``.
        beta: scattering coefficient (>= 0; 0 gives ``y = J``).
        airlight: ``A``, one value or three (RGB), in ``[0, 1]``.
        depth: ``depth_near``, ``depth_far``, ``depth_angle``, ``depth_wave``, ``depth_freq``,
            ``depth_phase`` for :func:`depth_map`.
    """
    _check_image(img)
    if beta < 0:
        raise DataError(f"haze needs beta >= 0, got {beta}")
    t = transmission(img, beta, **depth)
    a = torch.as_tensor(airlight, dtype=img.dtype).reshape(-1, 1, 1)
    return img * t + a * (1 - t)


def underwater(img: torch.Tensor, attenuation: list[float], backscatter: list[float], **depth: float) -> torch.Tensor:
    """Per-channel attenuation and backscatter ``y_c = J_c t_c + B_c (1 - t_c)``, ``t_c = exp(-b_c d)``.

    Args:
        img: clean image(s) in ``[0, 1]``.
        attenuation: ``b`` for R, G, B (>= 0 per unit depth; red is largest in real water).
        backscatter: ``B`` for R, G, B in ``[0, 1]`` (the water's veiling colour).
        depth: ``depth_*`` parameters of :func:`depth_map` (the light path length ``d``).
    """
    _check_image(img)
    b = torch.as_tensor(attenuation, dtype=img.dtype).reshape(3, 1, 1)
    veil = torch.as_tensor(backscatter, dtype=img.dtype).reshape(3, 1, 1)
    if (b < 0).any():
        raise DataError(f"underwater attenuation must be >= 0, got {attenuation}")
    t = torch.exp(-b * _depth(img, depth))
    return img * t + veil * (1 - t)


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(1, generator=generator))


def _depth_params(g: torch.Generator, near: tuple[float, float], far: tuple[float, float]) -> dict[str, float]:
    return {
        "depth_near": _uniform(g, *near),
        "depth_far": _uniform(g, *far),
        "depth_angle": _uniform(g, math.pi / 4, 3 * math.pi / 4),
        "depth_wave": _uniform(g, 0.0, 0.15),
        "depth_freq": _uniform(g, 0.5, 1.5),
        "depth_phase": _uniform(g, 0.0, 2 * math.pi),
    }


def sample_low_light(g: torch.Generator) -> dict[str, float]:
    return {
        "gamma": _uniform(g, 1.2, 2.5),
        "gain": _uniform(g, 0.15, 0.6),
        "shot": math.exp(_uniform(g, math.log(1e-4), math.log(3e-3))),
        "read": _uniform(g, 0.002, 0.02),
    }


def sample_haze(g: torch.Generator) -> dict[str, Any]:
    level, tint = _uniform(g, 0.7, 1.0), [_uniform(g, -0.04, 0.04) for _ in range(3)]
    return {
        "beta": _uniform(g, 0.5, 1.5),
        "airlight": [min(1.0, max(0.0, level + d)) for d in tint],
        **_depth_params(g, (0.2, 0.5), (1.0, 1.8)),
    }


def sample_underwater(g: torch.Generator) -> dict[str, Any]:
    attenuation = [_uniform(g, 0.6, 1.4), _uniform(g, 0.1, 0.45), _uniform(g, 0.05, 0.4)]
    backscatter = [_uniform(g, 0.0, 0.15), _uniform(g, 0.3, 0.6), _uniform(g, 0.35, 0.7)]
    return {"attenuation": attenuation, "backscatter": backscatter, **_depth_params(g, (0.5, 1.0), (1.5, 3.0))}


SAMPLERS: dict[str, Callable[[torch.Generator], dict[str, Any]]] = {
    "low-light": sample_low_light,
    "dehaze": sample_haze,
    "underwater": sample_underwater,
}


def sample_params(task: str, generator: torch.Generator) -> dict[str, Any]:
    """Draw the parameters of one degradation for ``task`` (JSON-serialisable dict)."""
    return SAMPLERS[task_name(task)](generator)


def apply_degradation(
    task: str, img: torch.Tensor, params: dict[str, Any], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Apply ``task``'s formula with ``params`` (``generator`` draws the low-light noise)."""
    name = task_name(task)
    if name == "low-light":
        return low_light(img, **params, generator=generator)
    if name == "dehaze":
        return haze(img, **params).clamp(0, 1)
    return underwater(img, **params).clamp(0, 1)


def degrade(task: str, img: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, Any]]:
    """Sample parameters, then degrade ``img`` (a batch shares one parameter set).

    Returns:
        ``(degraded, params)``; ``apply_degradation(task, img, params, g2)`` with a generator in
        the same state as ``generator`` after sampling reproduces ``degraded`` exactly.
    """
    params = sample_params(task, generator)
    return apply_degradation(task, img, params, generator), params
