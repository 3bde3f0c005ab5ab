"""``hadamard-restore net info``: parameters, multiply-accumulates and peak memory."""

from __future__ import annotations

import json

import typer

from hadamard_restore.cli.app import fail, guarded, net_app
from hadamard_restore.config import MAX_CHANNELS, MAX_HNU, UPSAMPLERS


@net_app.command("info")
def info(
    genotype: str = typer.Argument(..., help="bundled genotype name, genotype.json path, or 'supernet'"),
    size: str = typer.Option("600x400", help="input size HxW"),
    channels: int = typer.Option(32, help="network width C (full-resolution width C/2)"),
    num_hnu: int = typer.Option(7, "--num-hnu", help="HNUs of the supernet (a genotype fixes its own)"),
    upsample: str = typer.Option(
        "transpose", help="the decoder's up-samplers: transpose (the paper's), transpose-icnr or resize"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the numbers as JSON"),
) -> None:
    """Report parameters, MACs (torch FLOP counter) and peak activation memory."""
    from hadamard_restore.net.genotype import load_genotype  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.net.info import format_info, network_report, parse_size  # lazy: start-up cost (torch, 4-5 s)

    try:
        hw = parse_size(size)
    except ValueError as exc:
        fail(str(exc))
    if not (2 <= channels <= MAX_CHANNELS and channels % 2 == 0 and 1 <= num_hnu <= MAX_HNU):
        fail(
            f"--channels must be even, from 2 to {MAX_CHANNELS}, and --num-hnu from 1 to {MAX_HNU} "
            f"(got {channels}, {num_hnu})"
        )
    if upsample not in UPSAMPLERS:
        fail(f"--upsample must be one of {', '.join(UPSAMPLERS)} (got {upsample!r})")

    def report() -> dict:
        geno = None if genotype == "supernet" else load_genotype(genotype)
        return network_report(geno, hw, channels=channels, num_hnu=num_hnu, source=genotype, upsample=upsample)

    result = guarded(report)
    typer.echo(json.dumps(result, indent=2) if as_json else format_info(result))
