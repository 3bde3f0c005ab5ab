"""The ``loss_weights.json`` format: loss names, scale conventions, and validation of a parsed file.

:data:`LOSS_NAMES` is the code order of the eight weights; :data:`CONVENTIONS` the loss scales the
weights assume (a file recorded with other conventions is refused, docs/method.md 8.11).
:func:`parse_loss_weights` checks a parsed file and returns the fields of
:class:`~hadamard_restore.losses.loss_weights.LossWeights`; every problem raises
:class:`~hadamard_restore.errors.LossWeightsError` naming where the data came from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hadamard_restore.errors import LossWeightsError

LOSS_NAMES = ("l1", "l2", "color", "ssim", "vgg", "lpips", "tv", "laplacian")
FORMAT = "hadamard-restore/loss-weights"
VERSION = 1
CONVENTIONS = {
    "l1": "mean |u - u*|",
    "l2": "mean (u - u*)^2",
    "color": "0.1 * mean per-pixel RGB angle in degrees, dot clamped to +-0.999999",
    "ssim": "10 * (1 - SSIM), 11x11 Gaussian sigma 1.5, C1=0.01^2, C2=0.03^2, zero padding, mean",
    "vgg": "sum over chosen layers of mean |V(u) - V(u*)|, ImageNet mean/std, post-ReLU taps",
    "lpips": "mean LPIPS v0.1",
    "tv": "2 * (sum dy^2 / (C(H-1)W) + sum dx^2 / (CH(W-1))) / B",
    "laplacian": "sum (valid 3x3 Laplacian)^2 / (CHW) / B",
}


def parse_loss_weights(d: Mapping[str, Any], origin: str = "loss weights") -> dict[str, Any]:
    """The ``LossWeights`` fields of a parsed file, validated; problems raise ``LossWeightsError``."""
    if not isinstance(d, Mapping):
        raise _bad(origin, "the top level must be a JSON object")
    if d.get("format", FORMAT) != FORMAT or d.get("version", VERSION) != VERSION:
        raise _bad(
            origin,
            f"unsupported format {d.get('format')!r} version {d.get('version')!r} "
            f"(expected {FORMAT!r} version {VERSION})",
        )
    weights = _weights(d.get("weights"), origin)
    _check_conventions(d.get("conventions"), origin)
    layers, softmax, backbone = _vgg_choice(d.get("vgg") or {}, origin)
    lp = d.get("lpips") or {}
    beta_param = d.get("beta_param")
    if beta_param not in (None, "projected", "softmax"):
        raise _bad(
            origin, f"beta_param must be 'projected' or 'softmax' (the search parametrisation), got {beta_param!r}"
        )
    return {
        "weights": weights,
        "vgg_layers": layers,
        "vgg_backbone": backbone,
        "vgg_softmax": [dict(g) for g in softmax] if softmax is not None else None,
        "lpips_net": lp.get("net", "alex"),
        "lpips_normalize": bool(lp.get("normalize", False)),
        "name": d.get("name"),
        "substitute": bool(d.get("substitute", False)),
        "source": d.get("source", ""),
        "notes": d.get("notes", ""),
        "extra": dict(d.get("extra", {})),
        "beta_param": beta_param,
    }


def _bad(origin: str, msg: str) -> LossWeightsError:
    return LossWeightsError(f"{origin}: {msg}")


def _weights(raw: Any, origin: str) -> dict[str, float]:
    """``{name: beta}`` for every loss name, from a mapping or a list in code order."""
    if isinstance(raw, list):
        if len(raw) != len(LOSS_NAMES):
            raise _bad(origin, f"a weight list needs {len(LOSS_NAMES)} values in the order {list(LOSS_NAMES)}")
        raw = dict(zip(LOSS_NAMES, raw))
    if not isinstance(raw, Mapping):
        raise _bad(origin, "'weights' must map loss names to numbers, e.g. {\"l1\": 1.0, ...}")
    unknown = sorted(set(raw) - set(LOSS_NAMES))
    missing = [n for n in LOSS_NAMES if n not in raw]
    if unknown or missing:
        raise _bad(
            origin,
            f"weights must name exactly {list(LOSS_NAMES)} "
            f"(unknown: {unknown or 'none'}, missing: {missing or 'none'})",
        )
    weights = {}
    for n in LOSS_NAMES:
        v = raw[n]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise _bad(origin, f"weight {n!r} must be a finite number >= 0, got {v!r}")
        weights[n] = float(v)
    return weights


def _check_conventions(conv: Any, origin: str) -> None:
    if conv is not None and conv != CONVENTIONS:
        diff = sorted(k for k in set(conv) | set(CONVENTIONS) if conv.get(k) != CONVENTIONS.get(k))
        raise _bad(
            origin,
            f"the weights assume other loss scales than this code for {diff}; "
            "re-run the loss search or convert the weights to these conventions",
        )


def _vgg_choice(vgg: Mapping[str, Any], origin: str) -> tuple[list[str] | None, list | None, str]:
    """``(layers, softmax, backbone)`` of the file's ``vgg`` block, checked against the backbone."""
    layers, softmax = vgg.get("layers"), vgg.get("softmax")
    if layers is not None and (not isinstance(layers, list) or not all(isinstance(x, str) for x in layers)):
        raise _bad(origin, f"vgg.layers must be a list of layer names like 'relu3_1', got {layers!r}")
    if softmax is not None and (not isinstance(softmax, list) or not all(isinstance(g, Mapping) for g in softmax)):
        raise _bad(origin, "vgg.softmax must be a list with one {layer: probability} object per group")
    backbone = vgg.get("backbone", "vgg16")
    if backbone not in ("vgg16", "vgg19"):
        raise _bad(origin, f"vgg.backbone must be 'vgg16' or 'vgg19', got {backbone!r}")
    if layers is not None:
        from hadamard_restore.losses.vgg import backbone_layer_names, candidate_groups, check_layers

        try:
            check_layers(layers, candidate_groups(backbone_layer_names(backbone)), backbone)
        except LossWeightsError as exc:
            raise _bad(origin, str(exc)) from None
    return layers, softmax, backbone
