"""The hierarchical schedule (docs/method.md 5): stage 1 then stage 2, alternated t times.

Round k (1 ≤ k ≤ t = ``search.alternations``):

1. stage 1 (loss search) with the supernet frozen at α^{k-1} (α^0 = the random ≈ uniform init),
   giving β^k;
2. stage 2 (architecture search) with the loss β^k, α starting from α^{k-1}, giving α^k.

With t = 1 (the paper's code) the stage directories are ``<run_dir>/loss`` and
``<run_dir>/arch``; with t > 1 they are ``<run_dir>/round<k>/{loss,arch}``. The final
``loss_weights.json`` and ``genotype.json`` are copied to ``<run_dir>``. The classifier is
provided once for all rounds (passed in, or reused or trained into ``<run_dir>/classifier``);
with ``search.upper: reference`` none is needed and none is trained.
``search.architecture`` naming a genotype skips stage 2: the run's genotype.json is that fixed
architecture, and stage 1 alone searches the loss weights. ``search.mode: joint`` runs
:func:`~hadamard_restore.search.joint_stage.search_joint` instead (Ours_a).

``resume``: finished stages (their artifact exists) are skipped, the unfinished one continues
from its checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hadamard_restore.artifacts import atomic_write_bytes
from hadamard_restore.classifier.provide import provide_classifier
from hadamard_restore.errors import GenotypeError
from hadamard_restore.jobs import SearchJob
from hadamard_restore.losses.loss_weights import load_loss_weights
from hadamard_restore.net.genotype import Genotype, load_genotype
from hadamard_restore.runtime.process import Dist, barrier, setup_process
from hadamard_restore.search.arch_stage import search_arch
from hadamard_restore.search.build import log
from hadamard_restore.search.hypergrad import check_mode
from hadamard_restore.search.joint_stage import search_joint
from hadamard_restore.search.loss_stage import search_loss
from hadamard_restore.search.upper import needs_classifier


def _copy(src: Path, dst: Path) -> None:
    atomic_write_bytes(dst, Path(src).read_bytes())


def fixed_genotype(job: SearchJob) -> Genotype | None:
    """The architecture ``search.architecture`` fixes (None: stage 2 searches it), checked before any
    work.

    Raises:
        GenotypeError: the name is neither a bundled genotype nor a genotype file, or its number of
            HNUs differs from ``net.num_hnu``.
    """
    if job.search.architecture == "search":
        return None
    genotype = load_genotype(job.search.architecture)
    if genotype.num_hnu != job.net.num_hnu:
        raise GenotypeError(
            f"search.architecture={job.search.architecture!r} has {genotype.num_hnu} HNUs but net.num_hnu is "
            f"{job.net.num_hnu}; set net.num_hnu={genotype.num_hnu} or choose a genotype with {job.net.num_hnu}"
        )
    return genotype


def search(
    job: SearchJob,
    run_dir: str | Path,
    *,
    classifier: Path | None = None,
    resume: bool = False,
    env: tuple[torch.device, Dist] | None = None,
) -> dict[str, Path]:
    """Run the whole search; returns ``{"loss_weights": path, "genotype": path}`` in ``run_dir``.

    Args:
        job: the search settings and data (``search.mode``, ``search.alternations``, ...).
        run_dir: the run directory (stage directories are made inside).
        classifier: the classifier's checkpoint; None provides one into ``run_dir/classifier``.
        resume: skip finished stages and continue the unfinished one from its checkpoint.
        env: ``(device, dist)`` when the caller has already set up the process.
    """
    check_mode(job.search.hessian, "joint" if job.search.mode == "joint" else "loss")  # before any work
    run_dir = Path(run_dir)
    env = env if env is not None else setup_process(job.device, job.seed)
    device, dist_ctx = env
    fixed = fixed_genotype(job)
    if job.search.mode == "joint":
        paths = search_joint(job, run_dir, classifier=classifier, resume=resume, env=env)
        assert paths is not None  # None only when stopped early by stop_after, not passed here
        return paths
    if classifier is None and needs_classifier(job.search.upper):  # search.upper=reference needs no classifier
        classifier = provide_classifier(job.classifier, run_dir / "classifier", dist_ctx)
    rounds = job.search.alternations
    alpha = None
    for k in range(1, rounds + 1):
        base = run_dir if rounds == 1 else run_dir / f"round{k}"
        loss_weights = base / "loss" / "loss_weights.json"
        if not (resume and loss_weights.is_file()):
            log.info("round %d/%d: stage 1 (loss search)", k, rounds)
            search_loss(job, base / "loss", classifier=classifier, alpha=alpha, resume=resume, round_index=k, env=env)
        genotype = base / "arch" / "genotype.json"
        if fixed is not None:  # stage 2 skipped (one round only, see SearchConfig)
            log.info("stage 2 skipped: the architecture is fixed (search.architecture=%s)", job.search.architecture)
            if dist_ctx.is_main:
                fixed.save(genotype)
            break
        if not (resume and genotype.is_file()):
            log.info("round %d/%d: stage 2 (architecture search)", k, rounds)
            chosen = load_loss_weights(loss_weights)
            search_arch(job, base / "arch", chosen, alpha=alpha, resume=resume, round_index=k, env=env)
        alpha = torch.load(base / "arch" / "alpha.pt", map_location="cpu", weights_only=True)
    out = {"loss_weights": run_dir / "loss_weights.json", "genotype": run_dir / "genotype.json"}
    if dist_ctx.is_main:
        _copy(loss_weights, out["loss_weights"])
        _copy(genotype, out["genotype"])
    barrier(dist_ctx)
    return out
