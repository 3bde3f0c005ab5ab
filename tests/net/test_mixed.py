"""Mixed op = weighted sum of its candidates; chosen op = one candidate under the same key."""

import pytest
import torch

from hadamard_restore.net.mixed import ChosenOp, MixedOp, candidate_by_candidate
from hadamard_restore.net.primitives import HNU_PRIMITIVES


@pytest.fixture
def mixed():
    torch.manual_seed(0)
    return MixedOp(HNU_PRIMITIVES, 4, 4)


def test_weighted_sum_of_candidates(mixed, gen):
    x = torch.randn(1, 4, 9, 7, generator=gen)
    w = torch.softmax(torch.randn(9, generator=gen), 0)
    ref = sum(w[k] * op(x) for k, op in enumerate(mixed.values()))
    torch.testing.assert_close(mixed(x, w), ref)
    with candidate_by_candidate():
        torch.testing.assert_close(mixed(x, w), ref)
    assert MixedOp.fused  # the class default is restored


def test_candidate_by_candidate_restores_the_default_even_on_error(mixed):
    with pytest.raises(RuntimeError), candidate_by_candidate(mixed):
        assert not mixed.fused
        raise RuntimeError("boom")
    assert mixed.fused and "fused" not in vars(mixed)


def test_exact_one_hot_selects_one_op_exactly(mixed, gen):
    x = torch.randn(1, 4, 9, 7, generator=gen)
    for k, name in enumerate(HNU_PRIMITIVES):
        w = torch.zeros(9)
        w[k] = 1.0
        with candidate_by_candidate(mixed):
            assert torch.equal(mixed(x, w), mixed[name](x))
        torch.testing.assert_close(mixed(x, w), mixed[name](x))  # fused: the same up to rounding


def test_chosen_op_keys_are_a_subset_of_the_mixed_keys(mixed):
    chosen = ChosenOp("denseblocks_3x3", 4, 4)
    assert chosen.op_name == "denseblocks_3x3"
    assert set(chosen.state_dict()) <= set(mixed.state_dict())


def test_wrong_weight_length_is_an_error(mixed):
    with pytest.raises(ValueError, match="9 candidates"):
        mixed(torch.zeros(1, 4, 5, 5), torch.ones(4) / 4)
