"""net_info: parameters, MACs from torch's FLOP counter (closed form), peak memory; network_report()."""

import pytest
from torch import nn

from hadamard_restore.net.genotype import Genotype, load_genotype
from hadamard_restore.net.info import format_info, net_info, network_report, parse_size
from hadamard_restore.net.network import HadamardNet
from hadamard_restore.net.primitives import layer_labels


def test_single_conv_closed_form():
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=False)
    info = net_info(conv, (7, 9))
    assert info["parameters"] == 135 and info["arch_parameters"] == 0
    assert info["macs"] == 7 * 9 * 5 * 3 * 9 and info["flops"] == 2 * info["macs"]
    assert info["peak_activation_bytes"] == 4 * 5 * 7 * 9


@pytest.mark.parametrize("upsample", ["transpose", "resize"])
@pytest.mark.parametrize("c,n,size", [(8, 1, (37, 31)), (4, 2, (16, 20))])
def test_all_3c_macs_closed_form(c, n, size, upsample):
    geno = Genotype.from_dict({"num_hnu": n, "layers": {l: "conv_3x3" for l in layer_labels(n)}})
    h2 = c // 2
    p0 = (-(-size[0] // 4) * 4) * (-(-size[1] // 4) * 4)  # padded to multiples of 4
    p1, p2 = p0 // 4, p0 // 16
    macs = (
        9 * 3 * h2 * p0 * 2  # head, tail
        + 2 * 4 * 9 * h2 * h2 * p0
        + 2 * 4 * 9 * c * c * p1  # e1, d1 | e2, d2
        + 4 * h2 * c * p1  # down1
        + 4 * c * c * p2  # down2
        + n * 8 * 9 * c * c * p2  # HNUs
    )
    # up1 (C->C, to H/2) and up2 (C->C/2, to H): k2 s2 transposed, or bilinear (not counted) + 3x3
    macs += 4 * c * c * p2 + 4 * c * h2 * p1 if upsample == "transpose" else 9 * c * c * p1 + 9 * c * h2 * p0
    assert net_info(HadamardNet(geno, channels=c, upsample=upsample), size)["macs"] == macs


def test_meta_and_cpu_runs_agree():
    net = HadamardNet(load_genotype("paper-lol"), channels=4)
    assert net_info(net, (37, 31), device="meta") == net_info(net, (37, 31), device="cpu")
    assert next(net.parameters()).device.type == "cpu"  # the model itself is untouched


def test_describe_supernet_and_genotype():
    sup = network_report(None, (37, 31), channels=4, num_hnu=2)
    assert sup["arch_parameters"] == 72 + 72 * 2 and "supernet" in format_info(sup)
    lol = network_report(load_genotype("paper-lol"), (600, 400))
    assert lol["parameters"] == 527_840 and "527,840" in format_info(lol)
    assert sup["peak_activation_bytes"] > 0


def test_parse_size():
    assert parse_size("600x400") == (600, 400) and parse_size("37X31") == (37, 31)
    for bad in ("600", "0x4", "ax3", "3x4x5"):
        with pytest.raises(ValueError, match="HxW"):
            parse_size(bad)
