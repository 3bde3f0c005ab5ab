"""Building the networks from the net section of a run config."""

import torch

from hadamard_restore.config import NetConfig
from hadamard_restore.net.build import build_network, build_supernet


def test_build_supernet_honours_config_and_norm_override():
    cfg = NetConfig(channels=4, num_hnu=2, norm="instance")
    sup = build_supernet(cfg, norm="none")
    assert (sup.channels, sup.num_hnu, sup.norm) == (4, 2, "none")
    assert build_supernet(cfg).norm == "instance"


def test_build_network_takes_depth_from_genotype_and_width_from_config():
    cfg = NetConfig(channels=6, num_hnu=2, genotype="all-1rc")
    net = build_network(None, cfg, generator=torch.Generator().manual_seed(0))
    assert (net.channels, net.num_hnu, net.genotype.name) == (6, 7, "all-1rc")
    assert build_network("paper-uie", cfg).genotype.name == "paper-uie"
