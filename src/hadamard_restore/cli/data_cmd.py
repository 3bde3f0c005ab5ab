"""``hadamard-restore data ...``: check a dataset folder, make and verify pinned splits."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hadamard_restore.cli.app import data_app, not_built


@data_app.command("check")
def check(path: Path = typer.Argument(..., help="dataset root"),
          layout: Optional[str] = typer.Option(None, help="layout name; auto-detected when omitted")) -> None:
    """Print the layout found, pair count, image sizes and every problem found."""
    not_built("data check", 2)
