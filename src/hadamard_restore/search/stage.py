"""The one skeleton every search stage runs: setup, problem, bilevel loop, artifacts, summary.

A stage is a :class:`StageSpec`: its name, its number of steps, whether the classifier judges
it, and a builder that turns a :class:`StageContext` (device, ranks, data, classifier) into the
bilevel :class:`~hadamard_restore.search.loop.Problem` plus the function that writes the
stage's artifacts once every step is done. :func:`run_stage` does the rest, the same for the
loss stage, the architecture stage and the joint mode:

1. refuse a hypergradient mode that is wrong for the stage, before any work;
2. set up the process (device, torchrun ranks, seeds) unless the caller did;
3. obtain the classifier when the stage has one (:func:`~hadamard_restore.classifier.provide_classifier`
   into ``<run_dir>/classifier`` unless a checkpoint is passed) and log how far it can be trusted;
4. the search-train / search-validation samplers, then the stage's problem;
5. :func:`~hadamard_restore.search.loop.run_bilevel` (resumable; may stop early for tests);
6. on rank 0: the stage's artifacts, then ``search_<stage>.json`` (settings, timing, results);
7. every rank waits for rank 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import torch

from hadamard_restore.classifier.checkpoint import load_classifier
from hadamard_restore.classifier.provide import provide_classifier
from hadamard_restore.classifier.reliability import logged_classifier_record
from hadamard_restore.jobs import SearchJob
from hadamard_restore.runtime.process import Dist, barrier, setup_process
from hadamard_restore.search.build import log
from hadamard_restore.search.data import search_data
from hadamard_restore.search.hypergrad import check_mode
from hadamard_restore.search.loop import Batch, Problem, run_bilevel
from hadamard_restore.search.summary import finish_stage
from hadamard_restore.search.upper import needs_classifier

if TYPE_CHECKING:
    from hadamard_restore.classifier.model import Classifier

#: writes a finished stage's artifacts (rank 0) and returns the results for its summary
ArtifactWriter = Callable[[list[dict]], dict[str, Any]]


@dataclass(frozen=True)
class FrozenClassifier:
    """A judged stage's frozen :data:`~hadamard_restore.classifier.model.Classifier` and what is known
    about its reliability.

    Attributes:
        model: the classifier, frozen, in eval mode, on the stage's device.
        record: :func:`~hadamard_restore.classifier.classifier_record` (rank 0 only, else None).
    """

    model: Classifier
    record: dict | None


@dataclass(frozen=True)
class StageContext:
    """What a stage's problem builder receives."""

    job: SearchJob
    run_dir: Path
    device: torch.device
    dist: Dist
    sample: Callable[[str, torch.Generator], Batch]
    classifier: FrozenClassifier | None


#: ``StageContext -> (problem, artifact writer)``: what makes a stage's bilevel problem
StageBuilder = Callable[[StageContext], tuple[Problem, ArtifactWriter]]


@dataclass(frozen=True)
class StageSpec:
    """One search stage.

    Attributes:
        stage: ``loss``, ``arch`` or ``joint`` (names the checkpoint and the summary file).
        steps: bilevel steps to run.
        uses_classifier: whether the classifier is the upper objective (one is then provided).
        build: ``StageContext -> (problem, artifact writer)``.
    """

    stage: str
    steps: int
    uses_classifier: bool
    build: StageBuilder


def loss_search_spec(stage: str, job: SearchJob, build: StageBuilder) -> StageSpec:
    """A stage that searches the loss mix (stage 1, the joint mode): ``search.loss_steps`` steps,
    judged unless ``search.upper`` is ``reference``."""
    return StageSpec(stage, job.search.loss_steps, needs_classifier(job.search.upper), build)


class StageOptions(TypedDict, total=False):
    """How to run a stage; the ``search_*`` entry points pass these keywords on to :func:`run_stage`.

    Keys:
        resume: continue from ``run_dir/checkpoint.pt`` when present (default False).
        stop_after: stop after this many steps without writing results (tests of resume).
        env: ``(device, dist)`` when the caller has already set up the process.
    """

    resume: bool
    stop_after: int | None
    env: tuple[torch.device, Dist] | None


class ClassifierStageOptions(StageOptions, total=False):
    """:class:`StageOptions` of a stage the classifier may judge, plus ``classifier``: its
    checkpoint; None provides one (trained into ``run_dir/classifier``)."""

    classifier: Path | None


def load_stage_classifier(
    job: SearchJob, run_dir: Path, device: torch.device, dist_ctx: Dist, classifier: Path | None = None
) -> FrozenClassifier:
    """The classifier ``classifier`` names, else the one :func:`provide_classifier` gives."""
    path = (
        classifier if classifier is not None else provide_classifier(job.classifier, run_dir / "classifier", dist_ctx)
    )
    model = load_classifier(path, device)
    return FrozenClassifier(model, logged_classifier_record(path, job.search.crop) if dist_ctx.is_main else None)


def run_stage(
    spec: StageSpec,
    job: SearchJob,
    run_dir: str | Path,
    *,
    classifier: Path | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    env: tuple[torch.device, Dist] | None = None,
) -> bool:
    """Run one stage (see the module docstring); True when it finished and wrote its artifacts.

    Args:
        spec: the stage.
        job: the search settings and data.
        run_dir: the stage directory (``checkpoint.pt``, ``tensorboard/`` and the artifacts go there).
        classifier: the classifier's checkpoint (judged stages); None provides one.
        resume: continue from ``run_dir/checkpoint.pt`` when present.
        stop_after: stop after this many steps without writing results (tests of resume).
        env: ``(device, dist)`` when the caller has already set up the process.
    """
    check_mode(job.search.hessian, spec.stage)
    run_dir = Path(run_dir)
    device, dist_ctx = env if env is not None else setup_process(job.device, job.seed)
    frozen = load_stage_classifier(job, run_dir, device, dist_ctx, classifier) if spec.uses_classifier else None
    data = search_data(job, device, run_dir, dist_ctx)
    problem, write_artifacts = spec.build(StageContext(job, run_dir, device, dist_ctx, data.sample, frozen))
    start = time.perf_counter()
    history = run_bilevel(problem, job.search, spec.steps, run_dir, dist_ctx, resume, stop_after)
    if len(history) < spec.steps:
        return False
    if dist_ctx.is_main:
        results = write_artifacts(history)
        finish_stage(
            run_dir / f"search_{spec.stage}.json",
            spec.stage,
            job.search,
            history,
            time.perf_counter() - start,
            dist_ctx,
            results,
        )
        log.info("%s search done: %s", spec.stage, run_dir)
    barrier(dist_ctx)
    return True
