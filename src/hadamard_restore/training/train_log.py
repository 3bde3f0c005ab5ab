"""Per-step logging of training: progress bar, TensorBoard scalars, the averaged history."""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm.auto import tqdm

from hadamard_restore.config import TrainConfig
from hadamard_restore.runtime.log import tensorboard_writer
from hadamard_restore.training.state import LoopState


class TrainLogger:
    """Writes every step's values to TensorBoard (rank 0) and, every ``log_every`` steps, their
    mean to ``state.history["train"]`` and the progress bar.

    Args:
        run_dir: the run directory (events go to ``run_dir/tensorboard``).
        tcfg: the ``train`` config section (``steps``, ``log_every``).
        state: the loop state whose history receives the averaged records.
        is_main: rank 0 (only it writes TensorBoard events and shows the bar).
        progress: show the bar.
    """

    def __init__(self, run_dir: Path, tcfg: TrainConfig, state: LoopState, is_main: bool, progress: bool) -> None:
        self.tcfg, self.state = tcfg, state
        self.window: dict[str, list[float]] = {}
        self.writer = tensorboard_writer(run_dir, state.step) if is_main else None
        self.bar = tqdm(
            total=tcfg.steps,
            initial=state.step,
            desc="train",
            dynamic_ncols=True,
            disable=not (progress and is_main),
            mininterval=1.0 if sys.stderr.isatty() else 30.0,
        )

    def log(self, values: dict[str, float], lr: float, grad_norm: float) -> None:
        """Record the step just done (``state.step`` already counts it)."""
        step = self.state.step
        for k, v in values.items():
            self.window.setdefault(k, []).append(v)
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(f"train/{k}", v, step)
            self.writer.add_scalar("train/lr", lr, step)
            self.writer.add_scalar("train/grad_norm", grad_norm, step)
        if step % self.tcfg.log_every == 0 or step == self.tcfg.steps:
            mean = {k: sum(v) / len(v) for k, v in self.window.items()}
            self.state.history["train"].append({"step": step, "lr": lr, **mean})
            self.window.clear()
            self.bar.set_postfix(loss=f"{mean['loss']:.4f}", best=f"{self.state.best_val_psnr:.2f}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()
