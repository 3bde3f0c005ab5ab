"""Plots of a search written into the run directory (matplotlib, Agg backend, no display).

* ``beta_over_steps.png``: every loss weight β_i against the step (stage 1).
* ``beta_softmax.png``: the final softmax of β as one heatmap row (the paper's Fig. 7a).
* ``alpha_probabilities.png``: softmax(α) of every searched layer as a heatmap, one row per
  layer, one column per candidate op (stage 2).
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
    for j, p in enumerate(probs[0]):
        ax.text(j, 0, f"{p:.3f}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.05)
    ax.set_title("softmax(β) at the end of the loss search")
    return _save(fig, path)


def plot_alpha(probs: dict[str, Sequence[float]], op_names: dict[str, Sequence[str]], path: Path) -> Path:
    """One heatmap row per searched layer of softmax(α) (rows padded to the widest op set).

    Args:
        probs: ``{layer label: probabilities}`` in layer order.
        op_names: ``{layer label: op names}`` (used for the column labels of the widest set).
        path: output PNG.
    """
    plt = _figure()
    labels = list(probs)
    width = max(len(p) for p in probs.values())
    grid = torch.full((len(labels), width), float("nan"))
    for i, lab in enumerate(labels):
        grid[i, : len(probs[lab])] = torch.tensor(list(probs[lab]))
    widest = next(op_names[lab] for lab in labels if len(probs[lab]) == width)
    fig, ax = plt.subplots(figsize=(1.5 + 0.7 * width, 0.8 + 0.22 * len(labels)))
    im = ax.imshow(grid.numpy(), cmap="magma", aspect="auto", vmin=0.0)
    ax.set_xticks(range(width), widest, rotation=40, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=6)
    fig.colorbar(im, ax=ax, fraction=0.04)
    ax.set_title("softmax(α) per searched layer (columns: HNU op set; FCM rows use the first 4 of theirs)",
                 fontsize=8)
    return _save(fig, path)
