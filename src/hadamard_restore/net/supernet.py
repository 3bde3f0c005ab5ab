"""The supernet: every searched layer a mixed op, every alpha an ``nn.Parameter`` in one place.

- ``self.arch`` is an ``nn.ParameterDict`` with one alpha tensor per group, as in the authors'
  code: ``arch["enc"]`` (9, 4), ``arch["hnu1"]`` ... ``arch["hnuN"]`` (8, 9), ``arch["dec"]`` (9, 4);
  18 + 8N rows, 72 + 72N logits (576 for N = 7). In the ``global`` space (``space="global"``) the
  HNU groups are (8, 10), their last column ``globalres_1x1``. Row ``i`` of a group is the ``i``-th label of
  that group in :func:`~hadamard_restore.net.primitives.layer_labels`; columns follow the
  group's primitive order.
- Initialisation: ``alpha = 1e-3 * N(0, 1)`` drawn from the given ``torch.Generator``
  (docs/method.md 2.3); weights use PyTorch's default init from a private RNG seeded by the same
  generator.
- :meth:`weights` and :meth:`arch_parameters` split the parameters; ``parameters()`` is not
  overridden and returns both. :meth:`freeze_arch` keeps alpha at its value (stage 1).
- One forward computes ``softmax(alpha_g)`` once per group (:meth:`mixing_weights`) and passes
  the rows down. ``forward(x, mix=...)`` accepts explicit mixing weights instead, e.g. the
  exact one-hot weights of :meth:`onehot_mix` (softmax of finite logits is never exactly one-hot).
- Every mixed op computes its weighted sum in fused form (a few convolutions with combined
  kernels, :mod:`hadamard_restore.net.fused_mix`). The forward builds the combined kernels of
  all layers of one shape in one batch (the 8N HNU layers are one batch) before running the
  layers; this halves the cost of a supernet step at search sizes, where building them layer by
  layer took as long as the convolutions. With an explicit ``mix`` the candidates are summed one
  by one, so that one-hot weights select an op bit-exactly.
- ``norm``: ``"instance"`` for the stage-1 (loss-search) supernet, ``"none"`` for the stage-2
  (architecture-search) supernet (docs/method.md 1.4).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from hadamard_restore.errors import GenotypeError
from hadamard_restore.net.backbone import Backbone
from hadamard_restore.net.fused_mix import build_kernels, per_layer
from hadamard_restore.net.genotype import Genotype, derive_genotype
from hadamard_restore.net.hnu import Norm
from hadamard_restore.net.mixed import MixedOp, candidate_by_candidate
from hadamard_restore.net.primitives import group_layers, group_names, group_primitives

ALPHA_INIT_SCALE = 1e-3


def _mixed_layer(label: str, candidates: tuple[str, ...], c_in: int, c_out: int) -> MixedOp:
    layer = MixedOp(candidates, c_in, c_out)
    layer.layer_label = label
    return layer


def _seed_from(generator: torch.Generator) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=generator))


class SuperNet(Backbone):
    """The continuous relaxation of the whole search space.

    Args:
        channels: C (default 32); full-resolution width C/2.
        num_hnu: HNUs in the chain (default 7).
        norm: ``"instance"`` (stage 1) or ``"none"`` (stage 2).
        generator: source of the weight-init seed and of alpha; default ``Generator().manual_seed(0)``.
        space: the candidate sets (:data:`~hadamard_restore.net.primitives.SPACES`): ``"paper"``
            (default) or ``"global"``.
        upsample: the up-samplers (:func:`~hadamard_restore.net.backbone.make_upsampler`):
            ``"transpose"`` (default, the paper's), ``"transpose-icnr"`` or ``"resize"``.

    Examples:
        >>> net = SuperNet(channels=8, num_hnu=1, generator=torch.Generator().manual_seed(1))
        >>> net(torch.rand(1, 3, 37, 31)).shape
        torch.Size([1, 3, 37, 31])
    """

    def __init__(
        self,
        channels: int = 32,
        num_hnu: int = 7,
        norm: Norm = "instance",
        generator: torch.Generator | None = None,
        space: str = "paper",
        upsample: str = "transpose",
    ) -> None:
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        super().__init__(_mixed_layer, channels, num_hnu, norm, seed=_seed_from(gen), space=space, upsample=upsample)
        self.arch = nn.ParameterDict(
            {
                g: nn.Parameter(
                    ALPHA_INIT_SCALE * torch.randn(len(group_layers(g)), len(group_primitives(g, space)), generator=gen)
                )
                for g in group_names(num_hnu)
            }
        )
        self._layers = {k: m for k, m in self.layer_modules().items() if isinstance(m, MixedOp)}  # not registered twice
        self._batches = _layer_batches(self._layers)

    # -- parameters ------------------------------------------------------------------------
    def named_weights(self) -> Iterator[tuple[str, nn.Parameter]]:
        """``(name, parameter)`` of the network weights (everything except ``arch.*``)."""
        return ((n, p) for n, p in self.named_parameters() if not n.startswith("arch."))

    def weights(self) -> list[nn.Parameter]:
        """The network weights w (the lower-level variables)."""
        return [p for _, p in self.named_weights()]

    def arch_parameters(self) -> list[nn.Parameter]:
        """The alpha tensors, in group order (``enc``, ``hnu1`` ... ``hnuN``, ``dec``)."""
        return [self.arch[g] for g in group_names(self.num_hnu)]

    def freeze_arch(self, frozen: bool = True) -> None:
        """Stop (or resume) gradients to alpha; a frozen alpha keeps its current value."""
        for p in self.arch.values():
            p.requires_grad_(not frozen)

    @property
    def arch_frozen(self) -> bool:
        return not any(p.requires_grad for p in self.arch.values())

    # -- mixing ----------------------------------------------------------------------------
    def mixing_weights(self) -> dict[str, torch.Tensor]:
        """``softmax(alpha_g, dim=-1)`` for every group: (layers, K) tensors summing to 1 per row."""
        return {g: torch.softmax(a, dim=-1) for g, a in self.arch.items()}

    def onehot_mix(self, genotype: Genotype) -> dict[str, torch.Tensor]:
        """Exact one-hot mixing weights selecting ``genotype``'s op in every layer."""
        if genotype.num_hnu != self.num_hnu:
            raise GenotypeError(f"genotype has {genotype.num_hnu} HNUs but the supernet has {self.num_hnu}")
        if genotype.space != self.space:
            raise GenotypeError(f"genotype is from the {genotype.space!r} space but the supernet's is {self.space!r}")
        mix = {}
        for g in group_names(self.num_hnu):
            prims = group_primitives(g, self.space)
            rows = [prims.index(genotype.layers[f"{g}.{name}"]) for name in group_layers(g)]
            a = self.arch[g]
            mix[g] = torch.nn.functional.one_hot(torch.tensor(rows), len(prims)).to(a.dtype).to(a.device)
        return mix

    def probabilities(self) -> dict[str, list[float]]:
        """softmax(alpha) per layer label, as Python floats."""
        with torch.no_grad():
            mix = self.mixing_weights()
        return {
            f"{g}.{name}": mix[g][i].tolist()
            for g in group_names(self.num_hnu)
            for i, name in enumerate(group_layers(g))
        }

    def genotype(self, name: str | None = None) -> Genotype:
        """The discrete architecture: argmax of softmax(alpha) per layer (first maximum wins)."""
        return derive_genotype(self.probabilities(), self.num_hnu, self.channels, name, self.space)

    def forward(self, x: torch.Tensor, mix: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """``x``: (B, 3, H, W) -> (B, 3, H, W), unclamped.

        Args:
            mix: per-group mixing weights (layers, K); default ``softmax(alpha)``, computed here once.
        """
        if mix is None:
            mix = self.mixing_weights()
            with self._prebuilt(mix):
                return self.run(x, mix)
        with candidate_by_candidate(self):
            return self.run(x, mix)

    @contextlib.contextmanager
    def _prebuilt(self, mix: dict[str, torch.Tensor]) -> Iterator[None]:
        """Every fused layer's combined kernels for ``mix``, built batch by batch, for one forward."""
        built: list[MixedOp] = []
        try:
            for batch in self._batches:
                layers = [self._layers[label] for label in batch.labels]
                p = layers[0].fused_plan
                if p is None or not all(m.fused for m in layers):
                    continue
                rows = torch.cat([mix[g] for g in batch.groups])[list(batch.rows)]
                for layer, kernels in zip(layers, per_layer(build_kernels(p, layers, rows)), strict=True):
                    layer.prebuilt = kernels
                    built.append(layer)
            yield
        finally:
            for layer in built:
                del layer.prebuilt  # back to the class default, None


@dataclass(frozen=True)
class _Batch:
    """Searched layers of one shape and candidate set, and where their mixing rows are."""

    labels: tuple[str, ...]
    groups: tuple[str, ...]  # mix groups to concatenate, in this order
    rows: tuple[int, ...]  # row of each label in that concatenation


def _layer_batches(layers: dict[str, MixedOp]) -> list[_Batch]:
    """Layers with the same candidates and channel counts, batched, from their labels."""
    members: dict[tuple, list[tuple[str, str, int]]] = {}
    for label, m in layers.items():
        g, name = label.split(".", 1)
        members.setdefault((tuple(m.keys()), m.c_in, m.c_out), []).append((label, g, group_layers(g).index(name)))
    out = []
    for found in members.values():
        groups = tuple(dict.fromkeys(g for _, g, _ in found))
        offset = {g: sum(len(group_layers(h)) for h in groups[: groups.index(g)]) for g in groups}
        out.append(_Batch(tuple(lb for lb, _, _ in found), groups, tuple(offset[g] + i for _, g, i in found)))
    return out
