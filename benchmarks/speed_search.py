"""Search-step timing for :mod:`benchmarks.speed`: one full bilevel step per stage and order.

A step is :func:`hadamard_restore.search.loop.bilevel_step`: the unrolled hypergradient of the
upper variables, their Adam step, then the SGD step of the weights, on one fixed train batch and
one fixed validation batch (``B = batch``, ``crop x crop`` random images; the values do not
change the cost). The hypergradient modes compared:

* ``first_order``: ∇θ L_up at the current weights (stage 2 only in real searches: for stage 1
  it is exactly zero for β, so the search refuses it; it is timed here for the cost comparison
  and labelled as such);
* ``finite_difference``: the second-order step of the paper's code (two extra train-loss
  gradients at w ± εv);
* ``exact``: the same second-order term by double backward.

Stage 1: supernet (instance norm, α frozen), relaxed 8-term loss mix, ResNet-18 classifier
(random init: the weights do not change the cost). Stage 2: supernet without norm, α trainable,
the searched loss fixed (``paper-lol`` weights, TV/Laplacian off).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Variants = dict[str, Callable[[], object]]
Notes = dict[str, str]
MODES = ("first_order", "finite_difference", "exact")


def search_cases(
    channels: int,
    num_hnu: int,
    crop: int,
    batch: int,
    device: torch.device,
    modes: tuple[str, ...] = MODES,
    judge: str = "resnet18",
) -> tuple[Variants, Notes]:
    """``{"stage N | mode": step}``; on an import failure, one note says which area is missing.

    ``judge``: the stage-1 classifier's ``classifier.arch`` (a ResNet at random init, or a feature
    judge with its frozen ImageNet trunk and an untrained head: the weights do not change the cost).
    """
    try:
        from hadamard_restore.classifier import build_classifier, freeze_classifier
        from hadamard_restore.config import RunConfig
        from hadamard_restore.runtime import Dist
        from hadamard_restore.search.arch_stage import fixed_mix
        from hadamard_restore.search.build import judge_objective, mix_objective, supernet
        from hadamard_restore.search.loop import Problem, bilevel_step, make_optimizers
        from hadamard_restore.search.loss_stage import search_mix
    except ImportError as exc:
        return {}, {"search steps": f"not measured: the search/losses areas are not merged yet ({exc})"}

    cfg = RunConfig()
    cfg.net.channels, cfg.net.num_hnu = channels, num_hnu
    cfg.search.crop, cfg.search.batch_size = crop, batch
    gen = torch.Generator().manual_seed(2)
    batches = {
        k: (
            torch.rand(batch, 3, crop, crop, generator=gen).to(device),
            torch.rand(batch, 3, crop, crop, generator=gen).to(device),
        )
        for k in ("train", "val")
    }

    def sample(which: str, generator: torch.Generator):
        return batches[which]

    clf = freeze_classifier(build_classifier(judge, pretrained=judge != "resnet18").to(device))
    out: Variants = {}
    notes: Notes = {}
    for stage in ("loss", "arch"):
        model = supernet(cfg.net, cfg.seed, "instance" if stage == "loss" else "none", device)
        model.freeze_arch(stage == "loss")
        weights = dict(model.named_weights())
        if stage == "loss":
            mix = search_mix(cfg.loss, cfg.seed, device)
            upper = mix.upper_parameters()
            train_loss = mix_objective(model, mix)
            upper_loss = judge_objective(model, clf)
        else:
            mix, _ = fixed_mix(cfg.loss, "paper-lol", device)
            upper = model.arch_parameters()
            train_loss = mix_objective(model, mix)

            def upper_loss(params, b, weighted=train_loss):
                return weighted(params, b)[0]

        problem = Problem(
            stage,
            model,
            weights,
            upper,
            train_loss,
            upper_loss,
            sample,
            {"train": torch.Generator(), "val": torch.Generator()},
            project=getattr(mix, "project_", lambda: None),
        )
        w_opt, up_opt = make_optimizers(problem, cfg.search)
        label = "stage 1 (loss)" if stage == "loss" else "stage 2 (arch)"
        for mode in modes:
            scfg = cfg.search.model_copy(update={"hessian": mode})
            out[f"{label} | {mode}"] = lambda p=problem, a=w_opt, b=up_opt, s=scfg: bilevel_step(p, a, b, s, Dist())
        if "first_order" in modes and stage == "loss":
            notes[f"{label} | first_order"] = (
                "timed for comparison only: it gives beta exactly zero "
                "gradient, so the search refuses it (docs/method.md 6.3)"
            )
    return out, notes
