"""Report figures: loss-weight heatmap and training curves (matplotlib, Agg, atomic PNG writes)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Mapping, Sequence

from hadamard_restore.artifacts import atomic_write_bytes


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

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


def loss_weight_heatmap(weights: Mapping[str, float], path: str | Path, title: str = "searched loss weights") -> Path:
    """One-row heatmap of softmax(beta) (as the paper's Fig. 7a), annotated with raw beta."""
    plt = _figure()
    names, beta = list(weights), [float(v) for v in weights.values()]
    share = softmax(beta)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(names), 1.6))
    im = ax.imshow([share], cmap="viridis", aspect="auto", vmin=0.0, vmax=max(share))
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks([])
    for i, (b, s) in enumerate(zip(beta, share)):
        ax.text(i, 0, f"{b:.2f}", ha="center", va="center", color="white" if s < 0.7 * max(share) else "black")
    ax.set_title(f"{title} (colour: softmax(beta); text: beta)", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    return _save(fig, path)


def training_curves(history: Mapping[str, list], path: str | Path) -> Path:
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
