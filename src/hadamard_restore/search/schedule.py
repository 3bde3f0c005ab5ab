"""The hierarchical schedule (method.md 5): stage 1 then stage 2, alternated t times.

Round k (1 ≤ k ≤ t = ``cfg.search.alternations``):

1. stage 1 (loss search) with the supernet frozen at α^{k-1} (α^0 = the random ≈ uniform init),
   giving β^k;
2. stage 2 (architecture search) with the loss β^k, α starting from α^{k-1}, giving α^k.

With t = 1 (the paper's code) the stage directories are ``<run_dir>/loss`` and
``<run_dir>/arch``; with t > 1 they are ``<run_dir>/round<k>/{loss,arch}``. The final
``loss_weights.json`` and ``genotype.json`` are copied to ``<run_dir>``. The classifier is
trained (or loaded) once for all rounds. ``cfg.search.mode: joint`` runs
:func:`~hadamard_restore.search.joint_stage.search_joint` instead (Ours_a).

``resume``: finished stages (their artifact exists) are skipped, the unfinished one continues
from its checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hadamard_restore.config import RunConfig
from hadamard_restore.runtime import Dist
from hadamard_restore.search import ddp
from hadamard_restore.search.arch_stage import search_arch
from hadamard_restore.search.build import log, setup
from hadamard_restore.search.classifier import classifier_path
from hadamard_restore.search.hypergrad import check_mode
from hadamard_restore.search.joint_stage import search_joint
from hadamard_restore.search.loss_stage import search_loss


def _copy(src: Path, dst: Path) -> None:
    from hadamard_restore.artifacts import atomic_write_bytes

    atomic_write_bytes(dst, Path(src).read_bytes())


def search(cfg: RunConfig, run_dir: str | Path, *, resume: bool = False,
           env: tuple[torch.device, Dist] | None = None) -> dict[str, Path]:
    """Run the whole search; returns ``{"loss_weights": path, "genotype": path}`` in ``run_dir``.

    Args:
        cfg: the run config (``search.mode``, ``search.alternations``, ...).
        run_dir: the run directory (stage directories are made inside).
        resume: skip finished stages and continue the unfinished one from its checkpoint.
        env: ``(device, dist)`` when the caller has already set up the process.
    """
    check_mode(cfg.search.hessian, "joint" if cfg.search.mode == "joint" else "loss")  # before any work
    run_dir = Path(run_dir)
    env = env if env is not None else setup(cfg)
    device, dist_ctx = env
    if cfg.search.mode == "joint":
        return search_joint(cfg, run_dir, resume=resume, env=env)
    cfg = cfg.model_copy(deep=True)
    if cfg.search.upper == "classifier":  # search.upper=reference needs no classifier
        cfg.classifier.checkpoint = classifier_path(cfg, run_dir, dist_ctx)
    t = cfg.search.alternations
    alpha = None
    lw_path = geno_path = None
    for k in range(1, t + 1):
        base = run_dir if t == 1 else run_dir / f"round{k}"
        lw_path = base / "loss" / "loss_weights.json"
        if not (resume and lw_path.is_file()):
            log.info("round %d/%d: stage 1 (loss search)", k, t)
            search_loss(cfg, base / "loss", alpha=alpha, resume=resume, round_=k, env=env)
        geno_path = base / "arch" / "genotype.json"
        if not (resume and geno_path.is_file()):
            log.info("round %d/%d: stage 2 (architecture search)", k, t)
            search_arch(cfg, base / "arch", lw_path, alpha=alpha, resume=resume, round_=k, env=env)
        alpha = torch.load(base / "arch" / "alpha.pt", map_location="cpu")
    out = {"loss_weights": run_dir / "loss_weights.json", "genotype": run_dir / "genotype.json"}
    if dist_ctx.is_main:
        _copy(lw_path, out["loss_weights"])
        _copy(geno_path, out["genotype"])
    ddp.barrier(dist_ctx)
    return out
