"""``hadamard-restore config show [SECTION]``: every configuration key with its type, default and meaning."""

from __future__ import annotations

import typer

from hadamard_restore import config_reference
from hadamard_restore.cli.app import app, fail

config_app = typer.Typer(help="The configuration reference: every key, its type, default and meaning.")
app.add_typer(config_app, name="config")


@config_app.command("show")
def show(
    section: str | None = typer.Argument(
        None, help="a section (top, data, classifier, net, loss, search, train, eval, enhance) or a key (train.lr)"
    ),
    markdown: bool = typer.Option(False, "--markdown", help="the whole reference as Markdown (docs/config.md)"),
) -> None:
    """Print each key with its type, bounds, default and description (generated from the config models)."""
    if markdown:
        if section is not None:
            fail("--markdown prints the whole reference (docs/config.md); leave out SECTION")
        typer.echo(config_reference.markdown(), nl=False)
        return
    try:
        typer.echo(config_reference.text(section), nl=False)
    except KeyError as exc:
        fail(str(exc.args[0]))
