"""The searchable Hadamard network (docs/method.md sections 1, 2 and 8).

- :mod:`~hadamard_restore.net.primitives`: the ordered candidate sets and layer labels;
  :mod:`~hadamard_restore.net.ops`: ``OPS[name](c_in, c_out)``.
- :mod:`~hadamard_restore.net.mixed`: mixed op (supernet) / chosen op (derived net).
- :mod:`~hadamard_restore.net.hnu`, :mod:`~hadamard_restore.net.fcm`,
  :mod:`~hadamard_restore.net.backbone`: the layout shared by both networks.
- :class:`SuperNet` (alpha as ``nn.Parameter``), :class:`HadamardNet` (from a genotype),
  :class:`Genotype` / :func:`load_genotype` (JSON, bundled ``paper-*`` and ``all-*``).
- :class:`UNet`: the small U-Net of the loss-search ablation.
- :func:`net_info`: parameters, MACs, peak activation memory.
"""

from hadamard_restore.net.build import build_network, build_supernet
from hadamard_restore.net.genotype import Genotype, bundled_genotypes, derive_genotype, load_genotype
from hadamard_restore.net.info import net_info, network_report
from hadamard_restore.net.network import HadamardNet, copy_supernet_weights
from hadamard_restore.net.primitives import FCM_PRIMITIVES, HNU_PRIMITIVES, layer_labels
from hadamard_restore.net.supernet import SuperNet
from hadamard_restore.net.unet import UNet

__all__ = [
    "FCM_PRIMITIVES",
    "HNU_PRIMITIVES",
    "Genotype",
    "HadamardNet",
    "SuperNet",
    "UNet",
    "build_network",
    "build_supernet",
    "bundled_genotypes",
    "copy_supernet_weights",
    "derive_genotype",
    "layer_labels",
    "load_genotype",
    "net_info",
    "network_report",
]
