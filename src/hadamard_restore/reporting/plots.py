"""Every figure of a run (matplotlib, Agg backend, atomic PNG writes).

Search stages (the search writes only data; :func:`plot_search`, called by whoever ran the
search, draws a finished stage's figures beside its files):

* :func:`plot_beta_history`: every loss weight β_i against the step (stage 1);
* :func:`plot_beta_softmax`: softmax(β) as one heatmap row (the paper's Fig. 7a), also the
  report's loss-weight figure;
* :func:`plot_alpha`: softmax(α) of every searched layer as heatmaps, one row per layer, one
  column per candidate op, one panel per candidate set (stage 2).

Training: :func:`plot_training_curves` (loss terms and validation PSNR per step).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from hadamard_restore.artifacts import atomic_write_bytes, read_json
from hadamard_restore.losses.loss_weights import LOSS_NAMES
from hadamard_restore.net.primitives import label_primitives, space_of


def _figure():
    import matplotlib  # lazy: start-up cost (matplotlib, 0.2 s; pyplot 0.7 s)

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # lazy: start-up cost (matplotlib, 0.2 s; pyplot 0.7 s)

    return plt


def _save(fig, path: str | Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _figure().close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def softmax(values: Sequence[float]) -> list[float]:
    """``exp(b_i) / sum_j exp(b_j)``: the display normalisation of the paper's Fig. 7."""
    m = max(values)
    e = [math.exp(v - m) for v in values]
    s = sum(e)
    return [v / s for v in e]


def plot_beta_history(history: Sequence[dict], names: Sequence[str], path: str | Path) -> Path:
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


def plot_beta_softmax(
    beta: Sequence[float],
    names: Sequence[str],
    path: str | Path,
    title: str = "softmax(β) at the end of the loss search",
) -> Path:
    """softmax(β) as a single heatmap row, annotated (display only: the loss uses raw β)."""
    plt = _figure()
    probs = softmax([float(b) for b in beta])
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(names), 1.6))
    im = ax.imshow([probs], cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks([])
    for j, (p, b) in enumerate(zip(probs, beta)):
        ax.text(j, 0, f"{p:.3f}\nβ={b:.3g}", ha="center", va="center", color="w", fontsize=7)
    fig.colorbar(im, ax=ax, fraction=0.05)
    ax.set_title(title)
    return _save(fig, path)


def plot_alpha(probs: Mapping[str, Sequence[float]], op_names: Mapping[str, Sequence[str]], path: str | Path) -> Path:
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
    fig, axes = plt.subplots(
        len(panels),
        1,
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
        figsize=(2.0 + 0.75 * width, 1.2 + 0.22 * sum(heights) + 0.8 * len(panels)),
    )
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


def plot_search(folder: str | Path) -> list[Path]:
    """The figures of every finished search stage under ``folder`` (itself included), drawn from
    the files each stage saved beside them; returns the figures written.

    * stage 1 and the joint mode (``search_loss.json`` / ``search_joint.json`` and
      ``loss_weights.json``): ``beta_over_steps.png`` from the summary's ``beta_trajectory`` and
      ``beta_softmax.png`` from the searched β;
    * stage 2 and the joint mode (``search_arch.json`` / ``search_joint.json`` and
      ``genotype.json``): ``alpha_probabilities.png`` from the genotype's softmax(α).
    """
    written = []
    for summary in sorted(Path(folder).rglob("search_*.json")):
        stage, where = summary.stem.removeprefix("search_"), summary.parent
        if stage in ("loss", "joint") and (where / "loss_weights.json").is_file():
            trajectory = read_json(summary).get("beta_trajectory", [])
            beta = read_json(where / "loss_weights.json")["weights"]
            written.append(plot_beta_history(trajectory, LOSS_NAMES, where / "beta_over_steps.png"))
            written.append(plot_beta_softmax([beta[n] for n in LOSS_NAMES], LOSS_NAMES, where / "beta_softmax.png"))
        if stage in ("arch", "joint") and (where / "genotype.json").is_file():
            genotype = read_json(where / "genotype.json")
            probs, space = genotype["probabilities"], space_of(genotype.get("primitives")) or "paper"
            op_names = {label: label_primitives(label, space) for label in probs}
            written.append(plot_alpha(probs, op_names, where / "alpha_probabilities.png"))
    return written


def plot_training_curves(history: Mapping[str, list], path: str | Path) -> Path:
    """Two panels: training loss (and each term) per step, log scale; validation PSNR per step."""
    plt = _figure()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
    train, val = history.get("train", []), history.get("val", [])
    if train:
        steps = [e["step"] for e in train]
        keys = [k for k in train[0] if k not in ("step", "lr")]
        for k in keys:
            ys = [e.get(k) for e in train]
            if all(y is not None and y > 0 for y in ys):
                ax1.plot(steps, ys, label=k, linewidth=2.0 if k == "loss" else 1.0)
        ax1.set_yscale("log")
        ax1.legend(fontsize=7, ncol=2)
    ax1.set_xlabel("step")
    ax1.set_title("training loss (weighted total and raw terms)", fontsize=9)
    if val:
        ax2.plot([e["step"] for e in val], [e["psnr"] for e in val], marker="o")
        best = max(val, key=lambda e: e["psnr"])
        ax2.axvline(best["step"], color="gray", linestyle=":", linewidth=1)
        ax2.set_title(f"validation PSNR (best {best['psnr']:.2f} dB at step {best['step']})", fontsize=9)
    ax2.set_xlabel("step")
    ax2.set_ylabel("dB")
    return _save(fig, path)
