"""Starting weights for fine-tuning: train a model on from another model's weights.

``hadamard-restore train --init-from MODEL`` (a ``model.pt`` / ``last.pt`` of an earlier run, or a
bundled model's file) starts training from that model's weights instead of a fresh
initialisation. What has to match the weights comes from the file, so it fits by construction:

* the network: the file's genotype (unless ``--genotype`` names one; a genotype the weights do not
  fit is refused) and its ``net`` settings (channels, HNU count, norm, up-sampler), which replace the
  config's (a replaced value is logged);
* the loss: the file's loss weights, unless ``--loss-weights`` names others (so a fine-tune
  continues with the loss the model was trained with).

Everything else is a new run: a fresh optimizer, the config's schedule and warm-up from step 0,
the weight average started at the loaded weights. The trainer scores the loaded weights before
the first step, so ``model.pt`` (best by validation PSNR) is never worse on the validation pairs
than the model the run started from. The source's path and sha256 are recorded in every file the
run writes (``meta["init_from"]``) and in ``init_from.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from hadamard_restore.artifacts import sha256_file
from hadamard_restore.config import NetConfig, RunConfig
from hadamard_restore.errors import CheckpointError, HadamardRestoreError
from hadamard_restore.losses.loss_weights import LossWeights
from hadamard_restore.net.genotype import Genotype
from hadamard_restore.net.meta_checks import NET_KEYS, checked_net_settings
from hadamard_restore.net.model_file import genotype_from_dict, read_model_file
from hadamard_restore.runtime.log import get_logger

log = get_logger("hadamard_restore.train")


@dataclass(frozen=True)
class InitSource:
    """A model file read for fine-tuning.

    Attributes:
        path: the file.
        sha256: its sha256 (recorded with the run).
        genotype: the genotype it was trained with.
        net: its network settings (``channels, num_hnu, norm, upsample``; a file older than
            ``net.upsample`` holds the paper's transposed convolutions).
        loss_weights: the loss weights it was trained with, or None if the file has none.
        state_dict: its weights (any float dtype; copied into the float32 network).
    """

    path: Path
    sha256: str
    genotype: Genotype
    net: dict
    loss_weights: LossWeights | None
    state_dict: Mapping[str, torch.Tensor]

    def record(self) -> dict:
        """What the run records about where its weights started."""
        return {"path": str(self.path), "sha256": self.sha256, "genotype": self.genotype.name, "net": self.net}


def read_init_source(path: str | Path) -> InitSource:
    """Read ``path`` (a model file or training state) to start a run from.

    Raises:
        CheckpointError: the file is missing, damaged or not a model file (said by the reader).
    """
    path = Path(path)
    blob = read_model_file(path)
    meta = blob["meta"]
    net = {"upsample": "transpose", **checked_net_settings(meta.get("net"))}
    stored_lw = meta.get("loss_weights") or None
    lw = LossWeights.from_dict(stored_lw, f"the loss weights stored in {path}") if stored_lw else None
    try:
        genotype = genotype_from_dict(meta["genotype"])
    except (KeyError, TypeError, ValueError) as exc:  # no genotype block, not a mapping, or invalid (GenotypeError)
        raise CheckpointError(
            f"{path} holds no valid genotype ({type(exc).__name__}: {exc}); it is damaged or not a model "
            "file of hadamard-restore: pass a model.pt written by `hadamard-restore train`"
        ) from None
    return InitSource(
        path=path,
        sha256=sha256_file(path),
        genotype=genotype,
        net=net,
        loss_weights=lw,
        state_dict=blob["state_dict"],
    )


def net_with(cfg: NetConfig, settings: Mapping, origin: str) -> NetConfig:
    """The ``net`` section with ``settings`` (a source's :attr:`InitSource.net`) in place of the
    config's, so that its weights fit; each config value replaced is logged, naming ``origin``."""
    replaced = {k: (getattr(cfg, k), settings[k]) for k in NET_KEYS if k in settings and getattr(cfg, k) != settings[k]}
    for key, (mine, theirs) in replaced.items():
        log.warning(
            "net.%s=%s: the value of %s, whose weights the run starts from (the config says %s)",
            key,
            theirs,
            origin,
            mine,
        )
    return cfg.model_copy(update={k: settings[k] for k in NET_KEYS if k in settings})


def recorded_start(run_dir: Path) -> dict | None:
    """What ``init_from.json`` in ``run_dir`` records (a run resumed after starting from another
    model's weights keeps its net settings and its provenance), or None for a run from scratch.

    Raises:
        CheckpointError: the record is unreadable.
    """
    path = run_dir / "init_from.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        checked_net_settings(record["net"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"{path} is unreadable ({exc}); it records which model this run started from: "
            "restore it, or start a new run"
        ) from None
    return record


def starting_point(
    cfg: RunConfig,
    run_dir: Path,
    genotype: Genotype | None,
    loss_weights: LossWeights | None,
    init_from: InitSource | None,
    resume: bool,
) -> tuple[RunConfig, Genotype | None, LossWeights | None, dict | None]:
    """``train``'s config, genotype and loss weights once a start from other weights is applied, and
    the record of that start (None for a run from scratch): ``init_from``'s, or for a resumed run the
    one its ``init_from.json`` keeps (``init_from`` may name the same weights again: the same command
    continues the run). A genotype or loss weights given win over the source's.

    Raises:
        HadamardRestoreError: ``resume`` with an ``init_from`` other than the one the run started from.
    """
    recorded = recorded_start(run_dir) if resume else None
    if resume and init_from is not None and (recorded is None or recorded["sha256"] != init_from.sha256):
        began = "from scratch" if recorded is None else f"from {recorded['path']} (sha256 {recorded['sha256'][:12]})"
        raise HadamardRestoreError(
            f"--resume continues {run_dir}, which started {began}; --init-from {init_from.path} names other "
            "weights. Drop --init-from to continue the run, or start a new run in another --out"
        )
    if init_from is not None:
        genotype = init_from.genotype if genotype is None else genotype
        loss_weights = init_from.loss_weights if loss_weights is None else loss_weights
    if init_from is not None and not resume and cfg.train.warmup_steps == 0:
        log.warning(
            "fine-tuning %s without warm-up: Adam's first steps move every weight by about train.lr (%g), "
            "which can undo much of what the model learned; set train.warmup_steps (e.g. 100)",
            init_from.path,
            cfg.train.lr,
        )
    start = recorded if resume else init_from.record() if init_from is not None else None
    if start is not None:
        cfg = cfg.model_copy(update={"net": net_with(cfg.net, start["net"], start["path"])})
    return cfg, genotype, loss_weights, start
