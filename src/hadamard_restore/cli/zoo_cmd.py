"""Bundled pretrained models: ``hadamard-restore models`` and the ``--model NAME`` option.

Every command that takes a CHECKPOINT (enhance, evaluate, export) takes ``--model NAME``
instead: :func:`checkpoint_or_model` turns exactly one of the two into a verified model file.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from hadamard_restore.cli.app import UserError, app, guarded
from hadamard_restore.zoo.registry import available_models, model_path, read_card
from hadamard_restore.zoo.render import one_line

ModelOption = typer.Option(
    None,
    "--model",
    "-m",
    help="a bundled pretrained model instead of a CHECKPOINT (`hadamard-restore models` lists them)",
)
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


def checkpoint_or_model(checkpoint: Path | None, model: str | None) -> Path:
    """The model file to use: ``checkpoint``, or bundled ``model``'s (sha256 checked); exactly one.

    Raises:
        UserError: both or neither given; UnknownModelError / ModelIntegrityError for a bad name.
    """

    if checkpoint is not None and model is not None:
        raise UserError(f"give a CHECKPOINT ({checkpoint}) or --model {model}, not both")
    if model is not None:
        return model_path(model)
    if checkpoint is None:
        names = ", ".join(available_models()) or "none bundled"
        raise UserError(
            f"give a CHECKPOINT (a model.pt from `hadamard-restore train`) or --model NAME (bundled: {names})"
        )
    return checkpoint


def model_file_or_name(value: str) -> Path:
    """One argument that is a model file or a bundled model's name (``train --init-from``): an
    existing file wins; else a bundled name (sha256 checked).

    Raises:
        UserError: neither a file nor a bundled name; ModelIntegrityError for a damaged bundled file.
    """
    path = Path(value)
    if path.is_file():
        return path
    if value in available_models():
        return model_path(value)
    names = ", ".join(available_models()) or "none bundled"
    raise UserError(f"{value} is neither a model file nor a bundled model (bundled: {names}); pass a model.pt path")


def split_enhance_paths(paths: list[Path], model: str | None) -> tuple[Path, list[Path]]:
    """``enhance [CHECKPOINT] INPUT...``: the model file and the inputs (the first path is the
    checkpoint unless ``--model`` is given)."""
    first = paths[0] if paths else None
    if model is not None:
        if first is not None and first.suffix.lower() in CHECKPOINT_SUFFIXES:
            raise UserError(f"give a CHECKPOINT ({first}) or --model {model}, not both")
        checkpoint, inputs = checkpoint_or_model(None, model), paths
    else:
        checkpoint, inputs = checkpoint_or_model(first, None), paths[1:]
    if not inputs:
        raise UserError("no INPUT given: pass image files and/or folders after the CHECKPOINT (or with --model)")
    return checkpoint, inputs


@app.command("models")
def models(as_json: bool = typer.Option(False, "--json", help="print the full cards as JSON")) -> None:
    """List the bundled pretrained models with their one-line cards (docs/models.md has the full cards)."""

    names = available_models()
    cards = guarded(lambda: [read_card(n) for n in names])
    if as_json:
        typer.echo(json.dumps(cards, indent=2))
        return
    if not names:
        typer.echo("no pretrained models are bundled with this installation")
        raise typer.Exit(1)
    for card in cards:
        typer.echo(one_line(card))
    typer.echo("use: hadamard-restore enhance --model NAME PHOTOS --out DIR")
