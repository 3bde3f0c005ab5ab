"""``hadamard-restore weights install|status``: offline pretrained backbones."""

from __future__ import annotations

import typer

from hadamard_restore.cli.app import not_built, weights_app


@weights_app.command("install")
def install() -> None:
    """Provision ImageNet VGG16/AlexNet convolution weights and LPIPS v0.1 heads."""
    not_built("weights install", 2)


@weights_app.command("status")
def status() -> None:
    """Say which weights are present and where."""
    not_built("weights status", 2)
