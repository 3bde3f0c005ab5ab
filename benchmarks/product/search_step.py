"""Wall time of one search step of each stage next to one plain supernet training step.

All three run in the same process on the same crops, sizes and loss mix, interleaved round by
round so that machine load (a shared CPU) hits them alike; the table reports the median.

* plain: one SGD step of the supernet (instance norm, α frozen) on the relaxed eight-term loss
  mix (forward, backward, clip, step): what training the supernet without any search costs.
* stage 1: :func:`~hadamard_restore.search.loop.bilevel_step` of the loss search (unrolled
  hypergradient for β and the VGG logits against the classifier + the same SGD step).
* stage 2: the same for the architecture search (α, the fixed searched loss, no norm).
* stage 1 exact: stage 1 with ``search.hessian=exact`` (double backward instead of the two
  extra finite-difference evaluations).

Usage::

    OMP_NUM_THREADS=2 PYTHONPATH=src python benchmarks/product/search_step.py configs/low-light.yaml \\
        --set net.channels=8 --set net.num_hnu=2 --set search.crop=64 --steps 5 \\
        --out benchmarks/results/product/search_step_cpu.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.timing import cpu_model  # noqa: E402

if TYPE_CHECKING:
    from hadamard_restore.config import RunConfig


def step_runs(cfg: RunConfig, device: torch.device) -> dict[str, Callable[[], object]]:
    """``{name: one step}``: the plain supernet step, stage 1, stage 2 and stage 1 with the exact HVP."""
    from hadamard_restore.classifier.model import build_classifier, freeze_classifier
    from hadamard_restore.jobs import search_job
    from hadamard_restore.losses.loss_weights import load_loss_weights
    from hadamard_restore.runtime.process import Dist
    from hadamard_restore.search.arch_stage import arch_problem
    from hadamard_restore.search.data import search_data
    from hadamard_restore.search.loop import bilevel_step, make_optimizers
    from hadamard_restore.search.loss_stage import loss_problem

    job = search_job(cfg)
    data = search_data(job, device)
    frozen_trunk = cfg.classifier.arch.endswith("-features")  # a frozen ImageNet trunk: never from scratch
    clf = freeze_classifier(build_classifier(cfg.classifier.arch, pretrained=frozen_trunk, seed=cfg.seed)).to(device)

    s1, mix = loss_problem(job, clf, data.sample, device)
    s1x, _ = loss_problem(job, clf, data.sample, device)
    exact_cfg = cfg.search.model_copy(update={"hessian": "exact"})
    s2, _, _ = arch_problem(job, load_loss_weights("paper-lol"), data.sample, device)
    plain, _ = loss_problem(job, clf, data.sample, device)
    opts1, opts2 = make_optimizers(s1, cfg.search), make_optimizers(s2, cfg.search)
    opts1x = make_optimizers(s1x, exact_cfg)
    plain_opt = torch.optim.SGD(list(plain.weights.values()), lr=cfg.search.w_lr, momentum=cfg.search.w_momentum)
    gen = torch.Generator().manual_seed(cfg.seed)

    def plain_step():
        x, y = data.sample("train", gen)
        plain_opt.zero_grad(set_to_none=True)
        total, _ = plain.train_loss(plain.weights, (x, y))
        total.backward(inputs=list(plain.weights.values()))
        torch.nn.utils.clip_grad_norm_(list(plain.weights.values()), cfg.search.grad_clip)
        plain_opt.step()

    return {
        "plain supernet step": plain_step,
        "stage 1 (loss search) step": lambda: bilevel_step(s1, *opts1, cfg.search, Dist()),
        "stage 2 (arch search) step": lambda: bilevel_step(s2, *opts2, cfg.search, Dist()),
        "stage 1 step, exact HVP (double backward)": lambda: bilevel_step(s1x, *opts1x, exact_cfg, Dist()),
    }


def _time_rounds(runs: dict[str, Callable[[], object]], rounds: int, device: torch.device) -> dict[str, list[float]]:
    """Seconds of each run in each of ``rounds`` rounds, interleaved, after one untimed warm-up round."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(rounds + 1):
        for name, fn in runs.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if r > 0:
                times[name].append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config")
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--steps", type=int, default=5, help="timed rounds (after one warm-up round)")
    ap.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = ap.parse_args()

    from hadamard_restore.config import load_config
    from hadamard_restore.runtime.process import pick_device

    cfg = load_config(args.config, args.sets)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    times = _time_rounds(step_runs(cfg, device), args.steps, device)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["plain supernet step"]
    lines = [
        "# Search step time vs a plain supernet training step",
        "",
        f"- machine: {cpu_model()}, {os.cpu_count()} logical cores visible, torch threads "
        f"{torch.get_num_threads()}, device {device}"
        + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else ""),
        f"- config: {args.config} " + " ".join(f"--set {s}" for s in args.sets),
        f"- supernet channels {cfg.net.channels}, HNUs {cfg.net.num_hnu}, crop {cfg.search.crop}, "
        f"batch {cfg.search.batch_size}, hessian {cfg.search.hessian}; {args.steps} timed rounds after 1 warm-up, "
        "interleaved; median",
        "",
        "| step | median s | min s | max s | ratio to plain |",
        "|---|---|---|---|---|",
    ]
    for k, v in times.items():
        lines.append(f"| {k} | {med[k]:.3f} | {min(v):.3f} | {max(v):.3f} | {med[k] / base:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        from hadamard_restore.artifacts import atomic_write_text

        atomic_write_text(args.out, text)


if __name__ == "__main__":
    main()
