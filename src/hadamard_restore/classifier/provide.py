"""The one way to get the classifier a loss search is judged by: reuse one, or train one.

:func:`provide_classifier` returns, in this order of preference,

1. the checkpoint the ``classifier`` section names (``checkpoint``), which must exist;
2. the one trained earlier into the same output directory (recorded in ``path.txt``, so a
   resumed run or a second search round does not train again);
3. a new one, trained there by rank 0 while the other ranks wait.
"""

from __future__ import annotations

from pathlib import Path

import torch.distributed as dist

from hadamard_restore.artifacts import atomic_write_text
from hadamard_restore.classifier.training import train_classifier
from hadamard_restore.errors import CheckpointError
from hadamard_restore.jobs import ClassifierJob
from hadamard_restore.runtime.log import get_logger
from hadamard_restore.runtime.process import Dist

MARKER = "path.txt"
log = get_logger("hadamard_restore.classifier")


def provide_classifier(job: ClassifierJob, out_dir: str | Path, dist_ctx: Dist = Dist()) -> Path:
    """The classifier checkpoint to judge with: the configured one, an earlier one, or a new one.

    Args:
        job: the classifier settings and training data.
        out_dir: where a classifier is trained (and looked for); ``path.txt`` there names it.
        dist_ctx: under torchrun only rank 0 trains; every rank returns the same path.

    Raises:
        CheckpointError: ``classifier.checkpoint`` names a file that does not exist.
    """
    configured = job.settings.checkpoint
    if configured is not None:
        if not Path(configured).is_file():
            raise CheckpointError(
                f"classifier.checkpoint={configured} does not exist; train one with "
                "`hadamard-restore classifier CONFIG` or unset it to train one here"
            )
        log.info("using the classifier classifier.checkpoint names: %s", configured)
        return Path(configured)
    marker = Path(out_dir) / MARKER
    if dist_ctx.is_main and marker.is_file():
        log.info(
            "reusing the classifier trained earlier into %s (%s names it; delete it to train again)", out_dir, MARKER
        )
    elif dist_ctx.is_main:
        log.info("no classifier.checkpoint given: training the classifier first (%d steps)", job.settings.steps)
        trained = train_classifier(job, out_dir)
        atomic_write_text(marker, str(Path(trained).resolve()))
    if dist_ctx.enabled:
        dist.barrier()
    return Path(marker.read_text().strip())
