"""Command-line interface: ``hadamard-restore COMMAND``.

Each area registers its commands on the shared :data:`app` in its own module.
"""

from hadamard_restore.cli import (  # noqa: F401
    appearance_cmd,
    backbones_cmd,
    config_cmd,
    data_cmd,
    deploy_cmd,
    net_cmd,
    pipeline_cmd,
    search_cmd,
    zoo_cmd,  # noqa: F401
)
from hadamard_restore.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
