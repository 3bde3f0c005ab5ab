"""The edge between a run's whole config and the library areas that do the work.

The classifier and the search take only what they use: their own config sections and explicit
values, bundled as :class:`ClassifierJob` and :class:`SearchJob`. The command line and the run
orchestration hold the whole :class:`~hadamard_restore.config.RunConfig`; they cut it into
these with :func:`classifier_job` and :func:`search_job`, the one place that knows which run
setting feeds which library argument.

The training pairs are passed as a :data:`PairSource`, a callable that returns the task's
``(train_pairs, val_pairs)`` given a directory to record the split in (and to generate demo data
in), so the data settings stay at the edge as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from hadamard_restore.config import ClassifierConfig, LossConfig, NetConfig, RunConfig, SearchConfig
from hadamard_restore.data.layouts import Pair
from hadamard_restore.data.task_data import load_pairs

PairSource = Callable[[Path | None], tuple[list[Pair], list[Pair]]]


@dataclass(frozen=True)
class ClassifierJob:
    """Everything the clear-vs-degraded classifier needs to be trained or reused.

    Attributes:
        settings: the ``classifier`` section (``checkpoint`` names one to reuse).
        pairs: the task's training pairs (only the training part is learned from).
        search_crop: the side of the outputs stage 1 will judge; the default training and
            evaluation window side.
        seed: seeds the head initialisation and every draw of the training.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        task: the task name recorded in the metrics.
    """

    settings: ClassifierConfig
    pairs: PairSource
    search_crop: int
    seed: int = 0
    device: str = "auto"
    task: str = "custom"

    @property
    def train_crop(self) -> int:
        """Side of the training windows: ``settings.crop``, else the judged size."""
        return int(self.settings.crop or self.search_crop)

    @property
    def judged_crop(self) -> int:
        """Side of the windows the accuracy is measured on: ``settings.eval_crop``, else the
        size stage 1 feeds the classifier."""
        return int(self.settings.eval_crop or self.search_crop)


@dataclass(frozen=True)
class SearchJob:
    """Everything the bilevel search needs.

    Attributes:
        search: the ``search`` section (steps, optimisers, crops, schedule, hessian).
        net: the ``net`` section (supernet size).
        loss: the ``loss`` section (VGG backbone, LPIPS trunk, default loss weights).
        classifier: how to obtain stage 1's classifier when none is passed explicitly.
        pairs: the task's training pairs (the search splits them; it never sees the held-out ones).
        group_key: the grouping rule that keeps related pairs on one side of the search split.
        seed: seeds every network, loss-mix initialisation and data stream.
        name: the run name, used in the names of the searched artifacts.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    """

    search: SearchConfig
    net: NetConfig
    loss: LossConfig
    classifier: ClassifierJob
    pairs: PairSource
    group_key: str = "auto"
    seed: int = 0
    name: str = "run"
    device: str = "auto"


def classifier_job(cfg: RunConfig) -> ClassifierJob:
    """The classifier's part of a run config."""
    return ClassifierJob(
        cfg.classifier, partial(load_pairs, cfg.data, cfg.seed), cfg.search.crop, cfg.seed, cfg.device, cfg.task
    )


def search_job(cfg: RunConfig) -> SearchJob:
    """The search's part of a run config."""
    return SearchJob(
        cfg.search,
        cfg.net,
        cfg.loss,
        classifier_job(cfg),
        partial(load_pairs, cfg.data, cfg.seed),
        cfg.data.group_key,
        cfg.seed,
        cfg.name,
        cfg.device,
    )
