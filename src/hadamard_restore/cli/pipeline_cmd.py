"""Train, evaluate, the whole run, and the demo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from hadamard_restore.cli.app import OutOption, SetOption, UserError, app, config_or_fail, guarded
from hadamard_restore.cli.zoo_cmd import ModelOption, checkpoint_or_model


def _train_dir(cfg, out: Optional[Path], resume: bool) -> Path:
    from hadamard_restore.runtime.rundir import new_run_dir

    if out is None and resume:
        raise UserError("--resume needs --out RUN_DIR: the run directory whose last.pt to continue")
    if out is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UserError("under torchrun pass --out RUN_DIR so that every process writes to the same folder")
    return new_run_dir(cfg, out, stage="train")


@app.command("train")
def train(config: Path = typer.Argument(..., help="YAML config (see configs/)"), set_: Optional[list[str]] = SetOption,
          out: Optional[Path] = OutOption,
          genotype: Optional[str] = typer.Option(None, "--genotype", help="genotype.json or bundled name "
                                                 "(default: net.genotype)"),
          loss_weights: Optional[str] = typer.Option(None, "--loss-weights", help="loss_weights.json or bundled "
                                                     "name (default: loss.weights)"),
          resume: bool = typer.Option(False, "--resume", help="continue from RUN_DIR/last.pt (needs --out)")) -> None:
    """Train the derived network from scratch with the searched loss (torchrun for multi-GPU)."""
    from hadamard_restore.training.train import train as train_fn

    cfg = config_or_fail(config, set_)

    def go():
        run_dir = _train_dir(cfg, out, resume)
        return train_fn(cfg, run_dir, genotype, loss_weights, resume=resume)

    summary = guarded(go)
    if summary and int(os.environ.get("RANK", "0")) == 0:
        typer.echo(f"best validation PSNR {summary['best_val_psnr']:.3f} dB at step {summary['best_step']}")
        typer.echo(summary["model"])


@app.command("evaluate")
def evaluate(checkpoint: Optional[Path] = typer.Argument(None, help="model.pt (or last.pt), or --model"),
             model: Optional[str] = ModelOption,
             data: Path = typer.Option(..., "--data", help="folder of paired images"),
             layout: Optional[str] = typer.Option(None, help="layout name (default: detected)"),
             split: Optional[Path] = typer.Option(None, help="split file: score only its validation pairs "
                                                  "(with --model: default the model's held-out split)"),
             out: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default: "
                                                "<checkpoint folder>/eval; with --model ./<NAME>-eval)"),
             set_: Optional[list[str]] = SetOption) -> None:
    """Full-resolution PSNR / SSIM / LPIPS per image and mean, written to metrics.json."""
    from hadamard_restore.evaluation.evaluate import evaluate as evaluate_fn

    cfg = config_or_fail(None, set_)
    checkpoint = guarded(lambda: checkpoint_or_model(checkpoint, model))
    if model is not None:
        from hadamard_restore.zoo.registry import heldout_split_path

        split = split or guarded(lambda: heldout_split_path(model))
        out = out or Path(f"{model}-eval")
    result = guarded(lambda: evaluate_fn(checkpoint, data, layout, split, out, cfg.eval, cfg.device))
    if result:
        m, i = result["mean"], result["input_mean"]
        typer.echo(f"{result['count']} images: PSNR {m['psnr']:.3f} dB (input {i['psnr']:.3f}), "
                   f"SSIM {m['ssim']:.4f} (input {i['ssim']:.4f})"
                   + (f", LPIPS {m['lpips']:.4f} (input {i['lpips']:.4f})" if m["lpips"] is not None else ""))
        typer.echo(result["path"])


@app.command("run")
def run(config: Path = typer.Argument(...), set_: Optional[list[str]] = SetOption,
        out: Optional[Path] = OutOption) -> None:
    """The whole method: classifier, loss search, architecture search, training, evaluation."""
    from hadamard_restore.workflows.run import run as run_fn

    cfg = config_or_fail(config, set_)
    report = guarded(lambda: run_fn(cfg, out))
    if report:
        typer.echo(str(report))


@app.command("demo")
def demo(out: Optional[Path] = OutOption, set_: Optional[list[str]] = SetOption) -> None:
    """The bundled models on built-in degraded photos (seconds), then the whole method on built-in
    synthetic low-light data (CPU, under 10 minutes)."""
    from hadamard_restore.workflows.demo import demo as demo_fn

    report = guarded(lambda: demo_fn(out, set_))
    if report:
        typer.echo(f"report: {report}")
