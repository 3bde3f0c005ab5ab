"""The encoder / HNU chain / decoder layout shared by the supernet and the derived network.

Layout (docs/method.md 1.2; C = ``channels``, C/2 at full resolution)::

    x (B,3,H,W) --reflect-pad to a multiple of 4-->
    head (S, 3->C/2) -> FCM e1 (C/2) -> down1 (k2 s2, C/2->C) = skip_A
    -> FCM e2 (C) -> down2 (k2 s2, C->C) = skip_B
    -> HNU_1 ... HNU_n (C, at H/4) -> + skip_B
    -> up1 (convT k2 s2, C->C) -> FCM d2 (C) -> + skip_A
    -> up2 (convT k2 s2, C->C/2) -> FCM d1 (C/2) -> tail (S, C/2->3) --crop--> (B,3,H,W)

The down/up-sampling layers are fixed and bias-free; there is no output activation (the raw
tail output is the image; clamp only for saving/metrics). ``upsample="resize"`` (beyond the
paper, docs/method.md 8.26) makes each up-sampler a bilinear x2 resize followed by a bias-free
3x3 convolution instead of the k2 s2 transposed convolution, whose four kernel taps stamp a
fixed 2x2 pattern on every output block (a checkerboard locked to the pixel grid). Each searched layer is made by a
*layer factory* ``(label, candidates, c_in, c_out) -> layer``; the supernet passes mixed ops,
the derived network chosen ops, so both have the same module names (``head``, ``e1.a.op1``,
``hnus.0.ru.0``, ..., ``tail``).

Weights are initialised with PyTorch's default scheme (docs/method.md 1.5), drawn from a private
RNG seeded by ``seed``, so construction is reproducible and leaves the global RNG untouched.
"""

from __future__ import annotations

import torch
from torch import nn

from hadamard_restore.config import UPSAMPLERS
from hadamard_restore.net.fcm import FCM
from hadamard_restore.net.hnu import HNU, LayerFactory, Norm
from hadamard_restore.net.padding import crop_pads, reflect_pad
from hadamard_restore.net.primitives import FCM_PRIMITIVES, group_names, space_primitives

PAD_MULTIPLE = 4


def make_upsampler(kind: str, c_in: int, c_out: int) -> nn.Module:
    """A x2 up-sampler from ``c_in`` to ``c_out`` channels, bias-free.

    ``"transpose"`` (the paper's): a k2 s2 transposed convolution. ``"transpose-icnr"``: the same
    layer, initialised with its four taps equal (the default draw's first tap copied to the other
    three), so that it starts as nearest-neighbour x2 after a 1x1 convolution, with no pattern
    locked to the pixel grid; training may move the taps apart (Aitken et al., 2017, "Checkerboard
    artifact free sub-pixel convolution"). It draws the same random numbers as ``"transpose"``, so
    every other layer of a network starts with the same weights. ``"resize"``: bilinear x2
    (half-pixel centres) then a 3x3 convolution with zero padding, which has no per-position
    pattern (a constant input gives a constant output away from the border).
    """
    if kind in ("transpose", "transpose-icnr"):
        up = nn.ConvTranspose2d(c_in, c_out, 2, stride=2, bias=False)
        if kind == "transpose-icnr":  # the same draws, then one tap for all four: no grid pattern at the start
            with torch.no_grad():
                up.weight.copy_(up.weight[:, :, :1, :1].expand_as(up.weight))
        return up
    if kind == "resize":
        return nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        )
    raise ValueError(f"upsample must be one of {', '.join(UPSAMPLERS)}, got {kind!r}")


class Backbone(nn.Module):
    """The shared layout. Subclasses supply the layer factory and the mixing weights.

    Args:
        make_layer: layer factory (see :class:`hadamard_restore.net.hnu.HNU`).
        channels: C, the width at H/2 and H/4 (even, >= 2); the full-resolution width is C/2.
        num_hnu: number of HNUs in the chain (>= 1).
        norm: HNU normalisation, ``"instance"`` or ``"none"``.
        seed: seed of the private RNG used for weight initialisation.
        space: the search space whose candidate sets the layer factory is given
            (:data:`~hadamard_restore.net.primitives.SPACES`; default the paper's).
        upsample: the two x2 up-samplers, ``"transpose"`` (the paper's), ``"transpose-icnr"``
            or ``"resize"`` (:func:`make_upsampler`).
    """

    def __init__(
        self,
        make_layer: LayerFactory,
        channels: int = 32,
        num_hnu: int = 7,
        norm: Norm = "instance",
        seed: int = 0,
        space: str = "paper",
        upsample: str = "transpose",
    ) -> None:
        super().__init__()
        if channels < 2 or channels % 2:
            raise ValueError(
                f"channels must be an even number >= 2 (the full-resolution width is channels // 2), got {channels}"
            )
        if num_hnu < 1:
            raise ValueError(f"num_hnu must be >= 1, got {num_hnu}")
        self.channels, self.num_hnu, self.norm, self.space = channels, num_hnu, norm, space
        self.upsample = upsample
        c, c2 = channels, channels // 2
        hnu_candidates = space_primitives(space)["hnu"]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.head = make_layer("enc.head", FCM_PRIMITIVES, 3, c2)
            self.e1 = FCM("enc.e1", c2, make_layer)
            self.down1 = nn.Conv2d(c2, c, 2, stride=2, bias=False)
            self.e2 = FCM("enc.e2", c, make_layer)
            self.down2 = nn.Conv2d(c, c, 2, stride=2, bias=False)
            self.hnus = nn.ModuleList(HNU(g, c, norm, make_layer, hnu_candidates) for g in group_names(num_hnu)[1:-1])
            self.up1 = make_upsampler(upsample, c, c)
            self.d2 = FCM("dec.d2", c, make_layer)
            self.up2 = make_upsampler(upsample, c, c2)
            self.d1 = FCM("dec.d1", c2, make_layer)
            self.tail = make_layer("dec.tail", FCM_PRIMITIVES, c2, 3)

    def layer_modules(self) -> dict[str, nn.Module]:
        """Searched layers by label, in genotype order."""
        labelled = ((getattr(m, "layer_label", None), m) for m in self.modules())
        return {label: m for label, m in labelled if isinstance(label, str)}

    def layer_labels(self) -> list[str]:
        """Stable labels of the searched layers (``enc.head`` ... ``hnu1.ru0`` ... ``dec.tail``)."""
        return list(self.layer_modules())

    def run(self, x: torch.Tensor, mix: dict[str, torch.Tensor] | None) -> torch.Tensor:
        """Forward with per-group mixing weights ``mix[group]`` of shape (layers, K), or None.

        Args:
            x: (B, 3, H, W), nominally in [0, 1]; any H, W >= 2.

        Returns:
            (B, 3, H, W), unclamped.
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an RGB batch of shape (B, 3, H, W), got {tuple(x.shape)}")
        enc = None if mix is None else mix["enc"]
        dec = None if mix is None else mix["dec"]
        x, pads = reflect_pad(x, PAD_MULTIPLE)
        h = self.head(x, None if enc is None else enc[0])
        h = self.e1(h, None if enc is None else enc[1:5])
        skip_a = self.down1(h)
        h = self.e2(skip_a, None if enc is None else enc[5:9])
        skip_b = self.down2(h)
        h = skip_b
        for i, hnu in enumerate(self.hnus, start=1):
            h = hnu(h, None if mix is None else mix[f"hnu{i}"])
        h = self.up1(h + skip_b)
        h = self.d2(h, None if dec is None else dec[0:4]) + skip_a
        h = self.d1(self.up2(h), None if dec is None else dec[4:8])
        out = self.tail(h, None if dec is None else dec[8])
        return crop_pads(out, pads)
