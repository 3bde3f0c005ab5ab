"""A classifier on frozen ImageNet features with a small trained head (beyond the paper; docs/method.md 4).

``classifier.arch`` ``vgg16-features`` or ``alexnet-features``: the offline ImageNet conv trunk
(the one the loss mix's VGG term uses, :func:`hadamard_restore.backbones.weights.vgg_features`)
stays frozen, always in eval mode with ``requires_grad`` false, also while the head trains. The
head sees, per tapped ReLU layer, every channel's mean and standard deviation over space
(global statistics: brightness, contrast, colour cast and haze), concatenated and standardised by
a BatchNorm without affine parameters, then ``Linear -> ReLU -> Linear(..., 2)``. Label 1 = clear.

Gradients flow through the frozen trunk to the input images (stage 1 backpropagates
``clear_loss`` into the restored images). A checkpoint holds only the head (``head.*``) and a
sha256 of the trunk weights; the trunk is rebuilt from the weights cache when it is loaded, and a
cache holding other weights than the head was trained on is refused. Without the cached weights the
classifier cannot be built (:class:`~hadamard_restore.errors.WeightsMissingError` names
``hadamard-restore backbones install``); it never falls back to training a trunk from scratch.
"""

from __future__ import annotations

import hashlib

import torch
from torch import Tensor, nn

from hadamard_restore.backbones import weights
from hadamard_restore.config import ConfigError
from hadamard_restore.losses.preprocess import imagenet_normalize

#: arch -> (cached backbone, indices of the tapped ReLUs in torchvision's ``features``)
FEATURE_ARCHS: dict[str, tuple[str, tuple[int, ...]]] = {
    "vgg16-features": ("vgg16", (3, 8, 15, 22)),  # relu1_2, relu2_2, relu3_3, relu4_3
    "alexnet-features": ("alexnet", (1, 4, 7, 9, 11)),  # relu1 ... relu5 (LPIPS' taps)
}
#: the smallest window side each trunk can reach its last tap with (its pooling stages)
MIN_SIDE = {"vgg16-features": 8, "alexnet-features": 31}
HIDDEN = 128
EPS = 1e-5
TRUNK = "trunk."


def trunk_digest(trunk: nn.Module) -> str:
    """sha256 over the trunk's parameter names, shapes and bytes (which ImageNet weights a head fits)."""
    h = hashlib.sha256()
    for name, value in trunk.state_dict().items():
        h.update(f"{name}{tuple(value.shape)}".encode())
        h.update(value.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()


def _tap_channels(trunk: nn.Sequential, taps: tuple[int, ...]) -> list[int]:
    """Channels at each tap: those of the last convolution before it."""
    channels = []
    for tap in taps:
        convs = [m for m in list(trunk)[: tap + 1] if isinstance(m, nn.Conv2d)]
        channels.append(convs[-1].out_channels)
    return channels


class FeatureClassifier(nn.Module):
    """Frozen ImageNet trunk + trained head; ``forward(x (B,3,H,W) in [0,1]) -> (B, 2)`` logits.

    Attributes:
        arch: a key of :data:`FEATURE_ARCHS`.
        init: always ``"imagenet"`` (the trunk is never trained).
        trunk: torchvision ``features`` up to the last tap, frozen and in eval mode.
        head: BatchNorm (no affine) -> Linear -> ReLU -> Linear(HIDDEN, 2).
    """

    def __init__(self, arch: str = "vgg16-features", trunk: nn.Sequential | None = None, seed: int = 0):
        """Build the classifier; ``trunk`` (default: the cached ImageNet weights) is frozen, ``seed``
        initialises the head without touching the global RNG.

        Raises:
            WeightsMissingError: the backbone's weights are not in the cache.
        """
        super().__init__()
        if arch not in FEATURE_ARCHS:
            raise ValueError(f"unknown feature judge {arch!r}; choose one of {', '.join(FEATURE_ARCHS)}")
        backbone, self.taps = FEATURE_ARCHS[arch]
        if trunk is None:
            trunk = weights.vgg_features(backbone)
        self.arch, self.init = arch, "imagenet"
        self.trunk = trunk[: self.taps[-1] + 1]
        for p in self.trunk.parameters():
            p.requires_grad_(False)
        width = 2 * sum(_tap_channels(self.trunk, self.taps))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.head = nn.Sequential(
                nn.BatchNorm1d(width, affine=False), nn.Linear(width, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 2)
            )
        self.train()

    def train(self, mode: bool = True) -> FeatureClassifier:
        """Set the head's mode; the trunk stays in eval mode whatever ``mode`` is."""
        super().train(mode)
        self.trunk.eval()
        return self

    def statistics(self, x: Tensor) -> Tensor:
        """``(B, width)``: per tap, every channel's spatial mean then its standard deviation."""
        if min(x.shape[-2:]) < MIN_SIDE[self.arch]:
            raise ConfigError(
                f"classifier.arch={self.arch} judges windows of at least {MIN_SIDE[self.arch]} px, got "
                f"{tuple(x.shape[-2:])}; raise search.crop (and classifier.crop / eval_crop) or use vgg16-features"
            )
        h, stats, taps = imagenet_normalize(x), [], set(self.taps)
        for i, layer in enumerate(self.trunk):
            h = layer(h)
            if i in taps:
                var, mean = torch.var_mean(h.flatten(2), dim=2, correction=0)
                stats += [mean, torch.sqrt(var + EPS)]
        return torch.cat(stats, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.statistics(x))

    def head_state(self) -> dict[str, Tensor]:
        """What a checkpoint stores: the head's state (``head.*``), detached, on the CPU."""
        return {k: v.detach().cpu() for k, v in self.state_dict().items() if not k.startswith(TRUNK)}
