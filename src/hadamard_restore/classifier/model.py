"""The clear-vs-degraded classifier network and the stage-1 upper objective ``L_Cval`` (docs/method.md 4).

A torchvision ResNet (``resnet18`` default, as in the authors' checkpoints; ``resnet50``, the
paper's text, selectable), or, beyond the paper, a frozen ImageNet trunk with a small trained head
(``vgg16-features``, ``alexnet-features``; :mod:`.features`), each with a 2-logit output: label
**1 = clear** (reference images), label **0 = degraded** (inputs). Both apply the ImageNet
normalisation inside their ``forward``, so training and use see exactly the same preprocessing:
RGB in ``[0, 1]``, minus the ImageNet mean, divided by the std, never clamped.

At use time the classifier is frozen and in eval mode (:func:`freeze_classifier`; a loaded
checkpoint comes frozen) and ``clear_loss(clf, restored) = CE(clf(restored), 1)``, i.e. the mean
of ``-log p(clear | restored)``; gradients flow to the images only.
"""

from __future__ import annotations

from typing import TypeVar

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from hadamard_restore.backbones import weights
from hadamard_restore.classifier.features import FEATURE_ARCHS, FeatureClassifier
from hadamard_restore.errors import CheckpointError
from hadamard_restore.losses.preprocess import IMAGENET_MEAN, IMAGENET_STD, imagenet_normalize

RESNETS = ("resnet18", "resnet50")
ARCHS = RESNETS + tuple(FEATURE_ARCHS)
CLEAR, DEGRADED = 1, 0
PREPROCESSING = {"input": "RGB float in [0, 1], not clamped", "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}


class ClearClassifier(nn.Module):
    """ResNet with 2 outputs on ImageNet-normalised input; ``forward(x (B,3,H,W) in [0,1]) -> (B, 2)``.

    Attributes:
        arch: ``"resnet18"`` or ``"resnet50"``.
        init: ``"imagenet"`` or ``"scratch"`` (how the trunk was initialised before training).
    """

    def __init__(self, arch: str = "resnet18", init: str = "scratch"):
        super().__init__()
        if arch not in RESNETS:
            raise ValueError(f"unknown classifier arch {arch!r}; choose one of {', '.join(RESNETS)}")
        self.arch, self.init = arch, init
        self.net = getattr(torchvision.models, arch)(weights=None, num_classes=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(imagenet_normalize(x))


Classifier = ClearClassifier | FeatureClassifier


def build_classifier(arch: str = "resnet18", pretrained: bool = True, seed: int = 0) -> Classifier:
    """A fresh classifier; ImageNet trunk when ``pretrained`` and its weights are provisioned.

    The ImageNet weights come only from the weights cache (``weights.resnet_state_dict``); when
    they are absent a ResNet starts from scratch and ``model.init == "scratch"`` says so. The
    new 2-way head (and a scratch trunk) is initialised from ``seed`` without touching the global RNG.
    A feature classifier (:data:`FEATURE_ARCHS`) always has its frozen ImageNet trunk.

    Raises:
        WeightsMissingError: a feature classifier's trunk weights are not in the cache.
        ValueError: a feature classifier with ``pretrained=False`` (its trunk is never trained).
    """
    if arch in FEATURE_ARCHS:
        if not pretrained:
            raise ValueError(f"{arch} is a frozen ImageNet trunk; it cannot start from scratch (pretrained=False)")
        return FeatureClassifier(arch, seed=seed)
    state = None
    if pretrained:
        state = weights.resnet_state_dict(arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ClearClassifier(arch, init="imagenet" if state is not None else "scratch")
    if state is not None:
        trunk = {k: v for k, v in state.items() if not k.startswith("fc.")}
        missing, unexpected = model.net.load_state_dict(trunk, strict=False)
        if unexpected or set(missing) != {"fc.weight", "fc.bias"}:
            raise CheckpointError(
                f"cached {arch} ImageNet weights do not fit torchvision's {arch} "
                f"(missing {missing}, unexpected {unexpected}); reinstall the weights"
            )
    return model


M = TypeVar("M", bound=nn.Module)


def freeze_classifier(model: M) -> M:
    """Eval mode and ``requires_grad=False`` on every parameter, in place (returns ``model``)."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def clear_loss(classifier: nn.Module, images: Tensor) -> Tensor:
    """``L_Cval``: cross-entropy of the label "clear" on ``images``, mean over the batch.

    Args:
        classifier: a frozen classifier in eval mode (:func:`freeze_classifier`).
        images: restored images ``(B, 3, H, W)``, unclamped (gradients flow back to them).

    Returns:
        Scalar ``mean_b -log softmax(classifier(images))_b[1]``.

    Raises:
        ValueError: the classifier is in training mode (batch-norm statistics would change).
    """
    if classifier.training:
        raise ValueError(
            "clear_loss needs the classifier in eval mode; call freeze_classifier(clf) "
            "or load it with hadamard_restore.classifier.checkpoint.load_classifier(path)"
        )
    logits = classifier(images)
    target = torch.full((images.shape[0],), CLEAR, dtype=torch.long, device=images.device)
    return F.cross_entropy(logits, target)
