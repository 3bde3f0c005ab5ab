"""Building the networks from the net section of a run config."""

import pytest
import torch

from hadamard_restore.config import NetConfig
from hadamard_restore.errors import GenotypeError
from hadamard_restore.net.build import build_network, build_supernet
from hadamard_restore.net.genotype import load_genotype


def test_build_supernet_honours_config_and_norm_override():
    cfg = NetConfig(channels=4, num_hnu=2, norm="instance")
    sup = build_supernet(cfg, norm="none")
    assert (sup.channels, sup.num_hnu, sup.norm) == (4, 2, "none")
    assert build_supernet(cfg).norm == "instance"
    assert build_supernet(cfg).upsample == "transpose"
    assert build_supernet(cfg.model_copy(update={"upsample": "resize"})).upsample == "resize"


def test_net_upsample_reaches_the_network_and_bad_values_are_refused():
    from pydantic import ValidationError

    cfg = NetConfig(channels=4, genotype="all-3c", upsample="resize")
    net = build_network(load_genotype("all-3c"), cfg, seed=0)
    assert net.upsample == "resize" and isinstance(net.up2[1], torch.nn.Conv2d)
    with pytest.raises(ValidationError, match="'transpose', 'transpose-icnr' or 'resize'"):
        NetConfig(upsample="nearest")


def test_build_network_takes_width_and_depth_from_config_and_weights_from_seed():
    cfg = NetConfig(channels=6, num_hnu=7, genotype="all-1rc")
    geno = load_genotype(cfg.genotype)
    net = build_network(geno, cfg, seed=0)
    assert (net.channels, net.num_hnu, net.genotype.name) == (6, 7, "all-1rc")
    assert build_network(load_genotype("paper-uie"), cfg, seed=0).genotype.name == "paper-uie"
    same, other = build_network(geno, cfg, seed=0), build_network(geno, cfg, seed=1)
    sd, sd_same, sd_other = net.state_dict(), same.state_dict(), other.state_dict()
    assert all(torch.equal(sd[k], sd_same[k]) for k in sd)
    assert not all(torch.equal(sd[k], sd_other[k]) for k in sd if sd[k].is_floating_point())
    with pytest.raises(GenotypeError, match="describes 7 HNUs but num_hnu=2"):
        build_network(geno, NetConfig(channels=6, num_hnu=2, genotype="all-1rc"), seed=0)
