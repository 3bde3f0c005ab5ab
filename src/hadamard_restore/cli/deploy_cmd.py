"""Deployment: enhance photos of any size, export to ONNX."""

from __future__ import annotations

from pathlib import Path

import typer

from hadamard_restore.cli.app import SetOption, app, config_or_fail, fail, guarded
from hadamard_restore.cli.zoo_cmd import ModelOption, checkpoint_or_model, split_enhance_paths
from hadamard_restore.config import EnhanceConfig


def _default(key: str) -> str:
    """What `--help` shows for an enhance option left out: the config default and its key."""
    value = EnhanceConfig.model_fields[key].default
    return f"{value}, from enhance.{key}"


@app.command("enhance")
def enhance(
    paths: list[Path] = typer.Argument(
        ...,
        metavar="[CHECKPOINT] INPUT...",
        help="model file (model.pt or last.pt; omit it with --model), then image files and/or folders",
    ),
    out: Path = typer.Option(..., "--out", help="output folder (same names and formats)"),
    model: str | None = ModelOption,
    suffix: str = typer.Option("", "--suffix", help="appended to every output name, e.g. _enhanced"),
    quality: int = typer.Option(95, "--quality", help="JPEG / WebP output quality (1-100)"),
    tile: int | None = typer.Option(
        None, "--tile", help="tile side for large images (multiple of 4)", show_default=_default("tile")
    ),
    overlap: int | None = typer.Option(
        None, "--overlap", help="overlap between tiles, pixels", show_default=_default("overlap")
    ),
    max_untiled_pixels: int | None = typer.Option(
        None,
        "--max-untiled-pixels",
        help="images with more pixels than this are tiled",
        show_default=_default("max_untiled_pixels"),
    ),
    norm_stats: str | None = typer.Option(
        None,
        "--norm-stats",
        help="tiled runs: instance-norm statistics 'global' (from a downscaled "
        "copy of the whole image, default) or 'tile'",
        show_default=_default("norm_stats"),
    ),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="also enhance sub-folders"),
    device: str | None = typer.Option(
        None, "--device", help="auto, cpu, cuda or cuda:N", show_default="auto, from device"
    ),
    backend: str | None = typer.Option(
        None,
        "--backend",
        help="auto (default: bf16 where native, else channels-last, used when it matches eager "
        "within 1e-3, or 0.02 for bf16, on a crop; checked once per model and size class, nothing "
        "timed), timed (time every backend once, cache the fastest; can take a minute), eager, "
        "channels-last, bf16, compile or onnx",
    ),
    precision: str | None = typer.Option(
        None,
        "--precision",
        help="auto (default: --backend auto may run in bfloat16 where bf16 is native, "
        "output within 0.02 of float32) or fp32 (full precision only)",
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="CPU threads (default: OMP_NUM_THREADS if set, else the physical cores)"
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config (enhance section)"),
    overrides: list[str] | None = SetOption,
    force: bool = typer.Option(False, "--force", help="replace files of the same name already in --out"),
) -> None:
    """Enhance files or folders of photos of any size; bad files are reported and skipped."""
    from hadamard_restore.cli.preflight import enhance_preflight  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.inference.enhance import enhance as run_enhance  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.runtime.process import pick_device  # lazy: start-up cost (torch, 4-5 s)

    sets = list(overrides or [])
    for key, value in (
        ("tile", tile),
        ("overlap", overlap),
        ("max_untiled_pixels", max_untiled_pixels),
        ("norm_stats", norm_stats),
        ("backend", backend),
        ("precision", precision),
        ("threads", threads),
    ):
        if value is not None:
            sets.append(f"enhance.{key}={value}")
    if device is not None:
        sets.append(f"device={device}")
    cfg = config_or_fail(config, sets)
    if cfg.enhance.threads is None:  # neither --threads nor the config: the machine's default
        from hadamard_restore.inference.fastpath.backends import default_threads  # lazy: start-up cost (torch, 4-5 s)

        cfg = cfg.model_copy(update={"enhance": cfg.enhance.model_copy(update={"threads": default_threads()})})
    try:
        dev = pick_device(cfg.device)
    except (RuntimeError, ValueError) as exc:
        fail(str(exc))

    def go():
        checkpoint, inputs = split_enhance_paths(paths, model)
        enhance_preflight(checkpoint, inputs, out, recursive, suffix, force)  # nothing overwritten; paths usable
        return run_enhance(
            checkpoint, inputs, out, cfg.enhance, dev, recursive=recursive, suffix=suffix, quality=quality
        )

    report = guarded(go)
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)
    typer.echo(str(out))


@app.command("export")
def export(
    checkpoint: Path | None = typer.Argument(None, help="model file (model.pt or last.pt), or --model"),
    model: str | None = ModelOption,
    onnx: Path = typer.Option(..., "--onnx", help="destination .onnx file"),
    opset: int | None = typer.Option(
        None, "--opset", help="ONNX opset (default 18; 17 with --exporter torchscript, which writes 11-17)"
    ),
    exporter: str = typer.Option("auto", "--exporter", help="auto, dynamo or torchscript"),
    check_image: list[Path] | None = typer.Option(
        None, "--check-image", help="real photo for the parity check (repeatable; default: a bundled photo)"
    ),
    check_max_side: int | None = typer.Option(None, "--check-max-side", help="shrink check photos to this longer side"),
    tolerance: float = typer.Option(1e-3, "--tolerance", help="largest allowed max abs difference"),
    force: bool = typer.Option(False, "--force", help="replace an existing --onnx file"),
    raw: bool = typer.Option(
        False, "--raw", help="keep the raw network output (default: the graph clamps it to [0, 1], as enhance saves)"
    ),
) -> None:
    """Export to ONNX with dynamic batch, height and width and check parity with PyTorch."""
    from hadamard_restore.cli.preflight import export_preflight  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.inference.export import export_onnx  # lazy: start-up cost (torch, 4-5 s)

    def go():
        path = checkpoint_or_model(checkpoint, model)
        used, opset_used = export_preflight(path, onnx, opset, exporter, check_image or (), force)
        return export_onnx(
            path,
            onnx,
            opset=opset_used,
            exporter=used,
            check_images=check_image or (),
            check_max_side=check_max_side,
            tolerance=tolerance,
            clamp=not raw,
        )

    report = guarded(go)
    typer.echo(report.summary())
