"""The artifacts a finished search stage writes (rank 0), shared by the stages that search the
same variables: the loss weights (stage 1 and the joint mode) and the architecture (stage 2 and
the joint mode).
"""

from __future__ import annotations

from pathlib import Path

from hadamard_restore.artifacts import atomic_torch_save
from hadamard_restore.losses.loss_weights import LOSS_NAMES
from hadamard_restore.search.build import alpha_state, log


def write_searched_loss(
    mix,
    history: list[dict],
    run_dir: Path,
    judge_record: dict | None,
    provenance: dict[str, str],
    upper: str = "classifier",
) -> dict:
    """``loss_weights.json`` (raw β, argmax VGG layers with the softmax per group, the judge's
    reliability under ``extra.classifier`` and the upper objective ``search.upper`` under
    ``extra.upper``, ``provenance``: name, source, notes) and the plots ``beta_over_steps.png``
    and ``beta_softmax.png``; warns when every β was projected to 0.

    Returns:
        The stage summary's part about the loss: ``{"beta", "vgg_layers", "classifier"}``.
    """
    from hadamard_restore.reporting.plots import plot_beta_history, plot_beta_softmax

    weights = mix.searched_weights(**provenance, extra={"classifier": judge_record, "upper": upper})
    out = weights.save(run_dir / "loss_weights.json")
    if not weights.is_active():
        log.warning(
            "loss search collapsed: every beta was projected to 0 (%s); the next stage "
            "and training will refuse these weights",
            out,
        )
    plot_beta_history(history, LOSS_NAMES, run_dir / "beta_over_steps.png")
    plot_beta_softmax(mix.beta.detach().cpu().tolist(), LOSS_NAMES, run_dir / "beta_softmax.png")
    return {"beta": weights.weights, "vgg_layers": weights.vgg_layers, "classifier": judge_record}


def plot_genotype_alpha(net, path: Path) -> Path:
    """The softmax(α) heatmap with each row's op names."""
    from hadamard_restore.net.primitives import label_primitives
    from hadamard_restore.reporting.plots import plot_alpha

    probs = net.probabilities()
    return plot_alpha(probs, {label: label_primitives(label, net.space) for label in probs}, path)


def write_searched_arch(net, run_dir: Path, name: str):
    """``genotype.json`` (argmax op per layer plus softmax(α)), ``alpha.pt`` (the raw logits, for
    the next round) and ``alpha_probabilities.png``; returns the genotype."""
    genotype = net.genotype(name=name)
    genotype.save(run_dir / "genotype.json")
    atomic_torch_save(alpha_state(net), run_dir / "alpha.pt")
    plot_genotype_alpha(net, run_dir / "alpha_probabilities.png")
    return genotype
