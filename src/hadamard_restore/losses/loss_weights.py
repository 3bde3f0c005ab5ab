"""``loss_weights.json``: the searched (or published) loss weights as plain data.

A file holds the weight ``beta_i`` of each of the eight losses by name, the chosen VGG layers by
name (or, for a still-relaxed search state, the softmax of the selection logits per group), the
backbone the layers were chosen on, and the scale conventions the weights assume. Weights are only
meaningful with those scales (docs/method.md 8.11), so a file recorded with other conventions is
refused rather than silently mis-scaled: :data:`LOSS_NAMES` is the code order of the eight
weights, :data:`CONVENTIONS` the loss scales they assume, and :func:`parse_loss_weights` checks a
parsed file, every problem a :class:`~hadamard_restore.errors.LossWeightsError` naming its source.

Bundled names (``resources/loss_weights/<name>.json``, docs/method.md 7.1 and 8.12-8.13):

- ``paper-lol``, ``paper-mit``, ``paper-uie``: the authors' rounded searched weights, TV/Laplacian
  handled as in their final training (only MIT keeps Laplacian 0.15). MIT's VGG layers are
  LOL's (a labelled substitute: the authors' MIT layers are not public).
- ``paper-sihr-substitute``: a **substitute**: the stale 10-loss SIHR list mapped to the
  ``10*(1-SSIM)`` form, TV and Laplacian dropped, group-2 layer from Fig. 8, other layers guessed.
- ``equal``: all eight weights 1.0 and no layer choice (the search's starting point; as a fixed
  loss the VGG term is the uniform average over each group's candidates).
- ``l1-ssim``: the common hand-set loss L1 + (1 - SSIM) (weights 1.0 and 0.1 in these conventions,
  the other six 0): a baseline for the searched weights, not a searched result.

Examples:
    >>> lw = load_loss_weights("paper-lol")
    >>> lw.weights["l1"], lw.vgg_layers[0]
    (1.38, 'relu1_1')
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from hadamard_restore.artifacts import run_file, write_json
from hadamard_restore.errors import LossWeightsError
from hadamard_restore.losses.vgg import backbone_layer_names, candidate_groups, check_layers

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
        try:
            check_layers(layers, candidate_groups(backbone_layer_names(backbone)), backbone)
        except LossWeightsError as exc:
            raise _bad(origin, str(exc)) from None
    return layers, softmax, backbone


def check_loss_names(names: Iterable[str], where: str) -> None:
    """Raise a :class:`LossWeightsError` naming ``where`` when a name is not one of the eight terms
    (e.g. ``loss.searched_without``, checked before a run's first stage, not hours in)."""
    unknown = [n for n in names if n not in LOSS_NAMES]
    if unknown:
        raise LossWeightsError(f"{where}: unknown loss terms {unknown}; the eight terms are {', '.join(LOSS_NAMES)}")


@dataclass
class LossWeights:
    """Loss weights by name plus the VGG layer choice.

    Attributes:
        weights: ``{loss name: beta >= 0}`` for all of :data:`LOSS_NAMES`.
        vgg_layers: four post-ReLU names (one per group) or ``None`` (relaxed / uniform).
        vgg_backbone: the backbone the layers (or softmax) were chosen on.
        vgg_softmax: relaxed state, ``[{name: probability}]`` per group, or ``None``.
        lpips_net: LPIPS trunk, ``"alex"`` as the authors.
        lpips_normalize: ``False`` (authors: [0,1] inputs fed directly) or ``True`` ([-1,1]).
        name, source, notes: provenance; ``substitute`` marks values that are not the authors'.
        beta_param: the search parametrisation that produced the weights (``projected`` or
            ``softmax``, :mod:`~hadamard_restore.losses.beta_param`); ``None`` for published values.
    """

    weights: dict[str, float]
    vgg_layers: list[str] | None = None
    vgg_backbone: str = "vgg16"
    vgg_softmax: list[dict[str, float]] | None = None
    lpips_net: str = "alex"
    lpips_normalize: bool = False
    name: str | None = None
    substitute: bool = False
    source: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    beta_param: str | None = None

    def as_list(self) -> list[float]:
        """The weights in code order ``[l1, l2, color, ssim, vgg, lpips, tv, laplacian]``."""
        return [self.weights[n] for n in LOSS_NAMES]

    def argmax_layers(self) -> list[str] | None:
        """The chosen layers, or for a relaxed state the most probable layer of each group."""
        if self.vgg_layers is not None:
            return list(self.vgg_layers)
        if self.vgg_softmax is None:
            return None
        return [max(g, key=lambda name: g[name]) for g in self.vgg_softmax]

    def without(self, *names: str) -> LossWeights:
        """A copy with the named terms' weights set to 0 (e.g. stage 2 drops ``tv``, ``laplacian``)."""
        check_loss_names(names, "LossWeights.without")
        return replace(self, weights={n: (0.0 if n in names else w) for n, w in self.weights.items()})

    def derived_without(self, *names: str) -> LossWeights:
        """``without(*names)``, named for what it is (``"<name> without tv, laplacian"``): a file of
        its own that a run trains with (hadamard-restore run, tools/make_pretrained.py, the recipe
        study); no names: these weights, unchanged."""
        if not names:
            return self
        return replace(self.without(*names), name=f"{self.name} without {', '.join(names)}")

    def is_active(self) -> bool:
        """Whether any weight is positive (an all-zero loss has no gradient)."""
        return any(w > 0 for w in self.weights.values())

    def require_active(self, purpose: str) -> LossWeights:
        """Return self, or raise when every weight is 0 (such a loss has no gradient at all).

        A loss search can end there: β is projected onto β ≥ 0 after each upper step, and an
        upper objective that pushes every β down leaves them all at 0.
        """
        if not self.is_active():
            raise LossWeightsError(
                f"every loss weight of {self.name!r} is 0, so {purpose} would have no gradient; "
                "the loss search collapsed (check the classifier's accuracy in extra.classifier, "
                "lower search.upper_lr or run more search steps) or pass other weights, e.g. "
                "--loss-weights equal"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "order": list(LOSS_NAMES),
            "weights": {n: float(self.weights[n]) for n in LOSS_NAMES},
            "vgg": {
                "backbone": self.vgg_backbone,
                "layers": self.vgg_layers,
                "softmax": self.vgg_softmax,
                **({"argmax": self.argmax_layers()} if self.vgg_softmax is not None else {}),
            },
            "lpips": {"net": self.lpips_net, "normalize": self.lpips_normalize},
            "conventions": dict(CONVENTIONS),
            "substitute": self.substitute,
            "source": self.source,
            "notes": self.notes,
            **({"beta_param": self.beta_param} if self.beta_param is not None else {}),
            **({"extra": self.extra} if self.extra else {}),
        }

    def save(self, path: str | Path) -> Path:
        """Write ``loss_weights.json`` atomically."""
        return write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], origin: str = "loss weights") -> LossWeights:
        """Validate and parse; every problem raises :class:`LossWeightsError` naming ``origin``."""

        return cls(**parse_loss_weights(d, origin))


def bundled_names() -> list[str]:
    """Names of the loss-weight files shipped in ``resources/loss_weights``."""
    folder = resources.files("hadamard_restore") / "resources" / "loss_weights"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_loss_weights(name_or_path: str | Path) -> LossWeights:
    """A bundled name (``paper-lol``, ``equal``, ...) or a path to a ``loss_weights.json``.

    The one place a name or path becomes :class:`LossWeights`: the edges (command line, workflows,
    the config's ``loss.weights``) call it, and the library functions take the ``LossWeights``.

    Raises:
        LossWeightsError: unknown name and no such file, invalid JSON, or invalid content.
    """
    key = str(name_or_path)
    names = bundled_names()
    if key in names:
        text = (resources.files("hadamard_restore") / "resources" / "loss_weights" / f"{key}.json").read_text()
        origin = f"bundled loss weights {key!r}"
    else:
        path = run_file(key, "loss_weights.json")
        if not path.is_file():
            raise LossWeightsError(
                f"no loss weights named {key!r} and no file at {path}; "
                f"use one of {', '.join(names)} or a path to a loss_weights.json"
            )
        text, origin = path.read_text(), str(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LossWeightsError(f"{origin} is not valid JSON ({exc}); was it truncated?") from None
    return LossWeights.from_dict(data, origin)
