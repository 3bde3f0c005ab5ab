"""Build the networks from the ``net`` section of a run config
(:class:`~hadamard_restore.config.NetConfig`).
"""

from __future__ import annotations

import torch

from hadamard_restore.config import NetConfig
from hadamard_restore.net.genotype import Genotype
from hadamard_restore.net.hnu import Norm
from hadamard_restore.net.network import HadamardNet
from hadamard_restore.net.supernet import SuperNet
from hadamard_restore.runtime.log import get_logger

log = get_logger("hadamard_restore.net")


def build_supernet(cfg: NetConfig, norm: Norm | None = None, generator: torch.Generator | None = None) -> SuperNet:
    """A supernet of ``cfg.channels`` x ``cfg.num_hnu`` over the candidate sets of ``cfg.space``;
    ``norm`` overrides ``cfg.norm`` (pass ``"instance"`` for stage 1 and ``"none"`` for stage 2,
    docs/method.md 1.4)."""
    return SuperNet(cfg.channels, cfg.num_hnu, norm or cfg.norm, generator, space=cfg.space, upsample=cfg.upsample)


def net_for_genotype(cfg: NetConfig, genotype: Genotype) -> NetConfig:
    """The ``net`` section with the width the genotype records honoured.

    A genotype's ``channels`` is the width it was searched at. When ``cfg`` does not set
    ``channels`` itself, that width is used (so the run's config.yaml and model.pt record it);
    when ``cfg`` sets another width on purpose, the config wins and a warning names both.
    """
    if genotype.channels is None or genotype.channels == cfg.channels:
        return cfg
    name = genotype.name or "the genotype"
    if "channels" not in cfg.model_fields_set:
        log.info("net.channels=%d: the width %s was searched at (its 'channels')", genotype.channels, name)
        return cfg.model_copy(update={"channels": genotype.channels})
    log.warning(
        "%s was searched at %d channels; building it with net.channels=%d as the config asks",
        name,
        genotype.channels,
        cfg.channels,
    )
    return cfg


def build_network(genotype: Genotype, cfg: NetConfig, seed: int) -> HadamardNet:
    """The derived network of ``genotype``, initialised from ``seed``.

    Width and norm come from ``cfg`` as given (pass it through :func:`net_for_genotype` first, as
    ``training.train`` does, so the width is also what the run records); the genotype must have
    ``cfg.num_hnu`` HNUs (a mismatch is a GenotypeError). The one builder of a fresh HadamardNet
    from a config; a saved one is rebuilt from its file by
    :func:`hadamard_restore.net.model_file.load_model`.
    """
    return HadamardNet(
        genotype,
        channels=cfg.channels,
        num_hnu=cfg.num_hnu,
        norm=cfg.norm,
        generator=torch.Generator().manual_seed(seed),
        upsample=cfg.upsample,
    )
