"""The search space as data: ordered candidate sets and layer labels (docs/method.md 2.2, 7.2)."""

import json
from importlib.resources import files

import pytest

from hadamard_restore.net.ops import OPS
from hadamard_restore.net.primitives import (
    ABBREVIATIONS,
    FCM_PRIMITIVES,
    HNU_PRIMITIVES,
    SPACES,
    group_names,
    label_primitives,
    layer_labels,
    space_of,
)


def test_candidate_sets_are_the_code_sets_in_code_order():
    """The order is the authors' ``PRIMITIVES`` order; every genotype file records it (a reorder would
    change what the genotypes, bundled and written, mean), so the bundled files' record is the pin."""
    recorded = json.loads((files("hadamard_restore") / "resources" / "genotypes" / "paper-uie.json").read_text())
    assert recorded["primitives"] == {"hnu": list(HNU_PRIMITIVES), "fcm": list(FCM_PRIMITIVES)}


def test_every_candidate_and_abbreviation_has_an_op():
    assert set(OPS) == {name for space in SPACES.values() for sets in space.values() for name in sets}
    assert set(ABBREVIATIONS.values()) == set(OPS)


def test_spaces_paper_is_the_default_and_global_appends_one_op():
    assert SPACES["paper"] == {"hnu": HNU_PRIMITIVES, "fcm": FCM_PRIMITIVES}
    assert SPACES["global"] == {"hnu": (*HNU_PRIMITIVES, "globalres_1x1"), "fcm": FCM_PRIMITIVES}
    assert label_primitives("hnu1.ru0") == HNU_PRIMITIVES and label_primitives("enc.head") == FCM_PRIMITIVES
    assert (
        len(label_primitives("hnu3.rv2", "global")) == 10 and label_primitives("dec.tail", "global") == FCM_PRIMITIVES
    )
    assert space_of({"hnu": list(HNU_PRIMITIVES), "fcm": list(FCM_PRIMITIVES)}) == "paper"
    assert space_of({k: list(v) for k, v in SPACES["global"].items()}) == "global"
    assert space_of({"hnu": ["globalres_1x1", *HNU_PRIMITIVES], "fcm": list(FCM_PRIMITIVES)}) is None  # order counts
    assert space_of(["conv_1x1"]) is None and space_of({"hnu": 3}) is None
    with pytest.raises(ValueError, match="unknown search space 'local'; choose one of paper, global"):
        label_primitives("hnu1.ru0", "local")


def test_the_config_offers_exactly_the_spaces():
    from typing import get_args

    from hadamard_restore.config import NetConfig

    assert get_args(NetConfig.model_fields["space"].annotation) == tuple(SPACES)
    assert NetConfig().space == "paper"


@pytest.mark.parametrize("num_hnu", [1, 2, 7])
def test_labels_count_order_and_candidate_sets(num_hnu):
    labels = layer_labels(num_hnu)
    assert len(labels) == len(set(labels)) == 18 + 8 * num_hnu
    assert labels[0] == "enc.head" and labels[-1] == "dec.tail"
    assert labels[1:5] == ["enc.e1a-1", "enc.e1a-2", "enc.e1b-1", "enc.e1b-2"]
    assert labels[9:17] == [f"hnu1.r{b}{i}" for b in "uv" for i in range(4)]
    assert labels[-10] == f"hnu{num_hnu}.rv3"
    assert sum(label_primitives(l) == HNU_PRIMITIVES for l in labels) == 8 * num_hnu
    assert sum(label_primitives(l) == FCM_PRIMITIVES for l in labels) == 18


def test_group_names_rejects_zero_hnus():
    assert group_names(2) == ["enc", "hnu1", "hnu2", "dec"]
    with pytest.raises(ValueError, match="num_hnu must be >= 1"):
        group_names(0)
