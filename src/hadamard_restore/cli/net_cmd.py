"""``hadamard-restore net info``: parameters, multiply-accumulates and peak memory."""

from __future__ import annotations

import typer

from hadamard_restore.cli.app import net_app, not_built


@net_app.command("info")
def info(genotype: str = typer.Argument(..., help="bundled genotype name, genotype.json path, or 'supernet'"),
         size: str = typer.Option("600x400", help="input size HxW")) -> None:
    """Report parameters, MACs (torch FLOP counter) and peak activation memory."""
    not_built("net info", 3)
