"""The artifacts a finished search stage writes (rank 0), shared by the stages that search the
same variables: the loss weights (stage 1 and the joint mode) and the architecture (stage 2 and
the joint mode). Data only: the figures are drawn from these files by
:func:`hadamard_restore.reporting.plots.plot_search`, which whoever runs the search calls.
"""

from __future__ import annotations

from pathlib import Path

from hadamard_restore.artifacts import atomic_torch_save
from hadamard_restore.search.build import alpha_state, log


def write_searched_loss(
    mix,
    run_dir: Path,
    reliability: dict | None,
    provenance: dict[str, str],
    upper: str = "classifier",
) -> dict:
    """``loss_weights.json`` (raw β, argmax VGG layers with the softmax per group, the classifier's
    reliability under ``extra.classifier`` and the upper objective ``search.upper`` under
    ``extra.upper``, ``provenance``: name, source, notes); warns when every β was projected to 0.

    Returns:
        The stage summary's part about the loss: ``{"beta", "vgg_layers", "classifier"}``.
    """
    weights = mix.searched_weights(**provenance, extra={"classifier": reliability, "upper": upper})
    out = weights.save(run_dir / "loss_weights.json")
    if not weights.is_active():
        log.warning(
            "loss search collapsed: every beta was projected to 0 (%s); the next stage "
            "and training will refuse these weights",
            out,
        )
    return {"beta": weights.weights, "vgg_layers": weights.vgg_layers, "classifier": reliability}


def write_searched_arch(net, run_dir: Path, name: str):
    """``genotype.json`` (argmax op per layer plus softmax(α)) and ``alpha.pt`` (the raw logits, for
    the next round); returns the genotype."""
    genotype = net.genotype(name=name)
    genotype.save(run_dir / "genotype.json")
    atomic_torch_save(alpha_state(net), run_dir / "alpha.pt")
    return genotype
