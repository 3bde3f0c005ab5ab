"""The derived (discrete) network built from a genotype.

Built from the genotype alone: its search space (the ``primitives`` it records, e.g. the ``global``
space's ``globalres_1x1``) needs no setting. Same module tree and names as
:class:`~hadamard_restore.net.supernet.SuperNet`, but each
searched layer holds only its chosen op, under the op's name; its state-dict keys are a
subset of the supernet's, so :func:`copy_supernet_weights` is a subset ``load_state_dict``.
``norm`` defaults to ``"instance"``: the authors' final network uses affine-free BatchNorm in
train mode at B = 1, i.e. per-image instance norm (docs/method.md 1.4, 8.9).
"""

from __future__ import annotations

import torch

from hadamard_restore.errors import GenotypeError
from hadamard_restore.net.backbone import Backbone
from hadamard_restore.net.genotype import Genotype
from hadamard_restore.net.hnu import Norm
from hadamard_restore.net.mixed import ChosenOp
from hadamard_restore.net.supernet import SuperNet, _seed_from


class HadamardNet(Backbone):
    """The network a genotype describes.

    Args:
        genotype: the :class:`Genotype` (a bundled name or genotype.json path becomes one through
            :func:`~hadamard_restore.net.genotype.load_genotype`).
        channels: C (default 32); full-resolution width C/2.
        num_hnu: HNUs; None takes the genotype's count (a different number is an error).
        norm: ``"instance"`` (default, final network) or ``"none"``.
        generator: source of the weight-init seed; default ``Generator().manual_seed(0)``.
        upsample: the up-samplers, ``"transpose"`` (default, the paper's), ``"transpose-icnr"`` or ``"resize"``
            (:func:`~hadamard_restore.net.backbone.make_upsampler`); a model file records it.

    Examples:
        >>> net = HadamardNet(load_genotype("all-3c"), channels=8)
        >>> net(torch.rand(1, 3, 37, 31)).shape
        torch.Size([1, 3, 37, 31])
    """

    def __init__(
        self,
        genotype: Genotype,
        channels: int = 32,
        num_hnu: int | None = None,
        norm: Norm = "instance",
        generator: torch.Generator | None = None,
        upsample: str = "transpose",
    ) -> None:
        geno = genotype
        if num_hnu is not None and num_hnu != geno.num_hnu:
            raise GenotypeError(
                f"genotype {geno.name or ''!s} describes {geno.num_hnu} HNUs but num_hnu={num_hnu} "
                "was asked for; leave num_hnu unset or use a genotype searched with that depth"
            )
        gen = generator if generator is not None else torch.Generator().manual_seed(0)

        def make_layer(label: str, candidates: tuple[str, ...], c_in: int, c_out: int) -> ChosenOp:
            layer = ChosenOp(geno.layers[label], c_in, c_out)
            layer.layer_label = label
            return layer

        super().__init__(
            make_layer, channels, geno.num_hnu, norm, seed=_seed_from(gen), space=geno.space, upsample=upsample
        )
        self.genotype = geno

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (B, 3, H, W) in [0, 1] -> (B, 3, H, W), unclamped (clamp for saving/metrics)."""
        return self.run(x, None)


def copy_supernet_weights(supernet: SuperNet, net: HadamardNet) -> HadamardNet:
    """Load into ``net`` the supernet's weights of the ops ``net`` kept (same keys)."""
    if (supernet.channels, supernet.num_hnu, supernet.upsample) != (net.channels, net.num_hnu, net.upsample):
        raise ValueError(
            f"supernet (channels={supernet.channels}, num_hnu={supernet.num_hnu}, upsample={supernet.upsample}) "
            f"and network (channels={net.channels}, num_hnu={net.num_hnu}, upsample={net.upsample}) differ in size"
        )
    source = supernet.state_dict()
    net.load_state_dict({k: source[k] for k in net.state_dict()})
    return net
