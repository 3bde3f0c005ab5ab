"""A mixed op computed as a few convolutions instead of one per candidate (same function).

Every candidate except the dense blocks is linear in its input: ``skip_connect`` is the identity,
``conv_kxk``/``dilconv_3x3`` one convolution, ``resconv_*`` the identity plus one. A weighted sum
of linear maps is one linear map, so

``sum_k w_k op_k(x) = Conv(x, K) + sum_dense w_d DenseBlock_d(x)``

with ``K = sum_k w_k kernel_k``, every kernel embedded in the largest receptive field of the
layer (a 1x1 kernel is the centre of a 3x3 one; a 3x3 kernel with dilation 2 is a 5x5 kernel
with holes) and the identity as a centred ``eye(C)`` kernel. A dense block
``Conv_k(concat[x, ReLU(Conv_k(x))])`` splits into its ``x`` half, which is linear and folds into
``K``, and its ``t`` half, which keeps its own two convolutions at its own kernel size (dense
blocks of one kernel size are stacked into one pair; stacking the 1x1 and 3x3 blocks into one
3x3 pair was 30 % slower at search sizes: nine times the 1x1 block's multiply-adds).

The global candidate ``globalres_1x1`` (``x + Conv_1(x * g)``, ``g = sigmoid(Conv_1(mean_HW(x)))``, a
per-image gain per channel) is linear in ``x`` for a given gain: its ``x`` folds into ``K`` and its
convolution keeps its own 1x1 pass on the gated input, weighted (``w * Conv_1(x * g) = Conv(x * g,
w * kernel)``); the gain is computed from the layer's input as in the op. An HNU layer of the
``global`` space thus runs 7 convolutions (two of them on a (B, C, 1, 1) mean) instead of 13.

An HNU layer (9 candidates, 11 convolutions) becomes 5 convolutions with fewer multiply-adds
(45 vs 68 ``C^2 HW``); an FCM layer (4 candidates) becomes one 5x5 convolution (25 vs 44). The
parameters, the state dict and the gradients are those of the candidate-by-candidate sum: the
combined kernels are built from the candidates' own weights inside the autograd graph, so the
hypergradient (finite-difference or exact) sees the same function, equal up to floating-point
rounding (tests/net/test_fused_mix.py compares values and gradients).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from hadamard_restore.net.ops import Conv, DenseBlock, GlobalRes, ResConv, Skip


@dataclass(frozen=True)
class Plan:
    """Which candidate goes where, fixed when the mixed op is built (candidates by index and name)."""

    linear: tuple[tuple[int, str], ...]  # conv and residual-conv candidates, summed into K
    identity: tuple[int, ...]  # candidates that add x (skip, residual forms)
    dense: tuple[tuple[int, tuple[tuple[int, str], ...]], ...]  # (kernel side, dense blocks of that side)
    size: int  # K's side: the largest receptive field among the linear parts
    channels: int  # input channels (the identity's size, where a candidate adds x)
    gated: tuple[tuple[int, str], ...] = ()  # globalres candidates: their gated 1x1 pass (x is in identity)


def _span(conv: nn.Conv2d) -> int:
    k, d = conv.kernel_size[0], conv.dilation[0]
    return d * (k - 1) + 1


def plan(ops: nn.ModuleDict, c_in: int) -> Plan | None:
    """The fused form of the candidates ``ops`` (in mixing order), or None if one is not fusable."""
    linear: list[tuple[int, str]] = []
    identity: list[int] = []
    gated: list[tuple[int, str]] = []
    dense: dict[int, list[tuple[int, str]]] = {}
    sizes = [1]
    for k, (name, op) in enumerate(ops.items()):
        if type(op) is Skip:
            identity.append(k)
        elif isinstance(op, (Conv, ResConv)) and type(op) in (Conv, ResConv):  # exact types: a subclass may differ
            linear.append((k, name))
            sizes.append(_span(op.conv))
            if type(op) is ResConv:
                identity.append(k)
        elif isinstance(op, DenseBlock) and type(op) is DenseBlock:
            dense.setdefault(op.conv1.kernel_size[0], []).append((k, name))
            sizes.append(_span(op.conv2))
        elif type(op) is GlobalRes:
            gated.append((k, name))
            identity.append(k)
        else:
            return None
    grouped = tuple((side, tuple(blocks)) for side, blocks in sorted(dense.items()))
    return Plan(tuple(linear), tuple(identity), grouped, max(sizes), c_in, tuple(gated))


def _dilate(w: torch.Tensor, d: int) -> torch.Tensor:
    """(..., k, k) -> (..., d(k-1)+1, d(k-1)+1): the taps spread ``d`` apart, zeros between."""
    k = w.shape[-1]
    span = d * (k - 1) + 1
    w = F.pad(w.unsqueeze(-1), (0, d - 1)).flatten(-2)[..., :span]  # columns
    return F.pad(w.unsqueeze(-2), (0, 0, 0, d - 1)).flatten(-3, -2)[..., :span, :]  # rows


def embed(weight: torch.Tensor, dilation: int, size: int) -> torch.Tensor:
    """A (..., k, k) kernel with ``dilation`` as the equivalent undilated (..., size, size) kernel."""
    if dilation > 1:
        weight = _dilate(weight, dilation)
    pad = (size - weight.shape[-1]) // 2
    return F.pad(weight, (pad, pad, pad, pad)) if pad else weight


class Kernels(NamedTuple):
    """The combined kernels of one layer (or, with a leading dimension, of several)."""

    main: torch.Tensor  # (O, I, size, size): every linear part, identity and dense x halves included
    firsts: tuple[torch.Tensor, ...]  # per dense kernel side: (D*I, I, k, k), the first convolutions stacked
    seconds: tuple[torch.Tensor, ...]  # per dense kernel side: (O, D*I, k, k), the t halves, weighted
    gates: tuple[torch.Tensor, ...] = ()  # per globalres candidate: (I, I, 1, 1), its gate convolution
    mixes: tuple[torch.Tensor, ...] = ()  # per globalres candidate: (O, I, 1, 1), its convolution, weighted


def build_kernels(p: Plan, layers: Sequence[nn.ModuleDict], rows: torch.Tensor) -> Kernels:
    """The combined kernels of ``layers`` (same plan and shapes) for mixing ``rows`` (L, K) at once.

    Every tensor of the result has a leading dimension L. Building all layers of one shape in one
    batch costs a few dozen operations instead of a few dozen per layer (the supernet does so once
    per forward, :meth:`SuperNet.forward`).
    """

    def stacked(name: str, conv: str) -> torch.Tensor:
        return torch.stack([getattr(m[name], conv).weight for m in layers])  # (L, O, I, k, k)

    def times(k: int, kernel: torch.Tensor) -> torch.Tensor:
        return rows[:, k].view(-1, 1, 1, 1, 1) * kernel

    # weighted kernels summed per (side, dilation) first, at their own size, then embedded once each
    by_shape: dict[tuple[int, int], list[torch.Tensor]] = {}
    for k, name in p.linear:
        conv = layers[0][name].get_submodule("conv")
        assert isinstance(conv, nn.Conv2d)
        by_shape.setdefault((conv.kernel_size[0], conv.dilation[0]), []).append(times(k, stacked(name, "conv")))
    firsts, seconds = [], []
    c = p.channels
    for side, blocks in p.dense:
        halves = []
        for k, name in blocks:
            w2 = stacked(name, "conv2")  # (L, O, 2I, k, k): its x half is linear in x, its t half is not
            by_shape.setdefault((side, 1), []).append(times(k, w2[:, :, :c]))
            halves.append(times(k, w2[:, :, c:]))
        firsts.append(torch.cat([stacked(name, "conv1") for _, name in blocks], dim=1))
        seconds.append(torch.cat(halves, dim=2))
    if p.identity:
        eye = torch.eye(c, dtype=rows.dtype, device=rows.device)[:, :, None, None]
        by_shape.setdefault((1, 1), []).append(rows[:, list(p.identity)].sum(1).view(-1, 1, 1, 1, 1) * eye)
    main = functools.reduce(
        operator.add, (embed(functools.reduce(operator.add, ws), d, p.size) for (_, d), ws in by_shape.items())
    )
    gates = tuple(stacked(name, "gate") for _, name in p.gated)
    mixes = tuple(times(k, stacked(name, "conv")) for k, name in p.gated)
    return Kernels(main, tuple(firsts), tuple(seconds), gates, mixes)


def apply_kernels(p: Plan, x: torch.Tensor, k: Kernels) -> torch.Tensor:
    """One layer's output from its combined kernels (no leading dimension)."""
    out = F.conv2d(x, k.main, padding=p.size // 2)
    for first, second in zip(k.firsts, k.seconds, strict=True):
        pad = first.shape[-1] // 2
        out = out + F.conv2d(torch.relu(F.conv2d(x, first, padding=pad)), second, padding=pad)
    if k.gates:
        mean = x.mean(dim=(2, 3), keepdim=True)  # as ops.SpatialMean
        for gate, mix in zip(k.gates, k.mixes, strict=True):
            out = out + F.conv2d(x * torch.sigmoid(F.conv2d(mean, gate)), mix)
    return out


def per_layer(k: Kernels) -> list[Kernels]:
    """Split batched kernels into per-layer ones (``unbind``: its backward is one stack, where an
    index's would be a zero-filled copy of the whole batch per layer)."""
    mains = k.main.unbind(0)
    firsts = [t.unbind(0) for t in k.firsts]
    seconds = [t.unbind(0) for t in k.seconds]
    gates = [t.unbind(0) for t in k.gates]
    mixes = [t.unbind(0) for t in k.mixes]
    return [
        Kernels(
            m,
            tuple(f[j] for f in firsts),
            tuple(s[j] for s in seconds),
            tuple(g[j] for g in gates),
            tuple(x[j] for x in mixes),
        )
        for j, m in enumerate(mains)
    ]


def fused_forward(p: Plan, ops: nn.ModuleDict, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum_k weights[k] * ops[k](x)`` by the plan's few convolutions."""
    return apply_kernels(p, x, per_layer(build_kernels(p, [ops], weights[None]))[0])
