"""Building blocks the stages share: the searched models, objectives, log scalars.

Models are evaluated at explicit parameter sets through :func:`forward`
(``torch.func.functional_call``), which is what lets one hypergradient function serve every
stage without copying models. The objectives are closures ``(params, batch) -> loss`` over such
evaluations: :func:`mix_objective` (the weighted loss mix, every stage's lower level) and
:func:`classifier_objective` (the classifier's "clear" cross-entropy, stage 1's upper level).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.func import functional_call

from hadamard_restore.classifier.model import clear_loss
from hadamard_restore.config import NetConfig
from hadamard_restore.jobs import SearchJob
from hadamard_restore.net.build import build_supernet
from hadamard_restore.net.unet import UNet
from hadamard_restore.runtime.log import get_logger
from hadamard_restore.search.loop import Batch

if TYPE_CHECKING:
    from hadamard_restore.net.hnu import Norm

log = get_logger("hadamard_restore.search")
Objective = Callable[[Mapping[str, Tensor], Batch], Tensor]


def forward(model: torch.nn.Module, params: Mapping[str, Tensor], x: Tensor) -> Tensor:
    """``model(x)`` with the named parameters replaced by ``params`` (others as they are)."""
    return functional_call(model, dict(params), (x,))


def supernet(
    net_cfg: NetConfig, seed: int, norm: Norm, device: torch.device, alpha: Mapping[str, Tensor] | None = None
):
    """A supernet of ``net_cfg``'s size, weights and α seeded from ``seed``.

    Args:
        norm: ``instance`` (stage 1, joint) or ``none`` (stage 2), docs/method.md 1.4.
        alpha: ``{group: logits}`` to start from (a previous round's α), else the 1e-3·N(0,1) init.
    """
    net = build_supernet(net_cfg, norm=norm, generator=torch.Generator().manual_seed(seed))
    if alpha is not None:
        with torch.no_grad():
            for g, a in alpha.items():
                net.arch[g].copy_(a)
    return net.to(device)


def loss_model(job: SearchJob, device: torch.device, alpha: Mapping[str, Tensor] | None = None):
    """The network whose loss is searched in stage 1 and its lower-level weights by name.

    ``search.loss_model``: ``supernet`` (α frozen at its init or at ``alpha``, instance norm)
    or ``unet`` (the bundled small U-Net; every parameter is a weight).
    """
    if job.search.loss_model == "unet":
        net = UNet(generator=torch.Generator().manual_seed(job.seed)).to(device)
        return net, dict(net.named_parameters())
    net = supernet(job.net, job.seed, "instance", device, alpha)
    net.freeze_arch(True)
    return net, dict(net.named_weights())


def alpha_state(net) -> dict[str, Tensor]:
    """``{group: α logits}`` (detached CPU copies) of a supernet."""
    return {g: a.detach().cpu().clone() for g, a in net.arch.items()}


def mix_objective(model: torch.nn.Module, mix: torch.nn.Module):
    """``(params, batch) -> (Σ β_i loss_i, {term: value})`` of ``model`` at ``params`` on the batch."""

    def weighted_loss(params: Mapping[str, Tensor], batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        return mix(forward(model, params, batch[0]), batch[1])

    return weighted_loss


def classifier_objective(model: torch.nn.Module, classifier: torch.nn.Module) -> Objective:
    """``(params, batch) -> L_Cval``: the frozen classifier's "clear" cross-entropy on the outputs
    for the batch's degraded inputs (its references are never used)."""

    def classifier_loss(params: Mapping[str, Tensor], batch: Batch) -> Tensor:
        return clear_loss(classifier, forward(model, params, batch[0]))

    return classifier_loss


def alpha_scalars(net) -> dict[str, float]:
    """Per searched layer: the entropy of softmax(α) (nats) and its largest probability."""
    out: dict[str, float] = {}
    ent_sum, n = 0.0, 0
    for label, probs in net.probabilities().items():
        p = torch.tensor(probs, dtype=torch.float64)
        ent = float(-(p * p.clamp_min(1e-30).log()).sum())
        out[f"alpha_entropy/{label}"] = ent
        out[f"alpha_max/{label}"] = float(p.max())
        ent_sum, n = ent_sum + ent / math.log(len(probs)), n + 1
    out["alpha/mean_normalised_entropy"] = ent_sum / max(n, 1)
    return out
