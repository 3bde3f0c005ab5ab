"""The builders of the offline backbones: ImageNet VGG16/AlexNet features and the LPIPS v0.1 heads.

Nothing here downloads while building a model. Every builder reads only the local cache
(:mod:`hadamard_restore.backbones.cache`: where it is, one ``<name>.pth`` per name, formats in
:mod:`hadamard_restore.backbones.convert`), which :func:`hadamard_restore.backbones.install.install`
(the CLI's ``hadamard-restore backbones install``) fills once, and raises
:class:`~hadamard_restore.errors.WeightsMissingError` naming the install command when a file is
absent.
"""

from __future__ import annotations

import warnings
from typing import TypeVar

import torch
from torch import nn

from hadamard_restore.backbones import convert, sources
from hadamard_restore.backbones.cache import INSTALL_COMMAND, cache_dir, weight_path
from hadamard_restore.errors import WeightsMissingError, WeightsSourceError

_LPIPS_BACKBONE = {"alex": "alexnet", "vgg": "vgg16"}
_ModuleT = TypeVar("_ModuleT", bound=nn.Module)


def _load_cached(name: str) -> dict[str, torch.Tensor]:
    path = weight_path(name)
    if not path.is_file():
        raise WeightsMissingError(
            f"pretrained weights '{name}' are not in {cache_dir()}; run `{INSTALL_COMMAND}` "
            "(or set HADAMARD_RESTORE_WEIGHTS to a folder that has them)."
        )
    try:
        return sources.load_torch_file(path)
    except WeightsSourceError as exc:
        raise WeightsMissingError(f"{exc}; delete it and run `{INSTALL_COMMAND}` again.") from None


def _freeze(module: _ModuleT) -> _ModuleT:
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def vgg_features(name: str = "vgg16") -> nn.Sequential:
    """torchvision ``<name>().features`` with ImageNet weights from the cache, eval and frozen.

    Args:
        name: ``"vgg16"`` (default), ``"vgg19"`` or ``"alexnet"``.

    Returns:
        ``nn.Sequential`` mapping ImageNet-normalised (B, 3, H, W) images to features; indices as
        in torchvision (VGG16 relu1_2 = 3, relu2_2 = 8, relu3_3 = 15, relu4_3 = 22, relu5_3 = 29).

    Raises:
        WeightsMissingError: the weights are not provisioned.
    """
    if name not in convert.BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {convert.BACKBONES}")
    state = _load_cached(name)
    features = convert.build_features(name, "meta")
    features.load_state_dict(state, strict=True, assign=True)
    return _freeze(features)


def lpips_model(net: str = "alex") -> nn.Module:
    """``lpips.LPIPS(net=net)`` v0.1 with the cached backbone and heads, eval and frozen.

    Built with ``pretrained=False, pnet_rand=True`` so the ``lpips`` package neither reads its
    own files nor asks torchvision to download; the cached weights are then loaded strictly.
    Call it as ``model(x, y)`` with inputs in [-1, 1] (or ``normalize=True`` for [0, 1]).
    """
    if net not in _LPIPS_BACKBONE:
        raise ValueError(f"unknown LPIPS net {net!r}; expected 'alex' or 'vgg'")
    backbone = _load_cached(_LPIPS_BACKBONE[net])
    heads = _load_cached(f"lpips-{net}")
    import lpips  # lazy: start-up cost (lpips, 0.4 s with torchvision loaded, 2-4 s without)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's deprecated `pretrained=` inside lpips
        model = lpips.LPIPS(net=net, version="0.1", pretrained=False, pnet_rand=True, verbose=False)
    state = dict(model.state_dict())
    for key in list(state):
        if key.startswith("net.slice"):  # net.slice<k>.<features index>.<param>
            _, _, rest = key.split(".", 2)
            state[key] = backbone[rest]
    for key, value in heads.items():
        state[key] = value
    if len([k for k in state if k.startswith("net.")]) != len(backbone):
        raise WeightsSourceError(f"cached {_LPIPS_BACKBONE[net]} does not fit lpips' {net} trunk")
    model.load_state_dict(state, strict=True)
    return _freeze(model)


def resnet_state_dict(arch: str) -> dict[str, torch.Tensor] | None:
    """The cached ImageNet state dict of ``torchvision.models.<arch>``, or None if not provisioned."""
    if arch not in ("resnet18", "resnet50"):
        raise ValueError(f"unknown ResNet {arch!r}; expected 'resnet18' or 'resnet50'")
    if not weight_path(arch).is_file():
        return None
    return _load_cached(arch)
