"""Train, evaluate, the whole run, and the demo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hadamard_restore.cli.app import OutOption, SetOption, UserError, app, config_or_fail, fail, guarded
from hadamard_restore.cli.zoo_cmd import ModelOption, checkpoint_or_model, model_file_or_name
from hadamard_restore.config import dump_config
from hadamard_restore.runtime.output_guard import refuse_earlier_run
from hadamard_restore.runtime.run_session import claim_run_dir

if TYPE_CHECKING:
    from hadamard_restore.config import RunConfig


def _train_dir(cfg: RunConfig, out: Path | None, resume: bool) -> Path:
    from hadamard_restore.runtime.rundir import new_run_dir  # lazy: start-up cost (torch via runtime.process)

    if out is None and resume:
        raise UserError("--resume needs --out RUN_DIR: the run directory whose last.pt to continue")
    if out is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UserError("under torchrun pass --out RUN_DIR so that every process writes to the same folder")
    if out is not None and resume:  # train() checks the run against last.pt before it writes (config.yaml too)
        if not out.is_dir():
            raise UserError(f"--resume: {out} is not a run directory; pass the --out of the run to continue")
        return claim_run_dir(out)
    refuse_earlier_run(out, resumable=True)
    return new_run_dir(cfg.out_dir, cfg.name, dump_config(cfg), out, stage="train")


@app.command("train")
def train(
    config: Path = typer.Argument(..., help="YAML config (see configs/)"),
    set_: list[str] | None = SetOption,
    out: Path | None = OutOption,
    genotype: str | None = typer.Option(
        None, "--genotype", help="genotype.json or bundled name (default: net.genotype)"
    ),
    loss_weights: str | None = typer.Option(
        None, "--loss-weights", help="loss_weights.json or bundled name (default: loss.weights)"
    ),
    resume: bool = typer.Option(False, "--resume", help="continue from RUN_DIR/last.pt (needs --out)"),
    init_from: str | None = typer.Option(
        None,
        "--init-from",
        help="fine-tune: start from this model's weights (a model.pt of an earlier run, or a bundled model's "
        "name); its genotype, net settings and loss weights are used unless --genotype / --loss-weights say otherwise",
    ),
    allow_changes: bool = typer.Option(
        False,
        "--allow-changes",
        help="let --resume continue with other loss weights or settings (recorded in RUN_DIR/resume_changes.json)",
    ),
) -> None:
    """Train the derived network with the searched loss, from scratch or (--init-from) from a model's
    weights (torchrun for multi-GPU)."""
    from hadamard_restore.losses.loss_weights import load_loss_weights  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.net.genotype import load_genotype  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.training.init_from import read_init_source  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.training.train import train as train_fn  # lazy: start-up cost (torch, 4-5 s)

    cfg = config_or_fail(config, set_)

    def go():
        source = None if init_from is None else read_init_source(model_file_or_name(init_from))
        geno = None if genotype is None else load_genotype(genotype)
        lw = None if loss_weights is None else load_loss_weights(loss_weights)
        run_dir = _train_dir(cfg, out, resume)
        return train_fn(cfg, run_dir, geno, lw, resume=resume, allow_changes=allow_changes, init_from=source)

    summary = guarded(go)
    if summary and int(os.environ.get("RANK", "0")) == 0:
        held = {"ema": " (weight average)", "raw": " (raw weights)"}.get(summary.get("best_weights") or "", "")
        typer.echo(f"best validation PSNR {summary['best_val_psnr']:.3f} dB at step {summary['best_step']}{held}")
        typer.echo(summary["model"])
        if summary.get("report"):
            typer.echo(f"report: {summary['report']}")


def _num(value: float | None, digits: int) -> str:
    """A mean metric for the summary line; None (e.g. PSNR of identical images, infinite) as 'inf/n.a.'."""
    return "inf/n.a." if value is None else f"{value:.{digits}f}"


@app.command("evaluate")
def evaluate(
    checkpoint: Path | None = typer.Argument(None, help="model.pt (or last.pt), or --model"),
    model: str | None = ModelOption,
    data: Path | None = typer.Option(None, "--data", help="folder of paired images (or --set data.root=FOLDER)"),
    layout: str | None = typer.Option(None, help="layout name (default: detected)"),
    degraded_dir: str | None = typer.Option(
        None, "--degraded-dir", help="folder of degraded images (layout paired), relative to --data"
    ),
    reference_dir: str | None = typer.Option(
        None, "--reference-dir", help="folder of reference images (layout paired), relative to --data"
    ),
    split: Path | None = typer.Option(
        None,
        help="split file: score only its validation pairs (with --model: its held-out split when --data is "
        "its dataset, else every pair of a folder holding none of its training pairs)",
    ),
    all_pairs: bool = typer.Option(False, "--all-pairs", help="score every pair under --data, also with --model"),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="output folder (default: <checkpoint folder>/eval; with --model ./<NAME>-eval)"
    ),
    backend: str = typer.Option(
        "auto", "--backend", help="how the network runs, as for enhance (auto: the preferred backend, checked)"
    ),
    precision: str = typer.Option("fp32", "--precision", help="fp32 (default: scores independent of the CPU) or auto"),
    set_: list[str] | None = SetOption,
) -> None:
    """Full-resolution PSNR / SSIM / LPIPS per image and mean, written to metrics.json; says which pairs it scored."""
    from hadamard_restore.cli.evaluate_data import data_options, model_split  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.evaluation.evaluate import evaluate_pairs  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.evaluation.selection import select_pairs  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.inference.fastpath.backends import BACKENDS  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.inference.fastpath.precision import PRECISIONS  # lazy: start-up cost (torch, 4-5 s)

    cfg = config_or_fail(None, set_)
    if backend not in BACKENDS or precision not in PRECISIONS:
        fail(f"--backend must be one of {', '.join(BACKENDS)} and --precision one of {', '.join(PRECISIONS)}")

    def go():
        from hadamard_restore.cli.preflight import evaluate_preflight  # lazy: start-up cost (torch, 4-5 s)
        from hadamard_restore.net.model_file import read_model_file  # lazy: start-up cost (torch, 4-5 s)

        given = {"root": data, "layout": layout, "degraded_dir": degraded_dir, "reference_dir": reference_dir}
        opts = data_options(cfg, set_, {**given, "split_file": split})
        path, out_ = checkpoint_or_model(checkpoint, model), out or (Path(f"{model}-eval") if model else None)
        held = model_split(model) if model is not None else None
        guard = opts["split_file"] or (held.path if held else None)
        claim_run_dir(out_ := evaluate_preflight(path, opts["root"], guard, out_))  # one writer per output folder
        read_model_file(path)  # a bad checkpoint fails before the data are scanned
        root, lay, deg, ref, spl = (opts[k] for k in ("root", "layout", "degraded_dir", "reference_dir", "split_file"))
        chosen = select_pairs(root, lay, deg, ref, spl, held, all_pairs)
        typer.echo(f"pairs: {chosen.description}")
        return evaluate_pairs(
            path,
            chosen.pairs,
            out_,
            cfg.eval,
            cfg.device,
            source=chosen.source(opts["root"]),
            backend=backend,
            precision=precision,
        )

    result = guarded(go)
    if result:
        for bad in result.get("failed", []):
            typer.echo(f"  FAILED {bad['degraded']}: {bad['reason']}")
        m, i = result["mean"], result["input_mean"]
        typer.echo(
            f"{result['count']} images: PSNR {_num(m['psnr'], 3)} dB (input {_num(i['psnr'], 3)}), "
            f"SSIM {_num(m['ssim'], 4)} (input {_num(i['ssim'], 4)})"
            + (f", LPIPS {_num(m['lpips'], 4)} (input {_num(i['lpips'], 4)})" if m["lpips"] is not None else "")
        )
        typer.echo(
            f"  GT-mean (output brightness matched to the reference; not the headline): PSNR "
            f"{_num(m['gt_mean_psnr'], 3)} dB (input {_num(i['gt_mean_psnr'], 3)}), "
            f"SSIM {_num(m['gt_mean_ssim'], 4)} (input {_num(i['gt_mean_ssim'], 4)})"
        )
        typer.echo(result["path"])
        if result.get("failed"):
            typer.echo(f"{len(result['failed'])} pair(s) could not be evaluated (listed above and in metrics.json)")
            raise typer.Exit(1)


@app.command("run")
def run(config: Path = typer.Argument(...), set_: list[str] | None = SetOption, out: Path | None = OutOption) -> None:
    """The whole method: classifier, loss search, architecture search, training, evaluation."""
    from hadamard_restore.workflows.run import run as run_fn  # lazy: start-up cost (torch, 4-5 s)

    cfg = config_or_fail(config, set_)

    def go():
        refuse_earlier_run(out, resumable=False)
        return run_fn(cfg, out)

    report = guarded(go)
    if report:
        typer.echo(str(report))


@app.command("demo")
def demo(out: Path | None = OutOption, set_: list[str] | None = SetOption) -> None:
    """The bundled models on built-in degraded photos (seconds), then the whole method on built-in
    synthetic low-light data (CPU, under 10 minutes)."""
    from hadamard_restore.workflows.demo import demo as demo_fn  # lazy: start-up cost (torch, 4-5 s)

    def go():
        refuse_earlier_run(out, resumable=False)
        return demo_fn(out, set_)

    report = guarded(go)
    if report:
        typer.echo(f"report: {report}")
