"""Build the networks from the ``net`` section of a run config (:class:`~hadamard_restore.config.NetConfig`)."""

from __future__ import annotations

from pathlib import Path

import torch

from hadamard_restore.config import NetConfig
from hadamard_restore.net.genotype import Genotype, load_genotype
from hadamard_restore.net.hnu import Norm
from hadamard_restore.net.network import HadamardNet
from hadamard_restore.net.supernet import SuperNet


def build_supernet(cfg: NetConfig, norm: Norm | None = None, generator: torch.Generator | None = None) -> SuperNet:
    """A supernet of ``cfg.channels`` x ``cfg.num_hnu``; ``norm`` overrides ``cfg.norm``
    (pass ``"instance"`` for stage 1 and ``"none"`` for stage 2, docs/method.md 1.4)."""
    return SuperNet(cfg.channels, cfg.num_hnu, norm or cfg.norm, generator)


def build_network(genotype: Genotype | str | Path | None, cfg: NetConfig, seed: int) -> HadamardNet:
    """The derived network of ``genotype`` (None: ``cfg.genotype``), initialised from ``seed``.

    Width and norm come from ``cfg``; the genotype must have ``cfg.num_hnu`` HNUs (a
    mismatch is a GenotypeError). The one builder of a fresh HadamardNet from a config; a
    saved one is rebuilt from its file by :func:`hadamard_restore.net.model_file.load_model`.
    """
    return HadamardNet(
        load_genotype(cfg.genotype if genotype is None else genotype),
        channels=cfg.channels,
        num_hnu=cfg.num_hnu,
        norm=cfg.norm,
        generator=torch.Generator().manual_seed(seed),
    )
