"""The search space as data: ordered primitive sets and the labels of every searched layer.

Two candidate sets (docs/method.md 2.2, the authors' ``PRIMITIVES`` and ``PRIMITIVES2``). The order
is part of the definition: it fixes the column order of every alpha row and decides argmax
ties (the first maximum wins).

- ``HNU_PRIMITIVES`` (9): the 8 searched layers of every HNU (Ru0..Ru3, Rv0..Rv3).
- ``FCM_PRIMITIVES`` (4): the head, the tail and the 16 layers of the four FCMs. No skip,
  residual or dense option: head and tail change the channel count, and the FCM's residual
  structure is fixed.

Candidate sets come in named *spaces* (:data:`SPACES`, chosen by ``net.space``):

- ``paper`` (the default): ``HNU_PRIMITIVES`` and ``FCM_PRIMITIVES``, the paper's search space;
- ``global``: the same with ``globalres_1x1`` appended to the HNU set (10 candidates; the one op
  with a global receptive field, :class:`~hadamard_restore.net.ops.GlobalRes`), FCM set unchanged.
  Appended, so the first nine alpha columns keep the paper's meaning and order.

A genotype records its space's sets under ``primitives`` (:func:`space_of` reads them back).

Layer labels (stable, used as genotype keys):

- encoder, 9 layers: ``enc.head``, ``enc.e1a-1``, ``enc.e1a-2``, ``enc.e1b-1``, ``enc.e1b-2``,
  ``enc.e2a-1`` ... ``enc.e2b-2`` (FCM ``e1``/``e2``, sub-block ``a``/``b``, op ``1``/``2``);
- HNU ``i`` (1-based), 8 layers: ``hnu{i}.ru0`` ... ``hnu{i}.ru3``, ``hnu{i}.rv0`` ... ``hnu{i}.rv3``;
- decoder, 9 layers: ``dec.d2a-1`` ... ``dec.d2b-2``, ``dec.d1a-1`` ... ``dec.d1b-2``, ``dec.tail``.

Each layer belongs to one *group* (``enc``, ``hnu1`` ... ``hnuN``, ``dec``); a group's alphas are
one ``(layers, candidates)`` tensor, as in the authors' code (7 x [8 x 9], [9 x 4], [9 x 4]).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

HNU_PRIMITIVES: tuple[str, ...] = (
    "skip_connect",
    "conv_1x1",
    "conv_3x3",
    "dilconv_3x3",
    "resconv_1x1",
    "resconv_3x3",
    "resdilconv_3x3",
    "denseblocks_1x1",
    "denseblocks_3x3",
)

FCM_PRIMITIVES: tuple[str, ...] = (
    "conv_5x5",
    "conv_1x1",
    "conv_3x3",
    "dilconv_3x3",
)

SpaceName = Literal["paper", "global"]

#: Space name -> ``{"hnu": candidates of HNU layers, "fcm": candidates of head, tail and FCM layers}``.
SPACES: dict[str, dict[str, tuple[str, ...]]] = {
    "paper": {"hnu": HNU_PRIMITIVES, "fcm": FCM_PRIMITIVES},
    "global": {"hnu": (*HNU_PRIMITIVES, "globalres_1x1"), "fcm": FCM_PRIMITIVES},
}

#: Paper / docs/method.md 7.2 abbreviations -> code names (accepted in hand-written genotypes).
ABBREVIATIONS: dict[str, str] = {
    "SC": "skip_connect",
    "C1": "conv_1x1",
    "C3": "conv_3x3",
    "C5": "conv_5x5",
    "DIL3": "dilconv_3x3",
    "RC1": "resconv_1x1",
    "RC3": "resconv_3x3",
    "RDIL3": "resdilconv_3x3",
    "DN1": "denseblocks_1x1",
    "DN3": "denseblocks_3x3",
    "GRC1": "globalres_1x1",  # not in the paper (the ``global`` space)
}

ENCODER_LAYERS: tuple[str, ...] = (
    "head",
    "e1a-1",
    "e1a-2",
    "e1b-1",
    "e1b-2",
    "e2a-1",
    "e2a-2",
    "e2b-1",
    "e2b-2",
)
DECODER_LAYERS: tuple[str, ...] = (
    "d2a-1",
    "d2a-2",
    "d2b-1",
    "d2b-2",
    "d1a-1",
    "d1a-2",
    "d1b-1",
    "d1b-2",
    "tail",
)
HNU_LAYERS: tuple[str, ...] = ("ru0", "ru1", "ru2", "ru3", "rv0", "rv1", "rv2", "rv3")


def group_names(num_hnu: int) -> list[str]:
    """Alpha groups in genotype order: ``["enc", "hnu1", ..., "hnuN", "dec"]``."""
    if num_hnu < 1:
        raise ValueError(f"num_hnu must be >= 1, got {num_hnu}")
    return ["enc", *(f"hnu{i}" for i in range(1, num_hnu + 1)), "dec"]


def group_layers(group: str) -> tuple[str, ...]:
    """The layer names (without the group prefix) of one group, in order."""
    if group == "enc":
        return ENCODER_LAYERS
    if group == "dec":
        return DECODER_LAYERS
    return HNU_LAYERS


def space_primitives(space: str = "paper") -> dict[str, tuple[str, ...]]:
    """``{"hnu": ..., "fcm": ...}``: the ordered candidate sets of ``space``."""
    if space not in SPACES:
        raise ValueError(f"unknown search space {space!r}; choose one of {', '.join(SPACES)}")
    return SPACES[space]


def space_of(primitives: Any) -> str | None:
    """The name of the space whose sets ``primitives`` (a genotype's record) are, exactly in order;
    None when it is none of them."""
    if not isinstance(primitives, Mapping):
        return None
    try:
        given = {k: list(v) for k, v in primitives.items()}
    except TypeError:
        return None
    return next((name for name, sets in SPACES.items() if given == {k: list(v) for k, v in sets.items()}), None)


def group_primitives(group: str, space: str = "paper") -> tuple[str, ...]:
    """The candidate set of every layer in ``group`` (paper space: HNU groups 9, enc/dec 4)."""
    return space_primitives(space)["fcm" if group in ("enc", "dec") else "hnu"]


def layer_labels(num_hnu: int) -> list[str]:
    """All searched-layer labels in genotype order (``18 + 8 * num_hnu`` of them)."""
    return [f"{g}.{name}" for g in group_names(num_hnu) for name in group_layers(g)]


def label_primitives(label: str, space: str = "paper") -> tuple[str, ...]:
    """The candidate set of the layer called ``label`` (``enc.*``/``dec.*`` -> FCM, else HNU)."""
    return group_primitives(label.split(".", 1)[0], space)
