"""The typer application and the helpers every command shares.

Commands stay thin: parse the config, make one library call, print where the result is.
Library errors that a user can fix (bad config, bad data, missing weights) are printed as
one clear message and exit with status 2 instead of a traceback.
"""

from __future__ import annotations

import shlex
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import typer

from hadamard_restore import __version__
from hadamard_restore.config import ConfigError, RunConfig, load_config
from hadamard_restore.errors import HadamardRestoreError
from hadamard_restore.runtime.log import configure_logging
from hadamard_restore.runtime.run_session import command_session
from hadamard_restore.zoo.registry import version_text

app = typer.Typer(
    name="hadamard-restore",
    help="Architecture and loss search for Hadamard-based image restoration (HBLALS, IJCAI 2022).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Inspect paired datasets and make pinned splits.", no_args_is_help=True)
net_app = typer.Typer(help="Inspect networks: parameters, MACs, memory.", no_args_is_help=True)
backbones_app = typer.Typer(
    help="Provision the third-party pretrained backbones offline (VGG16, AlexNet, LPIPS heads).",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")
app.add_typer(net_app, name="net")
app.add_typer(backbones_app, name="backbones")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        callback=_print_version,
        help="print the version and the bundled models' sha256 prefixes",
    ),
) -> None:
    """Architecture and loss search for Hadamard-based image restoration (HBLALS, IJCAI 2022)."""

    configure_logging()  # the application shows the library's INFO lines; a script importing it does not


SetOption = typer.Option(None, "--set", "-s", help="dotted override, e.g. --set train.lr=1e-4 (repeatable)")
OutOption = typer.Option(None, "--out", "-o", help="run directory (default: <out_dir>/<name>-<time>)")


class UserError(HadamardRestoreError):
    """A wrong combination of command-line options; printed without a traceback."""


def fail(message: str, code: int = 2) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def config_or_fail(path: Path | None, overrides: list[str] | None) -> RunConfig:
    try:
        return load_config(path, overrides)
    except ConfigError as exc:
        fail(str(exc))
    raise AssertionError  # unreachable


BUG_EXIT_CODE = 70  # EX_SOFTWARE: an internal error, not the user's


def _command_line() -> str:
    return shlex.join(["hadamard-restore", *sys.argv[1:]])


T = TypeVar("T")


def guarded(fn: Callable[[], T]) -> T:
    """Run a library call inside a command session (run-directory locks, clean-up of half-made
    run directories, see ``runtime.run_session``); user-fixable errors (config errors included)
    become one clean message and exit 2; anything else is a bug: its traceback is printed with a
    line saying where to report it (exit 70)."""

    try:
        with command_session(_command_line()):
            return fn()
    except HadamardRestoreError as exc:
        fail(str(exc))
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception:
        report_bug()


def report_bug() -> NoReturn:
    """Print the current exception's traceback as a bug report and exit 70."""
    typer.echo(traceback.format_exc(), err=True)
    fail(
        f"internal error in hadamard-restore {__version__}: this is a bug, not a mistake in your input. "
        "Please report it on the project's issue tracker with the command line and the traceback "
        "above.",
        code=BUG_EXIT_CODE,
    )
