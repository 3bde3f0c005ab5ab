"""VGG perceptual loss with a searched layer per group (docs/method.md 3.2).

Layers are named, not indexed: ``conv{b}_{k}``, ``relu{b}_{k}`` and ``pool{b}`` for the ``k``-th
convolution of block ``b``, so a choice transfers between VGG16 and VGG19 (the paper's LOL choice,
VGG19 indices ``[1, 6, 11, 22]``, is ``relu1_1, relu2_1, relu3_1, relu4_2``; UIE's
``[3, 8, 15, 21]`` is ``relu1_2, relu2_2, relu3_3, relu4_2``).

**Candidates.** Group ``g`` (blocks 1-4) offers the **post-ReLU** maps of block ``g``:
VGG16 has 2, 2, 3, 3 candidates, VGG19 2, 2, 4, 4. The authors' extractor also listed the conv
outputs, but torchvision's in-place ReLU overwrites each captured conv output, so every "conv"
candidate returned the same tensor as the ReLU after it (docs/method.md 3.2, quirk). Listing only the
post-ReLU maps gives the same set of distinct features without the aliasing; a ReLU output is
never modified in place afterwards (the next module is a conv or a pool), so the taps are safe.

**Loss.** With features ``V_j`` of the ImageNet-normalised (unclamped) images:

- relaxed (search): ``sum_g sum_j softmax(gamma_g)_j * mean |V_j(x) - V_j(y)|``;
- discrete (after search): ``sum_{j in chosen} mean |V_j(x) - V_j(y)|`` (unweighted sum).

One forward per image runs the backbone only up to the deepest tap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from hadamard_restore.backbones import weights
from hadamard_restore.errors import LossWeightsError
from hadamard_restore.losses.preprocess import imagenet_normalize

BLOCK_CONVS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
NUM_GROUPS = 4
_LAYER_RE = re.compile(r"^relu([1-9])_([1-9])$")


def _names_from_kinds(kinds: Sequence[str]) -> list[str]:
    block, conv, names = 1, 0, []
    for kind in kinds:
        if kind == "conv":
            conv += 1
            names.append(f"conv{block}_{conv}")
        elif kind == "relu":
            names.append(f"relu{block}_{conv}")
        elif kind == "pool":
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:
            names.append(f"{kind}{block}_{conv}")
    return names


def layer_names(features: nn.Sequential) -> list[str]:
    """Name every module of a VGG ``features`` stack (``conv1_1, relu1_1, ..., pool1, ...``)."""
    kinds = []
    for m in features:
        if isinstance(m, nn.Conv2d):
            kinds.append("conv")
        elif isinstance(m, nn.ReLU):
            kinds.append("relu")
        elif isinstance(m, nn.MaxPool2d):
            kinds.append("pool")
        else:
            kinds.append(type(m).__name__.lower())
    return _names_from_kinds(kinds)


def backbone_layer_names(backbone: str) -> list[str]:
    """The names of torchvision's ``vgg16``/``vgg19`` ``features`` without building the model."""
    if backbone not in BLOCK_CONVS:
        raise LossWeightsError(f"unknown VGG backbone {backbone!r}; choose one of {sorted(BLOCK_CONVS)}")
    kinds: list[str] = []
    for n in BLOCK_CONVS[backbone]:
        kinds += ["conv", "relu"] * n + ["pool"]
    return _names_from_kinds(kinds)


def candidate_groups(names: Sequence[str]) -> list[list[str]]:
    """The post-ReLU names of blocks 1-4: one candidate list per group."""
    groups: list[list[str]] = [[] for _ in range(NUM_GROUPS)]
    for name in names:
        m = _LAYER_RE.match(name)
        if m and int(m.group(1)) <= NUM_GROUPS:
            groups[int(m.group(1)) - 1].append(name)
    if any(not g for g in groups):
        raise LossWeightsError(f"the VGG stack has no ReLU in some of blocks 1-{NUM_GROUPS}: {names}")
    return groups


def check_layers(layers: Sequence[str], groups: Sequence[Sequence[str]], backbone: str) -> list[str]:
    """Validate a discrete choice: one candidate of each group, in group order."""
    layers = list(layers)
    if len(layers) != len(groups):
        raise LossWeightsError(f"expected {len(groups)} VGG layers (one per group), got {layers}")
    for g, (name, cands) in enumerate(zip(layers, groups), start=1):
        if name not in cands:
            raise LossWeightsError(
                f"VGG layer {name!r} is not a candidate of group {g} in {backbone} "
                f"(candidates: {', '.join(cands)}); choose one of those or use the backbone it came from"
            )
    return layers


class VGGTaps(nn.Module):
    """Run a frozen VGG ``features`` stack once and return the feature maps of ``layers``.

    Args:
        features: a torchvision VGG ``features`` ``nn.Sequential`` (e.g. ``weights.vgg_features``)
            or any stack of Conv2d/ReLU/MaxPool2d in the same pattern (tests use tiny ones).
        layers: names to return (see :func:`layer_names`).

    ``forward(x)`` takes ``(B, 3, H, W)`` RGB in ``[0, 1]`` (not clamped), normalises with the
    ImageNet mean/std, and returns ``{name: (B, C_j, H_j, W_j)}``; modules after the deepest tap
    are not run.
    """

    def __init__(self, features: nn.Sequential, layers: Sequence[str]):
        super().__init__()
        self.features = features
        names = layer_names(features)
        missing = [n for n in layers if n not in names]
        if missing:
            raise LossWeightsError(f"VGG layers {missing} not in this backbone (it has {names})")
        self.index = {names.index(n): n for n in layers}
        self.stop = max(self.index) + 1

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        h = imagenet_normalize(x)
        for i in range(self.stop):
            h = self.features[i](h)
            if i in self.index:
                out[self.index[i]] = h
        return out


def init_group_logits(g: int, cands: list[str], softmax, generator) -> Tensor:
    """Starting logits of VGG group ``g``: log of recorded probabilities, else 1e-3·N(0,1) (0 without generator)."""
    if softmax is not None:
        probs = softmax[g] if g < len(softmax) else {}
        if sorted(probs) != sorted(cands):
            raise LossWeightsError(
                f"VGG group {g + 1}: recorded layers {sorted(probs)} are not this "
                f"backbone's candidates {cands}; use the backbone they were searched on"
            )
        return torch.log(torch.tensor([max(float(probs[c]), 1e-12) for c in cands]))
    if generator is None:
        return torch.zeros(len(cands))
    return 1e-3 * torch.randn(len(cands), generator=generator)


def feature_l1(
    fx: Mapping[str, Tensor], fy: Mapping[str, Tensor], layer_weights: Mapping[str, float | Tensor]
) -> Tensor:
    """``sum_j w_j * mean |fx[j] - fy[j]|``; layers whose weight is the float 0.0 are skipped."""
    total: Tensor | None = None
    for name, w in layer_weights.items():
        if isinstance(w, float) and w == 0.0:
            continue
        term = w * (fx[name] - fy[name]).abs().mean()
        total = term if total is None else total + term
    if total is None:
        return next(iter(fx.values())).new_zeros(())
    return total


def relaxed_layer_weights(groups: Sequence[Sequence[str]], logits: Sequence[Tensor]) -> dict[str, Tensor]:
    """``{name: softmax(gamma_g)_j}`` over all candidates of all groups."""
    weights: dict[str, Tensor] = {}
    for cands, gamma in zip(groups, logits):
        for name, p in zip(cands, torch.softmax(gamma, dim=0)):
            weights[name] = p
    return weights


def vgg_loss(x: Tensor, y: Tensor, taps: VGGTaps, layer_weights: Mapping[str, float | Tensor]) -> Tensor:
    """Weighted mean-L1 feature distance between ``x`` and ``y`` (see the module docstring).

    ``y``'s features carry gradients only if ``y`` requires grad (the reference is data, so this
    saves the activations of the second pass).

    Args:
        x, y: ``(B, 3, H, W)`` in ``[0, 1]`` (unclamped).
        taps: a :class:`VGGTaps` covering every name in ``layer_weights``.
        layer_weights: ``{name: weight}``; 1.0 per chosen layer for the discrete loss, the
            softmax of the group logits for the relaxed loss.

    Returns:
        Scalar tensor; 0 on identical images.
    """
    if x.shape != y.shape:
        raise ValueError(f"vgg_loss: output {tuple(x.shape)} and reference {tuple(y.shape)} differ in shape")
    fx = taps(x)
    with torch.set_grad_enabled(torch.is_grad_enabled() and y.requires_grad):
        fy = taps(y)
    return feature_l1(fx, fy, layer_weights)


def load_features(backbone: str) -> nn.Sequential:
    """The frozen ImageNet ``features`` of ``backbone`` from the weights cache (never downloads)."""
    return weights.vgg_features(backbone)


class VGGLoss(nn.Module):
    """Thin module over :func:`vgg_loss`, relaxed (``layers=None``) or with fixed layers.

    Args:
        layers: four layer names (discrete); ``None`` for the relaxed loss with its own logits
            ``gamma_g`` (``nn.Parameter``, initialised ``1e-3 * N(0, 1)`` from ``generator``).
        backbone: ``"vgg16"`` (default; provisionable offline) or ``"vgg19"``.
        features: an explicit ``features`` stack instead of loading ``backbone`` (tests).
        generator: randomness for the logits' initialisation.
    """

    def __init__(
        self,
        layers: Sequence[str] | None = None,
        backbone: str = "vgg16",
        features: nn.Sequential | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        features = load_features(backbone) if features is None else features
        self.groups = candidate_groups(layer_names(features))
        self.layers = None if layers is None else check_layers(layers, self.groups, backbone)
        self.logits: nn.ParameterList | None
        if self.layers is None:
            self.logits = nn.ParameterList(
                nn.Parameter(1e-3 * torch.randn(len(c), generator=generator)) for c in self.groups
            )
            self.taps = VGGTaps(features, [n for c in self.groups for n in c])
        else:
            self.logits = None
            self.taps = VGGTaps(features, self.layers)

    def layer_weights(self) -> Mapping[str, float | Tensor]:
        if self.layers is not None:
            return {n: 1.0 for n in self.layers}
        assert self.logits is not None  # no fixed layers: the relaxed form, built with logits
        return relaxed_layer_weights(self.groups, list(self.logits))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return vgg_loss(x, y, self.taps, self.layer_weights())
