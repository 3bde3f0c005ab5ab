"""A tiny bilevel problem for loop tests that need neither the supernet nor pretrained weights.

Lower variables: a 2-layer conv net. Upper: two loss weights β (ℓ1, ℓ2) and a scalar α-like
gate inside the net. L_up: MSE on a validation pair (no direct β dependence, like L_Cval).
"""

from __future__ import annotations

import torch
from torch.func import functional_call

from hadamard_restore.config import SearchConfig
from hadamard_restore.search.loop import Problem


class ToyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.b = torch.nn.Conv2d(4, 3, 1)
        self.gate = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x + self.b(torch.tanh(self.a(x))) * torch.sigmoid(self.gate)


def toy_problem(seed: int, rank_seeds=(0,), size: int = 9) -> Problem:
    """Build the toy problem; the sampler concatenates one sample per entry of ``rank_seeds``."""
    torch.manual_seed(seed)
    net = ToyNet()
    beta = torch.nn.Parameter(torch.ones(2))
    weights = {n: p for n, p in net.named_parameters() if n != "gate"}
    gens = {
        k: torch.Generator().manual_seed(1000 * (i + 1) + s)
        for i, k in enumerate(("train", "val"))
        for s in rank_seeds[:1]
    }
    extra = [torch.Generator().manual_seed(1000 * (i + 1) + s) for s in rank_seeds[1:] for i in range(2)]

    def draw(g):
        x = torch.rand(1, 3, size, size, generator=g)
        return x * 0.3, x

    def sample(which, g):
        gs = [g] + [extra[2 * j + (which == "val")] for j in range(len(rank_seeds) - 1)]
        pairs = [draw(gi) for gi in gs]
        return torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])

    def train_loss(p, batch):
        out = functional_call(net, p, (batch[0],))
        terms = {"l1": (out - batch[1]).abs().mean(), "l2": ((out - batch[1]) ** 2).mean()}
        return beta[0] * terms["l1"] + beta[1] * terms["l2"], terms

    def upper_loss(p, batch):
        return ((functional_call(net, p, (batch[0],)) - batch[1]) ** 2).mean()

    def project():
        with torch.no_grad():
            beta.clamp_(min=0)

    return Problem(
        "toy",
        net,
        weights,
        [beta, net.gate],
        train_loss,
        upper_loss,
        sample,
        gens,
        project=project,
        scalars=lambda: {"beta/l1": float(beta[0].detach()), "beta/l2": float(beta[1].detach())},
    )


def toy_cfg(**kw) -> SearchConfig:
    base = dict(w_lr=0.05, upper_lr=0.05, checkpoint_every=2, hessian="finite_difference")
    base.update(kw)
    return SearchConfig(**base)
