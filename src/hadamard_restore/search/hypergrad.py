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

# ---------------------------------------------------------------- the modes (search.hessian)
Mode = Literal["finite_difference", "exact", "first_order"]
MODES: tuple[str, ...] = ("finite_difference", "exact", "first_order")


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


# ---------------------------------------------------------------- the dicts it works on
def named_weights(model: torch.nn.Module, weights: Sequence[Tensor]) -> dict[str, Tensor]:
    """``{name: parameter}`` for the given parameters of ``model`` (e.g. ``model.weights()``).

    The names are the ones ``torch.func.functional_call(model, params, ...)`` expects.
    """
    ids = {id(p) for p in weights}
    out: dict[str, Tensor] = {n: p for n, p in model.named_parameters() if id(p) in ids}
    if len(out) != len(ids):
        raise ValueError(f"{len(ids) - len(out)} of the given weights are not parameters of the model")
    return out


def momentum_buffers(optimizer: torch.optim.Optimizer, named: Mapping[str, Tensor]) -> dict[str, Tensor | None]:
    """The SGD momentum buffer of each named weight (None before the first real step)."""
    return {n: optimizer.state.get(p, {}).get("momentum_buffer") for n, p in named.items()}


ParamDict = Mapping[str, Tensor]
LossFn = Callable[[dict[str, Tensor]], Tensor]
Reduce = Callable[[Sequence[Tensor]], None]


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


def _grads(loss: Tensor, inputs: Sequence[Tensor], **kw) -> list[Tensor]:
    """``autograd.grad`` with zeros (not None) for inputs that do not enter ``loss``."""
    if not loss.requires_grad:  # e.g. L_Cval w.r.t. β: no path at all
        return [torch.zeros_like(x) for x in inputs]
    out = torch.autograd.grad(loss, list(inputs), allow_unused=True, **kw)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, out)]


def _norm(tensors: Sequence[Tensor]) -> Tensor:
    """‖tensors‖₂: one norm per tensor (a single fused ``_foreach_norm``), combined in float64."""
    norms = torch._foreach_norm([t.detach() for t in tensors])
    return torch.linalg.vector_norm(torch.stack(norms).double())


def _reduced(tensors: list[Tensor], reduce: Reduce | None) -> list[Tensor]:
    """``tensors``, averaged in place over ranks first when ``reduce`` is given."""
    if reduce is not None:
        reduce(tensors)
    return tensors


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
    upper = _checked_upper(weights, upper, lr, mode)
    names = list(weights)
    w0 = {n: weights[n].detach() for n in names}
    if mode == "first_order":
        return _first_order(w0, upper, upper_loss, reduce)

    exact = mode == "exact"
    loss_tr, g = _train_gradient(w0, train_loss, exact, reduce)  # 1. g = ∇_w L_tr(w)
    w_virtual = _virtual_step(  # 2. the virtual step w'
        w0, g, momentum_buffers or {}, lr=lr, momentum=momentum, weight_decay=weight_decay, keep_graph=exact
    )
    step_norm = float(_norm(torch._foreach_sub([w_virtual[n].detach() for n in names], [w0[n] for n in names])))
    loss_up = upper_loss(w_virtual)
    up, tr = float(loss_up.detach()), float(loss_tr.detach())  # L_up(w'), L_tr(w) for logging
    if exact:
        # d/dθ L_up(w'(θ)) = d_θ + (∂w'/∂θ)ᵀ v = d_θ − η ∇²_{θw} L_tr(w) v, all by autograd.
        return HyperGradient(_reduced(_grads(loss_up, upper), reduce), up, tr, step_norm=step_norm)

    # 3. d_θ and v at w'.
    both = _reduced(_grads(loss_up, upper + [w_virtual[n] for n in names]), reduce)
    direct, v = both[: len(upper)], both[len(upper) :]
    v_norm = float(_norm(v))
    if v_norm == 0.0:  # L_up is flat in w: no indirect path to θ
        return HyperGradient([d.clone() for d in direct], up, tr, direct=direct, v_norm=0.0, step_norm=step_norm)
    eps = fd_scale / v_norm
    h = _reduced(_mixed_second_derivative(w0, v, upper, train_loss, eps), reduce)  # 4. h at the ORIGINAL w

    # 5. ∇θ ≈ d_θ − η h.
    grads = [d - lr * hi for d, hi in zip(direct, h)]
    return HyperGradient(grads, up, tr, direct=direct, epsilon=eps, v_norm=v_norm, step_norm=step_norm)


def _checked_upper(weights: ParamDict, upper: Sequence[Tensor], lr: float, mode: str) -> list[Tensor]:
    """``upper`` as a list, after refusing arguments the estimate cannot work with."""
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is unknown; use one of {', '.join(MODES)}")
    if lr <= 0:
        raise ValueError(f"lr must be > 0 (the weights' learning rate η), got {lr}")
    if not weights:
        raise ValueError("weights is empty: pass {name: tensor} of the lower-level weights")
    upper = list(upper)
    if not upper or not all(t.requires_grad for t in upper):
        raise ValueError("upper must be a non-empty list of tensors with requires_grad=True")
    return upper


def _first_order(
    w0: dict[str, Tensor], upper: list[Tensor], upper_loss: LossFn, reduce: Reduce | None
) -> HyperGradient:
    """``∇_θ L_up(w)`` at the current weights, no unrolling (stage 2 only, see :func:`check_mode`)."""
    w = {n: t.clone().requires_grad_(True) for n, t in w0.items()}
    loss_up = upper_loss(w)
    grads = _reduced(_grads(loss_up, upper), reduce)
    return HyperGradient(grads, float(loss_up.detach()), float("nan"), direct=[g.clone() for g in grads])


def _train_gradient(
    w0: dict[str, Tensor], train_loss: LossFn, exact: bool, reduce: Reduce | None
) -> tuple[Tensor, list[Tensor]]:
    """Step 1: ``(L_tr(w), g = ∇_w L_tr(w))``. In exact mode the graph is kept, so that w'(θ) is
    differentiable, and ``g`` is not averaged over ranks (only the final hypergradient is)."""
    w = {n: t.clone().requires_grad_(True) for n, t in w0.items()}
    loss_tr = train_loss(w)
    g = _grads(loss_tr, [w[n] for n in w0], create_graph=exact)
    return loss_tr, g if exact else _reduced(g, reduce)


def _virtual_step(
    w0: dict[str, Tensor],
    g: Sequence[Tensor],
    bufs: Mapping[str, Tensor | None],
    *,
    lr: float,
    momentum: float,
    weight_decay: float,
    keep_graph: bool,
) -> dict[str, Tensor]:
    """Step 2: ``w' = w − η (μ·buf + g + λ w)`` as NEW tensors (the caller's weights are never
    modified); detached leaves, unless ``keep_graph`` (exact mode: w' stays a function of θ)."""
    names, w = list(w0), list(w0.values())
    steps = list(torch._foreach_add(list(g), w, alpha=weight_decay)) if weight_decay else list(g)
    moving = [(i, b.detach()) for i, n in enumerate(names) if momentum and (b := bufs.get(n)) is not None]
    if moving:  # + μ·buf where the optimiser has a buffer
        index, buffers = zip(*moving)
        for i, t in zip(index, torch._foreach_add([steps[i] for i in index], list(buffers), alpha=float(momentum))):
            steps[i] = t
    new = torch._foreach_add(w, steps, alpha=-lr)  # w − η·step: new tensors, one fused op over all weights
    # exact mode keeps w' a function of θ (the foreach ops are differentiable); else detached leaves
    w_virtual = {n: t if keep_graph else t.detach().requires_grad_(True) for n, t in zip(names, new)}
    return w_virtual


def _mixed_second_derivative(
    w0: dict[str, Tensor], v: Sequence[Tensor], upper: list[Tensor], train_loss: LossFn, eps: float
) -> list[Tensor]:
    """Step 4: ``h ≈ [∇_θ L_tr(w + εv) − ∇_θ L_tr(w − εv)] / (2ε)`` at the ORIGINAL w."""
    names, w = list(w0), list(w0.values())
    w_plus = dict(zip(names, torch._foreach_add(w, list(v), alpha=eps)))
    w_minus = dict(zip(names, torch._foreach_add(w, list(v), alpha=-eps)))
    g_plus = _grads(train_loss(w_plus), upper)
    g_minus = _grads(train_loss(w_minus), upper)
    return [(gp - gm) / (2 * eps) for gp, gm in zip(g_plus, g_minus)]
