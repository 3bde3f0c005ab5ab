"""The loss mix ``L = sum_i beta_i * loss_i`` with searched weights and VGG layers (docs/method.md 3).

:class:`LossMix` owns the upper-level variables of the loss search as ``nn.Parameter``s: ``beta``
(shape ``(8,)``, code order ``[l1, l2, color, ssim, vgg, lpips, tv, laplacian]``) and, while the
VGG layer choice is relaxed, one logit vector ``gamma_g`` per VGG group (``vgg_logits``). Its
``state_dict`` holds only these; the frozen VGG and LPIPS networks are kept outside the module
tree (built lazily on first use, moved to the input's device and dtype), so checkpoints stay small.

The variables and their parametrisations live in the base class
:class:`~hadamard_restore.losses.mix_variables.LossMixVariables`.

- ``beta`` starts at 1.0 (docs/method.md 3.1); :meth:`LossMix.project_` after each upper step resets
  negative entries to 0 (the authors' projection), refusing a step that zeroes every weight. With
  ``beta_param="softmax"`` the logits are searched, ``beta = T * softmax(beta_logits)`` (fixed total
  ``T``; derived on access, not a parameter). Both: :mod:`~hadamard_restore.losses.beta_param`.
- A term whose weight is exactly 0 is not computed when no gradient with respect to ``beta`` is
  being taken (fixed weights, ``torch.no_grad``, or ``skip_zero=True``). During the search the
  authors' code computed every term, so a weight projected to 0 can grow again; the default keeps
  that behaviour whenever ``beta`` requires grad. Pass ``skip_zero=True`` for a lower-level step,
  where a zero-weight term contributes no gradient to the network weights.
- :meth:`LossMix.fixed` gives the discrete mix (argmax layer per group, weights as constants).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import torch
from torch import Tensor, nn

from hadamard_restore.backbones import weights
from hadamard_restore.errors import LossWeightsError
from hadamard_restore.losses import functional as LF
from hadamard_restore.losses.beta_param import weights_list
from hadamard_restore.losses.feature_precision import feature_autocast, features_in_bf16
from hadamard_restore.losses.frozen_nets import FrozenNets, bf16_copy, on
from hadamard_restore.losses.loss_weights import LOSS_NAMES, LossWeights
from hadamard_restore.losses.mix_variables import LossMixVariables
from hadamard_restore.losses.vgg import VGGTaps, load_features, vgg_loss

__all__ = ["LossMix"]

_PAIR_TERMS = {"l1": LF.l1, "l2": LF.l2, "color": LF.color_angle, "ssim": LF.ssim_loss}  # f(out, target)
_OUTPUT_TERMS = {"tv": LF.tv, "laplacian": LF.laplacian}  # f(out): priors on the output alone


class LossMix(LossMixVariables):
    """Weighted sum of the eight losses; ``forward(out, target) -> (total, terms)``.

    Args:
        weights: ``{name: beta}`` (missing names are 0), a list of 8 in code order, or ``None``
            for all 1.0 (the search's start). Negative values are rejected.
        vgg_layers: four post-ReLU names (discrete VGG term), or ``None`` for the relaxed term.
        backbone: ``"vgg16"`` (default, provisionable offline) or ``"vgg19"``.
        vgg_softmax: relaxed start as probabilities per group (logits = their log); else the
            logits start at ``1e-3 * N(0, 1)`` from ``generator``, or at 0 without one.
        vgg_features, lpips_model: explicit frozen networks instead of the weights cache.
        lpips_net, lpips_normalize: LPIPS trunk and the [-1, 1] mapping flag (authors: ``False``).
        generator: randomness for the logits.
        trainable: whether ``beta`` (and the logits) require grad.
        beta_param: ``projected`` (β is the parameter, projected onto β ≥ 0) or ``softmax``
            (β = T·softmax(logits), T = the starting total; see the module docstring).
    """

    def __init__(
        self,
        weights: Mapping[str, float] | Sequence[float] | None = None,
        vgg_layers: Sequence[str] | None = None,
        backbone: str = "vgg16",
        *,
        vgg_softmax: Sequence[Mapping[str, float]] | None = None,
        vgg_features: nn.Sequential | None = None,
        lpips_model: nn.Module | None = None,
        lpips_net: str = "alex",
        lpips_normalize: bool = False,
        generator: torch.Generator | None = None,
        trainable: bool = True,
        beta_param: str = "projected",
    ):
        values = weights_list(weights)
        if any(not (v >= 0) for v in values):
            raise LossWeightsError(f"loss weights must be >= 0, got {dict(zip(LOSS_NAMES, values))}")
        super().__init__(
            values,
            vgg_layers,
            backbone,
            vgg_softmax=vgg_softmax,
            vgg_features=vgg_features,
            generator=generator,
            trainable=trainable,
            beta_param=beta_param,
        )
        self.lpips_net, self.lpips_normalize = lpips_net, lpips_normalize
        self._nets = FrozenNets(vgg_features=vgg_features, lpips=lpips_model)

    # -- construction from / to plain data -------------------------------------------------
    @classmethod
    def from_weights(cls, lw: LossWeights, backbone: str = "vgg16", **kwargs) -> LossMix:
        """Build from :class:`LossWeights`; ``backbone`` is the VGG that runs (layers by name)."""
        return cls(
            lw.weights,
            lw.vgg_layers,
            backbone,
            vgg_softmax=lw.vgg_softmax,
            lpips_net=lw.lpips_net,
            lpips_normalize=lw.lpips_normalize,
            **kwargs,
        )

    def to_weights(self, name: str | None = None, **provenance) -> LossWeights:
        """The current state as :class:`LossWeights` (relaxed: with the softmax per group)."""
        return LossWeights(
            weights=dict(zip(LOSS_NAMES, self.beta.detach().cpu().tolist())),
            vgg_layers=list(self.vgg_layers) if self.vgg_layers is not None else None,
            vgg_backbone=self.backbone,
            vgg_softmax=self.vgg_softmax(),
            lpips_net=self.lpips_net,
            lpips_normalize=self.lpips_normalize,
            name=name,
            beta_param=self.beta_param if self.upper_parameters()[0].requires_grad else None,
            **provenance,
        )

    def searched_weights(self, name: str | None = None, **provenance) -> LossWeights:
        """A loss search's result: :meth:`to_weights` with each VGG group's argmax as the chosen layer."""
        return replace(self.to_weights(name, **provenance), vgg_layers=self.selected_layers())

    def to_dict(self) -> dict:
        """The ``loss_weights.json`` content of the current state."""
        return self.to_weights().to_dict()

    def save(self, path, name: str | None = None, **provenance):
        """Write ``loss_weights.json`` (atomic)."""
        return self.to_weights(name, **provenance).save(path)

    # -- the discrete mix ---------------------------------------------------------------------
    def fixed(self, decimals: int | None = None) -> LossMix:
        """The discrete mix: argmax layers, weights as constants (optionally rounded like the paper)."""
        w = self.beta.detach().cpu().tolist()
        if decimals is not None:
            w = [round(v, decimals) for v in w]
        mix = LossMix(
            w,
            self.selected_layers(),
            self.backbone,
            lpips_net=self.lpips_net,
            lpips_normalize=self.lpips_normalize,
            trainable=False,
            vgg_features=self._nets.vgg_features,
            lpips_model=self._nets.lpips,
        )
        return mix.to(self.beta.device)

    # -- evaluation ---------------------------------------------------------------------------
    def _taps(self, like: Tensor) -> VGGTaps:
        nets = self._nets
        if nets.taps is None:
            if nets.vgg_features is None:
                nets.vgg_features = load_features(self.backbone)
            names = self.vgg_layers if self.vgg_layers is not None else [n for c in self.groups for n in c]
            nets.taps = VGGTaps(nets.vgg_features, names)
        return on(nets.taps, like)

    def _lpips(self, like: Tensor) -> nn.Module:
        if self._nets.lpips is None:
            self._nets.lpips = weights.lpips_model(self.lpips_net)
        return on(self._nets.lpips, like)

    def _bf16(self, name: str, net: nn.Module, like: Tensor) -> nn.Module:
        """The bfloat16-parameter copy of the frozen ``net`` of term ``name``, made once per device."""
        cached = self._nets.bf16.get(name)
        p = next(cached.parameters(), None) if cached is not None else None
        if cached is None or (p is not None and p.device != like.device):
            cached = self._nets.bf16[name] = bf16_copy(net, like)
        return cached

    def term(self, name: str, out: Tensor, target: Tensor) -> Tensor:
        """The unweighted value of one loss (scalar)."""
        if name in _PAIR_TERMS:
            return _PAIR_TERMS[name](out, target)
        if name in _OUTPUT_TERMS:
            return _OUTPUT_TERMS[name](out)
        if name in ("vgg", "lpips"):  # the frozen feature networks: bfloat16 inside bf16_features()
            net = self._taps(out) if name == "vgg" else self._lpips(out)
            if features_in_bf16():
                net = self._bf16(name, net, out)
            with feature_autocast(out.device.type):
                if name == "vgg":
                    assert isinstance(net, VGGTaps)
                    value = vgg_loss(out, target, net, self.vgg_layer_weights())
                else:
                    value = LF.lpips_loss(out, target, net, self.lpips_normalize)
            return value.to(out.dtype)
        raise LossWeightsError(f"unknown loss {name!r}; known: {', '.join(LOSS_NAMES)}")

    def forward(self, out: Tensor, target: Tensor, skip_zero: bool | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """``total = sum_i beta_i * terms[i]`` over the computed terms.

        Args:
            out: restored images ``(B, 3, H, W)`` (unclamped).
            target: references ``(B, 3, H, W)`` in ``[0, 1]``.
            skip_zero: skip terms whose weight is exactly 0; default: skip unless a gradient with
                respect to ``beta`` is being taken (see the module docstring).

        Returns:
            ``(total, terms)``: the scalar loss and ``{name: unweighted value}`` (still attached).
        """
        if out.shape != target.shape:
            raise ValueError(
                f"LossMix: output {tuple(out.shape)} and reference {tuple(target.shape)} "
                "differ in shape; crop them to the same size"
            )
        if skip_zero is None:
            skip_zero = not (torch.is_grad_enabled() and self.upper_parameters()[0].requires_grad)
        beta = self.beta
        values = self._host_weights() if skip_zero else None
        total, terms = out.new_zeros(()), {}
        for i, name in enumerate(LOSS_NAMES):
            if values is not None and values[i] == 0.0:
                continue
            terms[name] = self.term(name, out, target)
            total = total + beta[i] * terms[name]
        return total, terms

    def extra_repr(self) -> str:
        w = ", ".join(f"{n}={v:.3g}" for n, v in zip(LOSS_NAMES, self.beta.detach().cpu().tolist()))
        layers = "relaxed" if self.vgg_layers is None else ",".join(self.vgg_layers)
        return f"{w}; vgg={self.backbone}[{layers}]"
