"""Derived network: equals the one-hot supernet, gradients, sizes, parameter counts (docs/method.md 1.5)."""

import pytest
import torch

from hadamard_restore.errors import GenotypeError
from hadamard_restore.net.genotype import Genotype, bundled_genotypes, load_genotype
from hadamard_restore.net.network import HadamardNet, copy_supernet_weights
from hadamard_restore.net.primitives import label_primitives, layer_labels
from hadamard_restore.net.supernet import SuperNet


def cycling_genotype(num_hnu: int, shift: int = 0) -> Genotype:
    """Every candidate of every set appears (layer i takes candidate (i + shift) mod K)."""
    layers = {
        l: label_primitives(l)[(i + shift) % len(label_primitives(l))] for i, l in enumerate(layer_labels(num_hnu))
    }
    return Genotype.from_dict({"num_hnu": num_hnu, "layers": layers})


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("norm", ["instance", "none"])
def test_derived_equals_one_hot_supernet_with_copied_weights(norm, gen):
    sup = SuperNet(4, 2, norm, generator=torch.Generator().manual_seed(7))
    x = torch.rand(1, 3, 37, 31, generator=gen)
    for shift in (0, 4):
        geno = cycling_genotype(2, shift)
        net = copy_supernet_weights(sup, HadamardNet(geno, 4, norm=norm))
        with torch.no_grad():
            out = net(x)
            assert torch.equal(out, sup(x, mix=sup.onehot_mix(geno)))  # exact one-hot weights
            for g, a in sup.arch.items():  # huge logits: softmax one-hot
                a.copy_(1e4 * sup.onehot_mix(geno)[g])
            torch.testing.assert_close(sup(x), out, rtol=1e-6, atol=1e-6)
            assert sup.genotype().layers == geno.layers


def test_every_weight_gets_a_finite_gradient(gen):
    net = HadamardNet(cycling_genotype(2, 1), channels=4)
    out = net(torch.rand(1, 3, 37, 31, generator=gen))
    assert out.shape == (1, 3, 37, 31)
    out.square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_same_module_names_as_the_supernet():
    sup, net = SuperNet(4, 1), HadamardNet(cycling_genotype(1), 4)
    assert net.layer_labels() == sup.layer_labels()
    assert set(net.state_dict()) <= set(sup.state_dict())


@pytest.mark.parametrize("name", ["paper-lol", "all-3c"])
def test_bundled_networks_run_at_odd_sizes(name, gen):
    net = HadamardNet(load_genotype(name), channels=4)
    for size in [(37, 31), (6, 3)]:
        assert net(torch.rand(1, 3, *size, generator=gen)).shape == (1, 3, *size)


def test_parameter_counts_of_the_reference_genotypes():
    counts = {name: n_params(HadamardNet(load_genotype(name))) for name in bundled_genotypes()}
    assert counts["paper-lol"] == 527_840
    assert counts["all-3c"] == counts["all-3rc"] == 621_408
    # docs/method.md 1.5: MIT 0.454 M, UIE 0.432 M, SIHR 0.521 M, all-1x1 0.080 M
    assert {k: round(counts[k] / 1e6, 3) for k in ("paper-mit", "paper-uie", "paper-sihr", "all-1c", "all-1rc")} == {
        "paper-mit": 0.454,
        "paper-uie": 0.432,
        "paper-sihr": 0.521,
        "all-1c": 0.080,
        "all-1rc": 0.080,
    }


@pytest.mark.parametrize("c,n", [(8, 1), (6, 3)])
def test_all_3c_parameter_count_closed_form(c, n):
    h = c // 2
    fixed = 2 * 4 * h * c + 2 * 4 * c * c  # down1, up2 | down2, up1 (k=2)
    fcm = 2 * 9 * 3 * h + 2 * 4 * 9 * h * h + 2 * 4 * 9 * c * c  # head+tail, e1+d1, e2+d2
    assert (
        n_params(
            HadamardNet(
                Genotype.from_dict({"num_hnu": n, "layers": {l: "conv_3x3" for l in layer_labels(n)}}), channels=c
            )
        )
        == fixed + fcm + n * 8 * 9 * c * c
    )


def test_depth_mismatch_and_size_mismatch_are_errors():
    with pytest.raises(GenotypeError, match="describes 7 HNUs but num_hnu=2"):
        HadamardNet(load_genotype("paper-lol"), channels=4, num_hnu=2)
    with pytest.raises(ValueError, match="differ in size"):
        copy_supernet_weights(SuperNet(4, 1), HadamardNet(cycling_genotype(1), 6))


def test_bfloat16_autocast_forward_backward_finite(gen):
    net = HadamardNet(load_genotype("paper-lol"), channels=4)
    x = torch.rand(1, 3, 37, 31, generator=gen)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
    assert torch.isfinite(out).all()
    out.float().mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


@pytest.mark.slow
def test_paper_lol_600x400_bfloat16_forward_backward_finite(gen):
    """Acceptance: the full-size derived LOL network on a LOL-sized image under bf16 autocast."""
    net = HadamardNet(load_genotype("paper-lol"))
    x = torch.rand(1, 3, 400, 600, generator=gen)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    out.float().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
