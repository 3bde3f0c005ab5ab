"""The one-step unrolled hypergradient shared by both search stages (docs/method.md section 6).

Notation (docs/method.md 6.1): ``w`` are the lower-level weights, ``θ`` the upper variables
(β and the VGG logits in stage 1, α in stage 2, both in the joint mode), ``L_tr`` the
weighted training loss on a train batch and ``L_up`` the upper objective on a validation batch.

The approximation (docs/method.md 6.2, the DARTS ``unrolled=True`` step)::

    g   = ∇_w L_tr(w)
    w'  = w − η (μ·buf + g + λ w)                       virtual SGD-with-momentum step
    d_θ = ∇_θ L_up(w'),   v = ∇_{w'} L_up(w')
    h   = ∇²_{θw} L_tr(w) · v                           mixed second derivative, at the ORIGINAL w
    ∇θ ≈ d_θ − η h

``h`` is taken one of two ways:

* ``finite_difference`` (the authors' and DARTS' choice): with ε = 0.01/‖v‖₂,
  ``h ≈ [∇_θ L_tr(w + εv) − ∇_θ L_tr(w − εv)] / (2ε)`` on the same train batch.
* ``exact``: the same term by double backward, i.e. ``g`` is built with ``create_graph=True``
  and ``L_up(w'(θ))`` is differentiated through the virtual step.

``first_order`` returns ``∇_θ L_up(w)`` at the current weights. It is valid for stage 2 only:
the stage-1 objective (the classifier's cross-entropy) does not contain β or the VGG logits,
so first order gives them exactly zero gradient (docs/method.md 6.3); :func:`check_mode` refuses it.

Everything works on explicit parameter dicts: the closures receive ``{name: tensor}`` and are
expected to call ``torch.func.functional_call(model, params, inputs)``. No model is copied and
no ``.data`` is edited and restored by hand: ``w'`` and ``w ± εv`` are new tensors, so the live
parameters are never touched (a virtual step that only rebinds a local name is exactly the
failure this design rules out; the tests check that ``L_up`` really sees ``w' ≠ w``).

Multi-process use: pass ``reduce`` (an in-place average over ranks, e.g.
:func:`hadamard_restore.search.ddp.average_`). It averages ``g`` (so every rank takes the same
virtual step as the real, all-reduced SGD step), ``(d_θ, v)`` and ``h``; since all three are
linear in the per-rank losses, the result equals the single-process hypergradient of the
mean loss over all ranks' batches. In ``exact`` mode only the final hypergradient is averaged
(each rank unrolls on its own batch), which is documented, not hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from hadamard_restore.config import ConfigError

Mode = Literal["finite_difference", "exact", "first_order"]
ParamDict = Mapping[str, Tensor]
LossFn = Callable[[dict[str, Tensor]], Tensor]
Reduce = Callable[[Sequence[Tensor]], None]

MODES: tuple[str, ...] = ("finite_difference", "exact", "first_order")


@dataclass
class HyperGradient:
    """The result of :func:`unrolled_hypergradient`.

    Attributes:
        grads: one tensor per upper variable, same shapes, the estimate of dL_up/dθ.
        upper_loss: L_up at w' (at w for ``first_order``), a float for logging.
        train_loss: L_tr at w, a float for logging.
        direct: the direct term d_θ (zero where θ does not enter L_up; not computed, so empty,
            in ``exact`` mode, where it is part of one backward).
        epsilon: the finite-difference step (0 for other modes or when v = 0).
        v_norm: ‖∇_{w'} L_up(w')‖₂ (0 for ``first_order``).
        step_norm: ‖w' − w‖₂, which is > 0 whenever the virtual step moved the weights.
    """

    grads: list[Tensor]
    upper_loss: float
    train_loss: float
    direct: list[Tensor] = field(default_factory=list)
    epsilon: float = 0.0
    v_norm: float = 0.0
    step_norm: float = 0.0


def check_mode(mode: str, stage: str) -> None:
    """Refuse hypergradient modes that are wrong for a stage, saying why.

    Args:
        mode: one of ``finite_difference``, ``exact``, ``first_order``.
        stage: ``loss`` (stage 1), ``arch`` (stage 2) or ``joint``.

    Raises:
        ConfigError: unknown mode, or ``first_order`` for a stage whose upper objective does
            not contain the upper variables directly (``loss``; ``joint`` for its β part).
    """
    if mode not in MODES:
        raise ConfigError(f"search.hessian={mode!r} is unknown; use one of {', '.join(MODES)}")
    if mode == "first_order" and stage in ("loss", "joint"):
        raise ConfigError(
            "search.hessian=first_order cannot search loss weights: the stage-1 objective "
            "(the classifier's cross-entropy of 'clear' on the outputs, L_Cval) does not depend "
            "on beta or the VGG logits directly, so a first-order hypergradient gives them exactly "
            "zero gradient (docs/method.md 6.3). Use search.hessian=finite_difference (the paper's "
            "code) or exact; first_order is allowed for the architecture stage only."
        )


def _grads(loss: Tensor, inputs: Sequence[Tensor], **kw) -> list[Tensor]:
    """``autograd.grad`` with zeros (not None) for inputs that do not enter ``loss``."""
    if not loss.requires_grad:  # e.g. L_Cval w.r.t. β: no path at all
        return [torch.zeros_like(x) for x in inputs]
    out = torch.autograd.grad(loss, list(inputs), allow_unused=True, **kw)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, out)]


def _norm(tensors: Sequence[Tensor]) -> Tensor:
    return torch.sqrt(sum((t.detach().double() ** 2).sum() for t in tensors))


def unrolled_hypergradient(
    weights: ParamDict,
    upper: Sequence[Tensor],
    train_loss: LossFn,
    upper_loss: LossFn,
    *,
    lr: float,
    momentum: float = 0.0,
    momentum_buffers: Mapping[str, Tensor | None] | None = None,
    weight_decay: float = 0.0,
    mode: Mode = "finite_difference",
    fd_scale: float = 0.01,
    reduce: Reduce | None = None,
) -> HyperGradient:
    """Estimate dL_up(w*(θ))/dθ with one unrolled SGD-with-momentum step (docs/method.md 6.2).

    Args:
        weights: ``{name: tensor}`` of the lower-level weights w at their current values (the
            live parameters are fine: they are only read). Each must be a floating tensor.
        upper: the upper variables θ (tensors with ``requires_grad=True``); ``train_loss``
            and/or ``upper_loss`` must use them (e.g. as parameters of a loss mix or α).
        train_loss: ``params -> L_tr`` (scalar), the weighted training loss on ONE fixed train
            batch; called several times, so it must be deterministic given ``params``.
        upper_loss: ``params -> L_up`` (scalar) on one fixed validation batch.
        lr: η, the current learning rate of the weights' SGD (> 0).
        momentum: μ of that SGD (the virtual step uses ``μ·buf``).
        momentum_buffers: ``{name: buf or None}`` from the real optimiser (see
            :func:`momentum_buffers`); missing or None entries count as zero.
        weight_decay: λ of the virtual step only (3e-4 in the paper's code).
        mode: ``finite_difference``, ``exact`` or ``first_order``.
        fd_scale: ε = fd_scale / ‖v‖₂ (0.01 in DARTS and the authors' code).
        reduce: optional in-place average over ranks (see the module docstring).

    Returns:
        A :class:`HyperGradient`; ``grads[i]`` has the shape of ``upper[i]``.
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is unknown; use one of {', '.join(MODES)}")
    if lr <= 0:
        raise ValueError(f"lr must be > 0 (the weights' learning rate η), got {lr}")
    if not weights:
        raise ValueError("weights is empty: pass {name: tensor} of the lower-level weights")
    upper = list(upper)
    if not upper or not all(t.requires_grad for t in upper):
        raise ValueError("upper must be a non-empty list of tensors with requires_grad=True")
    names = list(weights)
    w0 = {n: weights[n].detach() for n in names}
    bufs = momentum_buffers or {}

    if mode == "first_order":
        w = {n: t.clone().requires_grad_(True) for n, t in w0.items()}
        loss_up = upper_loss(w)
        grads = _grads(loss_up, upper)
        if reduce is not None:
            reduce(grads)
        return HyperGradient(grads, float(loss_up.detach()), float("nan"), direct=[g.clone() for g in grads])

    # 1. g = ∇_w L_tr(w): the graph is kept in exact mode so that w'(θ) is differentiable.
    exact = mode == "exact"
    w = {n: t.clone().requires_grad_(True) for n, t in w0.items()}
    loss_tr = train_loss(w)
    g = _grads(loss_tr, [w[n] for n in names], create_graph=exact)
    if reduce is not None and not exact:
        reduce(g)

    # 2. the virtual step, as NEW tensors (the caller's weights are never modified).
    w_virtual = {}
    for n, gn in zip(names, g):
        buf = bufs.get(n)
        step = gn + weight_decay * w0[n]
        if buf is not None and momentum:
            step = step + momentum * buf.detach()
        wn = w0[n] - lr * step
        w_virtual[n] = wn if exact else wn.detach().requires_grad_(True)
    step_norm = float(_norm([w_virtual[n] - w0[n] for n in names]))

    if exact:
        # d/dθ L_up(w'(θ)) = d_θ + (∂w'/∂θ)ᵀ v = d_θ − η ∇²_{θw} L_tr(w) v, all by autograd.
        loss_up = upper_loss(w_virtual)
        total = _grads(loss_up, upper)
        if reduce is not None:
            reduce(total)
        return HyperGradient(total, float(loss_up.detach()), float(loss_tr.detach()), step_norm=step_norm)

    # 3. d_θ and v at w'.
    loss_up = upper_loss(w_virtual)
    both = _grads(loss_up, upper + [w_virtual[n] for n in names])
    direct, v = both[: len(upper)], both[len(upper) :]
    if reduce is not None:
        reduce(direct + v)

    # 4. finite-difference mixed second derivative at the ORIGINAL w.
    v_norm = float(_norm(v))
    if v_norm == 0.0:  # L_up is flat in w: no indirect path to θ
        return HyperGradient(
            [d.clone() for d in direct],
            float(loss_up.detach()),
            float(loss_tr.detach()),
            direct=direct,
            v_norm=0.0,
            step_norm=step_norm,
        )
    eps = fd_scale / v_norm
    w_plus = {n: w0[n] + eps * vn for n, vn in zip(names, v)}
    w_minus = {n: w0[n] - eps * vn for n, vn in zip(names, v)}
    g_plus = _grads(train_loss(w_plus), upper)
    g_minus = _grads(train_loss(w_minus), upper)
    h = [(gp - gm) / (2 * eps) for gp, gm in zip(g_plus, g_minus)]
    if reduce is not None:
        reduce(h)

    # 5. ∇θ ≈ d_θ − η h.
    grads = [d - lr * hi for d, hi in zip(direct, h)]
    return HyperGradient(
        grads,
        float(loss_up.detach()),
        float(loss_tr.detach()),
        direct=direct,
        epsilon=eps,
        v_norm=v_norm,
        step_norm=step_norm,
    )


def named_weights(model: torch.nn.Module, weights: Sequence[Tensor]) -> dict[str, Tensor]:
    """``{name: parameter}`` for the given parameters of ``model`` (e.g. ``model.weights()``).

    The names are the ones ``torch.func.functional_call(model, params, ...)`` expects.
    """
    ids = {id(p) for p in weights}
    out = {n: p for n, p in model.named_parameters() if id(p) in ids}
    if len(out) != len(ids):
        raise ValueError(f"{len(ids) - len(out)} of the given weights are not parameters of the model")
    return out


def momentum_buffers(optimizer: torch.optim.Optimizer, named: Mapping[str, Tensor]) -> dict[str, Tensor | None]:
    """The SGD momentum buffer of each named weight (None before the first real step)."""
    return {n: optimizer.state.get(p, {}).get("momentum_buffer") for n, p in named.items()}
