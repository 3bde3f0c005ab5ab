"""Command-line interface: ``hadamard-restore COMMAND``, entered through :func:`main`.

The typer application and the helpers every command shares are in :mod:`.app`; each area registers
its commands on that app in its own ``*_cmd`` module, all imported here, so the app is complete
however the package is entered (``hadamard_restore.cli.app.app`` is what tests invoke).
"""

from hadamard_restore.cli import (  # noqa: F401  (importing a command module registers its commands)
    app,
    appearance_cmd,
    backbones_cmd,
    config_cmd,
    data_cmd,
    deploy_cmd,
    net_cmd,
    pipeline_cmd,
    search_cmd,
    zoo_cmd,
)


def main() -> None:
    app.app()
