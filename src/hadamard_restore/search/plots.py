"""Plots of a search written into the run directory (matplotlib, Agg backend, no display).

* ``beta_over_steps.png``: every loss weight β_i against the step (stage 1).
* ``beta_softmax.png``: the final softmax of β as one heatmap row (the paper's Fig. 7a).
* ``alpha_probabilities.png``: softmax(α) of every searched layer as heatmaps, one row per
  layer, one column per candidate op, one panel per candidate set (stage 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from hadamard_restore.artifacts import atomic_write_bytes


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _figure().close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def plot_beta_history(history: Sequence[dict], names: Sequence[str], path: Path) -> Path:
    """β_i over steps from records holding ``beta/<name>`` keys."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = [r["step"] for r in history]
    for n in names:
        ax.plot(steps, [r.get(f"beta/{n}", float("nan")) for r in history], label=n)
    ax.set_xlabel("step")
    ax.set_ylabel("loss weight β")
    ax.set_title("loss weights during the loss search")
    ax.legend(ncol=4, fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_beta_softmax(beta: Sequence[float], names: Sequence[str], path: Path) -> Path:
    """softmax(β) as a single heatmap row, annotated (display only: the loss uses raw β)."""
    plt = _figure()
    probs = torch.softmax(torch.tensor(list(beta), dtype=torch.float64), 0).numpy()[None, :]
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(names), 1.6))
    im = ax.imshow(probs, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks([])
    for j, (p, b) in enumerate(zip(probs[0], beta)):
        ax.text(j, 0, f"{p:.3f}\nβ={b:.3g}", ha="center", va="center", color="w", fontsize=7)
    fig.colorbar(im, ax=ax, fraction=0.05)
    ax.set_title("softmax(β) at the end of the loss search")
    return _save(fig, path)


def plot_alpha(probs: dict[str, Sequence[float]], op_names: dict[str, Sequence[str]], path: Path) -> Path:
    """softmax(α) heatmaps: one panel per candidate set (FCM layers, HNU layers), one row per layer.

    Each panel has its own colour scale (early in a search the rows are close to uniform, so a
    shared 0..1 scale would show nothing) and marks each row's argmax with a dot.

    Args:
        probs: ``{layer label: probabilities}`` in layer order.
        op_names: ``{layer label: op names}`` in the same candidate order.
        path: output PNG.
    """
    plt = _figure()
    panels: dict[tuple[str, ...], list[str]] = {}
    for lab in probs:
        panels.setdefault(tuple(op_names[lab]), []).append(lab)
    heights = [len(rows) for rows in panels.values()]
    width = max(len(ops) for ops in panels)
    fig, axes = plt.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights},
                             figsize=(2.0 + 0.75 * width, 1.2 + 0.22 * sum(heights) + 0.8 * len(panels)))
    for ax, (ops, rows) in zip(axes[:, 0], panels.items()):
        grid = torch.tensor([list(probs[r]) for r in rows])
        im = ax.imshow(grid.numpy(), cmap="magma", aspect="auto")
        ax.set_xticks(range(len(ops)), ops, rotation=35, ha="right", fontsize=7)
        ax.set_yticks(range(len(rows)), rows, fontsize=6)
        best = grid.argmax(1)
        ax.scatter(best.numpy(), range(len(rows)), s=6, c="cyan", marker="o")
        fig.colorbar(im, ax=ax, fraction=0.04)
    axes[0, 0].set_title("softmax(α) per searched layer (dot: argmax)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
