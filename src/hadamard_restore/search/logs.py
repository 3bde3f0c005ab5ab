"""Per-step logging of a search stage: a progress bar and TensorBoard scalars (rank 0 only).

Every scalar of a step record (each loss term, the train and upper losses, the hypergradient
diagnostics, every β, every VGG-logit softmax, every α row's entropy and top probability) goes
to TensorBoard under ``<run_dir>/tensorboard`` with the step as x-axis. On resume the writer purges
events after the resumed step, so curves do not double back.
"""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from hadamard_restore.runtime.log import tensorboard_writer

_BAR_KEYS = ("loss/train", "loss/upper", "hyper/grad_norm")


class StepLogger:
    """Progress bar + TensorBoard writer; a silent no-op when ``enabled`` is False.

    Args:
        run_dir: the stage directory (TensorBoard events go to ``run_dir/tensorboard``).
        stage: shown in the bar's description.
        total: number of steps of the stage.
        initial: steps already done (after a resume).
        enabled: False on ranks other than 0.
    """

    def __init__(self, run_dir: Path, stage: str, total: int, initial: int = 0, enabled: bool = True):
        self.enabled = enabled
        self.writer = None
        self.bar = None
        if not enabled:
            return
        self.writer = tensorboard_writer(run_dir, initial)
        self.bar = tqdm(total=total, initial=initial, desc=f"search {stage}", dynamic_ncols=True, mininterval=1.0)

    def log(self, record: dict) -> None:
        if not self.enabled or self.bar is None:  # the bar exists exactly when enabled
            return
        step = int(record["step"])
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)) and self.writer is not None:
                self.writer.add_scalar(key, value, step)
        self.bar.set_postfix({k.split("/")[-1]: f"{record[k]:.4g}" for k in _BAR_KEYS if k in record}, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
        if self.bar is not None:
            self.bar.close()
