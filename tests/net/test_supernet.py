"""Supernet: alpha as parameters in one place, gradients, freezing, softmax once, derivation."""

import pytest
import torch

from hadamard_restore.errors import GenotypeError
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.net.primitives import FCM_PRIMITIVES, HNU_PRIMITIVES, layer_labels
from hadamard_restore.net.supernet import SuperNet


def small(seed=0, **kw):
    kw = {"channels": 4, "num_hnu": 2, **kw}
    return SuperNet(generator=torch.Generator().manual_seed(seed), **kw)


@pytest.fixture(scope="module")
def net():
    return small()


def test_alpha_shapes_labels_and_parameter_split(net):
    assert {g: tuple(a.shape) for g, a in net.arch.items()} == {
        "enc": (9, 4),
        "hnu1": (8, 9),
        "hnu2": (8, 9),
        "dec": (9, 4),
    }
    assert net.layer_labels() == layer_labels(2)
    w, a = net.weights(), net.arch_parameters()
    assert {id(p) for p in w}.isdisjoint(id(p) for p in a)
    assert {id(p) for p in w} | {id(p) for p in a} == {id(p) for p in net.parameters()}
    assert all(isinstance(p, torch.nn.Parameter) for p in a)
    assert {n for n, _ in net.named_parameters() if n.startswith("arch.")} == {
        "arch.enc",
        "arch.hnu1",
        "arch.hnu2",
        "arch.dec",
    }


def test_alpha_init_is_small_gaussian_and_seeded():
    big = SuperNet(channels=4, num_hnu=7, generator=torch.Generator().manual_seed(3))
    alpha = torch.cat([a.detach().flatten() for a in big.arch_parameters()])
    assert alpha.numel() == 576
    assert 0.8e-3 < alpha.std().item() < 1.2e-3 and abs(alpha.mean().item()) < 2e-4
    a, b, c = small(5), small(5), small(6)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.arch["enc"], c.arch["enc"])
    assert not torch.equal(a.head["conv_5x5"].conv.weight, c.head["conv_5x5"].conv.weight)


@pytest.mark.parametrize("size", [(37, 31), (5, 7), (2, 2)])
def test_shape_preserved_for_odd_sizes(net, gen, size):
    x = torch.rand(1, 3, *size, generator=gen)
    assert net(x).shape == x.shape


def test_every_weight_and_alpha_gets_a_finite_gradient(gen):
    net = small(norm="instance")
    out = net(torch.rand(1, 3, 37, 31, generator=gen))
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"
    assert all(a.grad.abs().sum() > 0 for a in net.arch_parameters())


def test_freeze_arch_keeps_alpha(gen):
    net = small(norm="none")
    before = [a.detach().clone() for a in net.arch_parameters()]
    net.freeze_arch(True)
    assert net.arch_frozen and all(not a.requires_grad for a in net.arch_parameters())
    net(torch.rand(1, 3, 13, 11, generator=gen)).mean().backward()
    with torch.no_grad():  # one plain gradient step on everything that has a gradient
        for p in net.parameters():
            if p.grad is not None:
                p -= p.grad
    assert all(a.grad is None for a in net.arch_parameters())
    assert all(torch.equal(a, b) for a, b in zip(net.arch_parameters(), before))
    net.freeze_arch(False)
    assert not net.arch_frozen


def test_softmax_computed_once_per_alpha_per_forward(net, gen, monkeypatch):
    calls = []
    real = torch.softmax
    monkeypatch.setattr(torch, "softmax", lambda *a, **k: calls.append(1) or real(*a, **k))
    net(torch.rand(1, 3, 9, 9, generator=gen))
    assert len(calls) == len(net.arch_parameters()) == 4


def test_explicit_mix_equals_default_forward(net, gen):
    x = torch.rand(1, 3, 9, 11, generator=gen)
    torch.testing.assert_close(net(x, mix=net.mixing_weights()), net(x))


def test_genotype_is_argmax_with_first_maximum_winning():
    net = small()
    with torch.no_grad():
        for a in net.arch_parameters():
            a.zero_()
        net.arch["hnu2"][5, 7] = 1.0  # hnu2.rv1 -> denseblocks_1x1
        net.arch["enc"][0, 2] = 1.0  # enc.head -> conv_3x3
    g = net.genotype(name="t")
    assert g.layers["hnu2.rv1"] == HNU_PRIMITIVES[7] and g.layers["enc.head"] == FCM_PRIMITIVES[2]
    assert g.layers["hnu1.ru0"] == "skip_connect" and g.layers["dec.tail"] == "conv_5x5"  # ties
    assert g.probabilities["enc.head"][2] == max(g.probabilities["enc.head"])
    assert g.channels == 4 and g.num_hnu == 2


def test_onehot_mix_rows_and_depth_check(net):
    g = net.genotype()
    mix = net.onehot_mix(g)
    assert all(torch.equal(m.sum(-1), torch.ones(m.shape[0])) for m in mix.values())
    with pytest.raises(GenotypeError, match="7 HNUs but the supernet has 2"):
        net.onehot_mix(load_genotype("paper-lol"))


def test_bad_construction_arguments():
    with pytest.raises(ValueError, match="even number"):
        SuperNet(channels=5, num_hnu=1)
    with pytest.raises(ValueError, match="norm must be"):
        SuperNet(channels=4, num_hnu=1, norm="batch")


def test_functional_call_with_swapped_alpha_matches_explicit_mix(net, gen):
    """The search code swaps alpha through torch.func.functional_call; the forward must see it."""
    x = torch.rand(1, 3, 9, 7, generator=gen)
    new = {f"arch.{g}": torch.randn(a.shape, generator=gen) for g, a in net.arch.items()}
    out = torch.func.functional_call(net, new, (x,))
    mix = {k.split(".", 1)[1]: torch.softmax(v, -1) for k, v in new.items()}
    torch.testing.assert_close(out, net(x, mix=mix))
    assert not torch.allclose(out, net(x))


def test_global_space_supernet_derives_a_network_with_the_global_op(gen):
    from hadamard_restore.net.genotype import Genotype
    from hadamard_restore.net.network import HadamardNet, copy_supernet_weights

    sup = small(3, space="global")
    assert {g: tuple(a.shape) for g, a in sup.arch.items()} == {
        "enc": (9, 4),
        "hnu1": (8, 10),
        "hnu2": (8, 10),
        "dec": (9, 4),
    }
    with torch.no_grad():
        sup.arch["hnu1"][0, 9] = 1.0  # hnu1.ru0 -> globalres_1x1 (the last column)
        sup.arch["hnu2"][6, 9] = 1.0  # hnu2.rv2
    geno = Genotype.from_json(sup.genotype(name="g").to_json())  # derive -> JSON -> genotype
    assert geno.space == "global" and geno.primitives["hnu"] == [*HNU_PRIMITIVES, "globalres_1x1"]
    assert geno.layers["hnu1.ru0"] == geno.layers["hnu2.rv2"] == "globalres_1x1"
    assert len(geno.probabilities["hnu1.ru0"]) == 10 and len(geno.probabilities["enc.head"]) == 4
    net = copy_supernet_weights(sup, HadamardNet(geno, 4))  # built from the genotype alone
    assert net.space == "global" and type(net.hnus[0].ru[0]["globalres_1x1"]).__name__ == "GlobalRes"
    x = torch.rand(1, 3, 21, 19, generator=gen)
    with torch.no_grad():
        assert torch.equal(net(x), sup(x, mix=sup.onehot_mix(geno)))
    with pytest.raises(GenotypeError, match="genotype is from the 'paper' space but the supernet's is 'global'"):
        sup.onehot_mix(Genotype.from_dict({"layers": small().genotype().layers}))
    assert small().arch["hnu1"].shape == (8, 9) and small().genotype().space == "paper"  # the default is unchanged
