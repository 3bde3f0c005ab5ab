"""The searched variables of a loss mix: ``beta`` and the relaxed VGG layer choice (docs/method.md 3).

:class:`LossMixVariables` is the base of :class:`~hadamard_restore.losses.mix.LossMix`. It owns the
upper-level variables of the loss search as ``nn.Parameter``s, and nothing else, so its
``state_dict`` stays small: ``beta`` (shape ``(8,)``, code order
``[l1, l2, color, ssim, vgg, lpips, tv, laplacian]``), or with ``beta_param="softmax"`` the logits
that ``beta = T * softmax(beta_logits)`` is derived from on access
(:mod:`~hadamard_restore.losses.beta_param`); and, while the VGG layer choice is relaxed, one
logit vector ``gamma_g`` per VGG group (``vgg_logits``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from hadamard_restore.losses.beta_param import check_beta_param, project_nonnegative_, softmax_init, softmax_weights
from hadamard_restore.losses.vgg import (
    backbone_layer_names,
    candidate_groups,
    check_layers,
    init_group_logits,
    layer_names,
    relaxed_layer_weights,
)


class LossMixVariables(nn.Module):
    """``beta`` (or its logits) and the VGG group logits; arguments as for ``LossMix``.

    Args:
        values: the eight starting weights in code order (checked by the caller).
        vgg_layers: four post-ReLU names (discrete VGG term), or ``None`` for the relaxed term.
        backbone: the VGG whose layers are chosen; ``vgg_features`` (when given) names them instead.
    """

    def __init__(
        self,
        values: Sequence[float],
        vgg_layers: Sequence[str] | None,
        backbone: str,
        *,
        vgg_softmax: Sequence[Mapping[str, float]] | None,
        vgg_features: nn.Sequential | None,
        generator: torch.Generator | None,
        trainable: bool,
        beta_param: str,
    ) -> None:
        super().__init__()
        self.beta_param = check_beta_param(beta_param)
        if beta_param == "softmax":
            logits, active, self.beta_total = softmax_init(values)
            self.beta_logits = nn.Parameter(logits, requires_grad=trainable)
            self.register_buffer("beta_active", active, persistent=False)
        else:
            self.beta = nn.Parameter(torch.tensor(values), requires_grad=trainable)
        names = layer_names(vgg_features) if vgg_features is not None else backbone_layer_names(backbone)
        self.backbone = backbone
        self.groups = candidate_groups(names)
        self.vgg_layers = None if vgg_layers is None else check_layers(vgg_layers, self.groups, backbone)
        self.vgg_logits = nn.ParameterList()
        if self.vgg_layers is None:
            for g, cands in enumerate(self.groups):
                self.vgg_logits.append(
                    nn.Parameter(init_group_logits(g, cands, vgg_softmax, generator), requires_grad=trainable)
                )

    def __getattr__(self, name: str):  # softmax parametrisation: ``beta`` derived from the logits
        params = self.__dict__.get("_parameters", {})
        if name == "beta" and "beta_logits" in params:
            return softmax_weights(
                params["beta_logits"], self.__dict__["_buffers"]["beta_active"], self.__dict__["beta_total"]
            )
        return super().__getattr__(name)

    @property
    def relaxed(self) -> bool:
        return self.vgg_layers is None

    def upper_parameters(self) -> list[nn.Parameter]:
        """``beta`` (or its logits) and the VGG logits (when relaxed): the stage-1 upper variables."""
        first = self.beta_logits if self.beta_param == "softmax" else self.beta
        return [first, *self.vgg_logits]

    @torch.no_grad()
    def project_(self) -> None:
        """Projected: onto ``beta >= 0`` in place, refusing an all-zero result (``LossSearchCollapsedError``).
        Softmax: nothing to do (the weights are positive with a fixed total by construction)."""
        if self.beta_param == "projected":
            project_nonnegative_(self.beta)

    def vgg_softmax(self) -> list[dict[str, float]] | None:
        if not self.relaxed:
            return None
        return [dict(zip(c, torch.softmax(g.detach(), 0).tolist())) for c, g in zip(self.groups, self.vgg_logits)]

    def selected_layers(self) -> list[str]:
        """The chosen layer per group: the fixed ones, or the argmax of the logits (first on ties)."""
        if self.vgg_layers is not None:
            return list(self.vgg_layers)
        return [c[int(torch.argmax(g.detach()))] for c, g in zip(self.groups, self.vgg_logits)]

    def vgg_layer_weights(self) -> Mapping[str, float | Tensor]:
        if self.vgg_layers is not None:
            return {n: 1.0 for n in self.vgg_layers}
        return relaxed_layer_weights(self.groups, list(self.vgg_logits))

    def _host_weights(self) -> list[float]:
        """``beta`` as floats, read from the device only when beta (or its logits) changed: no device
        sync per step, which a CUDA graph capture needs."""
        source = self.upper_parameters()[0]
        key = (source._version, source.data_ptr(), source.device)
        if getattr(self, "_host_cache", (None,))[0] != key:
            self._host_cache = (key, self.beta.detach().cpu().tolist())
        return self._host_cache[1]
