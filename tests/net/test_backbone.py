"""The decoder's up-samplers (net.upsample): the paper's k2 s2 transposed convolution stamps a
2x2 pattern on a flat input, the resize-conv does not, nor does the transposed convolution with
equal taps (ICNR) before training; all give the right shapes and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hadamard_restore.evaluation.appearance import grid_peak
from hadamard_restore.net.backbone import make_upsampler
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.net.network import HadamardNet


def _on_flat_input(kind: str, gen: torch.Generator):
    """A 4->3 channel up-sampler of ``kind`` applied to a spatially constant 5x6 map (every channel
    one random value): ``(up-sampler, channel values, output)``."""
    up = make_upsampler(kind, 4, 3)
    values = torch.rand(4, generator=gen)
    with torch.no_grad():
        out = up(values.view(1, 4, 1, 1).expand(1, 4, 5, 6).contiguous())
    assert out.shape == (1, 3, 10, 12)
    return up, values, out


def test_icnr_starts_as_nearest_neighbour_after_a_1x1_convolution(gen):
    """Closed form at initialisation, on any input: out = nearest x2 of (first tap as a 1x1 conv)."""
    up = make_upsampler("transpose-icnr", 4, 3)
    x = torch.rand(2, 4, 5, 6, generator=gen)
    with torch.no_grad():
        out = up(x)
        one_by_one = F.conv2d(x, up.weight[:, :, 0, 0].t()[:, :, None, None])
    torch.testing.assert_close(out, F.interpolate(one_by_one, scale_factor=2, mode="nearest"))


def test_icnr_draws_what_the_paper_s_up_sampler_draws(gen):
    """Same seed: every weight of the network equals the transposed-convolution network's, and the
    up-samplers' four taps are its first tap, so a comparison of the two differs in that alone."""
    nets = {
        kind: HadamardNet(
            load_genotype("all-3c"), channels=4, generator=torch.Generator().manual_seed(3), upsample=kind
        )
        for kind in ("transpose", "transpose-icnr")
    }
    a, b = (nets[k].state_dict() for k in ("transpose", "transpose-icnr"))
    assert a.keys() == b.keys()
    for key in a:
        if key.startswith(("up1.", "up2.")):
            torch.testing.assert_close(b[key], a[key][:, :, :1, :1].expand_as(a[key]), rtol=0, atol=0)
        else:
            assert torch.equal(a[key], b[key]), key


def test_transposed_convolution_stamps_its_kernel_on_a_flat_input(gen):
    up, values, out = _on_flat_input("transpose", gen)
    # closed form: every 2x2 output block is sum_c x_c * kernel[c, :, :, :], the same block everywhere
    block = torch.einsum("c,cokl->okl", values, up.weight)
    torch.testing.assert_close(out[0], block.repeat(1, 5, 6))
    checker = block[:, 0, 0] - block[:, 0, 1] - block[:, 1, 0] + block[:, 1, 1]
    assert checker.abs().max() > 1e-3  # a random kernel leaves a pixel-grid checkerboard


def test_resize_convolution_keeps_a_flat_input_flat_inside_the_border(gen):
    up, values, out = _on_flat_input("resize", gen)
    inner = out[0, :, 1:-1, 1:-1]
    # closed form: bilinear keeps a constant, the 3x3 convolution sums its taps
    expected = torch.einsum("c,ockl->o", values, up[1].weight)
    torch.testing.assert_close(inner, expected.view(3, 1, 1).expand_as(inner))


def test_a_network_with_resize_upsamplers_has_no_grid_peak_where_the_paper_s_has_one(gen):
    """Same genotype and seed, flat grey input: the transposed convolutions put energy at the
    pixel-grid Nyquist frequency (the checkerboard of issue 21); with resize-convs what is left
    comes from the zero-padded border's smooth gradients, over 100x less (measured with the
    appearance measure the model cards use, away from the border)."""
    x = torch.full((1, 3, 64, 64), 0.5)
    for seed in range(3):
        peaks = {}
        for kind in ("transpose", "transpose-icnr", "resize"):
            g = torch.Generator().manual_seed(seed)
            net = HadamardNet(load_genotype("all-3c"), channels=8, norm="none", generator=g, upsample=kind)
            with torch.no_grad():
                peaks[kind] = grid_peak(net(x)[0, :, 8:-8, 8:-8])
        assert peaks["resize"] < 1e-5 < 1e-4 < peaks["transpose"], peaks
        assert peaks["transpose-icnr"] < 1e-5, peaks


@pytest.mark.parametrize("kind", ["transpose", "transpose-icnr", "resize"])
def test_every_upsampler_trains(kind, gen):
    net = HadamardNet(load_genotype("paper-lol"), channels=4, upsample=kind)
    out = net(torch.rand(2, 3, 37, 31, generator=gen))
    assert out.shape == (2, 3, 37, 31)
    out.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    assert net.up1.__class__.__name__ == ("Sequential" if kind == "resize" else "ConvTranspose2d")


def test_unknown_upsampler_is_a_clear_error():
    with pytest.raises(
        ValueError, match="upsample must be one of transpose, transpose-icnr, resize, got 'pixelshuffle'"
    ):
        HadamardNet(load_genotype("all-1c"), channels=4, upsample="pixelshuffle")


def test_default_is_the_paper_s_and_initialisation_is_unchanged():
    """The default builds the paper's network with the same weights as before the setting existed."""
    a = HadamardNet(load_genotype("all-3c"), channels=4)
    b = HadamardNet(load_genotype("all-3c"), channels=4, upsample="transpose")
    assert a.upsample == "transpose"
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
