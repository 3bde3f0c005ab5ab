"""The clear-vs-degraded classifier and the stage-1 upper objective ``L_Cval`` (method.md 4).

A torchvision ResNet (``resnet18`` default, as in the authors' checkpoints; ``resnet50``, the
paper's text, selectable) with a 2-logit head: label **1 = clear** (reference images), label
**0 = degraded** (inputs). :class:`ClearClassifier` applies the ImageNet normalisation inside its
``forward``, so training and use see exactly the same preprocessing: RGB in ``[0, 1]``, minus the
ImageNet mean, divided by the std, never clamped.

At use time the classifier is frozen and in eval mode (:func:`freeze_classifier`,
:func:`load_classifier`) and ``clear_loss(clf, restored) = CE(clf(restored), 1)``, i.e. the mean
of ``-log p(clear | restored)``; gradients flow to the images only.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from hadamard_restore.errors import CheckpointError
from hadamard_restore.losses.preprocess import IMAGENET_MEAN, IMAGENET_STD, imagenet_normalize

ARCHS = ("resnet18", "resnet50")
CLEAR, DEGRADED = 1, 0
FORMAT = "hadamard-restore/classifier"
PREPROCESSING = {"input": "RGB float in [0, 1], not clamped", "mean": list(IMAGENET_MEAN),
                 "std": list(IMAGENET_STD)}


class ClearClassifier(nn.Module):
    """ResNet with 2 outputs on ImageNet-normalised input; ``forward(x (B,3,H,W) in [0,1]) -> (B, 2)``.

    Attributes:
        arch: ``"resnet18"`` or ``"resnet50"``.
        init: ``"imagenet"`` or ``"scratch"`` (how the trunk was initialised before training).
    """

    def __init__(self, arch: str = "resnet18", init: str = "scratch"):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown classifier arch {arch!r}; choose one of {', '.join(ARCHS)}")
        self.arch, self.init = arch, init
        self.net = getattr(torchvision.models, arch)(weights=None, num_classes=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(imagenet_normalize(x))


def build_classifier(arch: str = "resnet18", pretrained: bool = True, seed: int = 0) -> ClearClassifier:
    """A fresh classifier; ImageNet trunk when ``pretrained`` and its weights are provisioned.

    The ImageNet weights come only from the weights cache (``weights.resnet_state_dict``); when
    they are absent the network starts from scratch and ``model.init == "scratch"`` says so. The
    new 2-way head (and a scratch trunk) is initialised from ``seed`` without touching the global RNG.
    """
    state = None
    if pretrained:
        from hadamard_restore.pretrained import weights

        state = weights.resnet_state_dict(arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ClearClassifier(arch, init="imagenet" if state is not None else "scratch")
    if state is not None:
        trunk = {k: v for k, v in state.items() if not k.startswith("fc.")}
        missing, unexpected = model.net.load_state_dict(trunk, strict=False)
        if unexpected or set(missing) != {"fc.weight", "fc.bias"}:
            raise CheckpointError(f"cached {arch} ImageNet weights do not fit torchvision's {arch} "
                                  f"(missing {missing}, unexpected {unexpected}); reinstall the weights")
    return model


def freeze_classifier(model: nn.Module) -> nn.Module:
    """Eval mode and ``requires_grad=False`` on every parameter, in place (returns ``model``)."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def clear_loss(classifier: nn.Module, images: Tensor) -> Tensor:
    """``L_Cval``: cross-entropy of the label "clear" on ``images``, mean over the batch.

    Args:
        classifier: a frozen classifier in eval mode (see :func:`load_classifier`).
        images: restored images ``(B, 3, H, W)``, unclamped (gradients flow back to them).

    Returns:
        Scalar ``mean_b -log softmax(classifier(images))_b[1]``.

    Raises:
        ValueError: the classifier is in training mode (batch-norm statistics would change).
    """
    if classifier.training:
        raise ValueError("clear_loss needs the classifier in eval mode; call freeze_classifier(clf) "
                         "or load it with load_classifier(path)")
    logits = classifier(images)
    target = torch.full((images.shape[0],), CLEAR, dtype=torch.long, device=images.device)
    return F.cross_entropy(logits, target)


def save_classifier(model: ClearClassifier, path: str | Path, **info) -> Path:
    """Write the checkpoint atomically: state dict, arch, init, preprocessing, labels, ``info``."""
    from hadamard_restore.artifacts import atomic_torch_save

    ckpt = {"format": FORMAT, "version": 1, "arch": model.arch, "init": model.init,
            "labels": {str(CLEAR): "clear", str(DEGRADED): "degraded"},
            "preprocessing": dict(PREPROCESSING),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **info}
    return atomic_torch_save(ckpt, path)


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> ClearClassifier:
    """Load a checkpoint (``weights_only=True``) as a frozen eval-mode :class:`ClearClassifier`.

    Raises:
        CheckpointError: missing/truncated file, another format, other preprocessing, or a state
            dict that does not fit the recorded arch.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "classifier.pt"
    if not path.is_file():
        raise CheckpointError(f"no classifier checkpoint at {path}; train one with "
                              "`hadamard-restore classifier CONFIG` and pass its classifier.pt")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means an unusable file
        raise CheckpointError(f"{path} is not a readable classifier checkpoint ({exc}); was it truncated?") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a hadamard-restore classifier checkpoint "
                              "(expected one written by `hadamard-restore classifier`)")
    if ckpt.get("preprocessing", {}).get("mean") != list(IMAGENET_MEAN) or \
            ckpt.get("preprocessing", {}).get("std") != list(IMAGENET_STD):
        raise CheckpointError(f"{path} was trained with other input preprocessing "
                              f"({ckpt.get('preprocessing')}); this code uses {PREPROCESSING}")
    arch = ckpt.get("arch")
    if arch not in ARCHS:
        raise CheckpointError(f"{path}: unknown arch {arch!r}; expected one of {', '.join(ARCHS)}")
    model = ClearClassifier(arch, init=ckpt.get("init", "scratch"))
    try:
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{path}: the weights do not fit a {arch} classifier ({exc})") from None
    return freeze_classifier(model.to(device))


def train_classifier(cfg, run_dir: str | Path) -> Path:
    """Train, evaluate and save a classifier; see :mod:`hadamard_restore.losses.classifier_train`."""
    from hadamard_restore.losses.classifier_train import train_classifier as _train

    return _train(cfg, run_dir)
