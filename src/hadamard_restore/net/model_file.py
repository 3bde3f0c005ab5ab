"""Model files: a trained HadamardNet with its genotype, loss weights and config.

A model file (``model.pt``) is a ``model`` checkpoint of
:mod:`hadamard_restore.runtime.checkpoint` (plain data, read with ``weights_only=True``)::

    {"format": "hadamard-restore/model", "version": 2,
     "meta": {"genotype": {...}, "loss_weights": {...},
              "net": {"channels": 32, "num_hnu": 7, "norm": "instance", "upsample": "transpose"},
              "config": "<resolved config YAML>", ...extra},
     "state_dict": {...}}

A training state (``last.pt``, :mod:`hadamard_restore.training.state`) carries the same
``meta`` and ``state_dict``, so it is a valid model file too. Every failure to read a file
(missing, truncated, not ours, holding pickled code, weights that do not fit the genotype)
raises :class:`~hadamard_restore.errors.CheckpointError` with a message that says what is
wrong and what to do.

Examples:
    >>> save_model("run/model.pt", net, genotype, loss_weights, cfg.net, dump_config(cfg))  # doctest: +SKIP
    >>> net, meta = load_model("run/model.pt", "cpu")                  # doctest: +SKIP
    >>> meta["genotype"]["head"]                                       # doctest: +SKIP
    'dilconv_3x3'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from hadamard_restore.errors import CheckpointError
from hadamard_restore.net.genotype import Genotype
from hadamard_restore.net.meta_checks import NET_KEYS, checked_net_settings
from hadamard_restore.net.network import HadamardNet
from hadamard_restore.runtime.checkpoint import PREFIX, load_checkpoint, save_checkpoint

if TYPE_CHECKING:
    from hadamard_restore.config import NetConfig
    from hadamard_restore.losses.loss_weights import LossWeights
    from hadamard_restore.net.genotype import Genotype

MODEL_FORMAT = PREFIX + "model"


# --------------------------------------------------------------------------- conversions
def genotype_to_dict(genotype: Genotype) -> dict:
    """A genotype as the JSON dict genotype.json holds."""
    return json.loads(genotype.to_json())


def genotype_from_dict(data: Mapping) -> Genotype:
    """Rebuild a validated ``net.genotype.Genotype`` from the dict stored in a checkpoint."""
    return Genotype.from_dict(dict(data), "the checkpoint's genotype")


def loss_weights_to_dict(loss_weights: LossWeights | Mapping[str, Any] | None) -> dict:
    """Loss weights as the plain loss_weights.json dict; a mapping is that dict already (a stored
    ``meta["loss_weights"]``), ``None`` gives ``{}``."""
    if loss_weights is None:
        return {}
    if isinstance(loss_weights, Mapping):
        return json.loads(json.dumps(dict(loss_weights)))
    return json.loads(json.dumps(loss_weights.to_dict()))


def net_settings(net: NetConfig | None = None, model: nn.Module | None = None) -> dict:
    """``{"channels", "num_hnu", "norm", "upsample"}`` from the ``net`` config section (or the model's
    attributes). A file without ``upsample`` predates the setting and holds the paper's transposed
    convolutions, which is what :class:`HadamardNet` builds when it is absent."""
    source = net if net is not None else model  # the config section's values are validated int / str
    return {key: getattr(source, key) for key in NET_KEYS if source is not None and hasattr(source, key)}


def make_meta(
    genotype: Genotype,
    loss_weights: LossWeights | Mapping[str, Any] | None,
    net: NetConfig | None = None,
    config_yaml: str = "",
    model: nn.Module | None = None,
    **extra: Any,
) -> dict:
    """The ``meta`` block every file carries (all JSON-compatible values).

    ``config_yaml`` (the run's resolved config, as ``config.dump_config`` writes it; empty when
    there is none) is stored whole for provenance; the network settings come from the ``net``
    section, or from the model's attributes when it is ``None``.
    """
    meta = {
        "genotype": genotype_to_dict(genotype),
        "loss_weights": loss_weights_to_dict(loss_weights),
        "net": net_settings(net, model),
        "config": config_yaml,
    }
    meta.update(json.loads(json.dumps(extra)))
    return meta


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module inside DDP / torch.compile wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state_dict as contiguous CPU tensors (device- and layout-independent)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in unwrap_model(model).state_dict().items()}


# --------------------------------------------------------------------------- writing
def save_model(
    path: str | Path,
    model: nn.Module,
    genotype: Genotype,
    loss_weights: LossWeights | Mapping[str, Any] | None,
    net: NetConfig | None = None,
    config_yaml: str = "",
    **extra: Any,
) -> Path:
    """Write a model file atomically.

    Args:
        path: destination, usually ``<run_dir>/model.pt``.
        model: the derived network (DDP/compiled wrappers are unwrapped).
        genotype: its genotype.
        loss_weights: the loss weights it was trained with (or their stored dict).
        net: the ``net`` config section (else the settings are read from the model).
        config_yaml: the run's resolved config as YAML text (stored for provenance), or "".
        **extra: JSON-compatible facts to store in ``meta`` (e.g. ``step``, ``val_psnr``).

    Returns:
        The path written.
    """
    return save_model_meta(path, model, make_meta(genotype, loss_weights, net, config_yaml, model, **extra))


def save_model_meta(path: str | Path, model: nn.Module, meta: dict, **extra: Any) -> Path:
    """Write a model file from a ready ``meta`` block (see :func:`make_meta`) plus extras."""
    meta = {**meta, **json.loads(json.dumps(extra))}
    return save_checkpoint(path, "model", {"meta": meta, "state_dict": cpu_state_dict(model)})


# --------------------------------------------------------------------------- reading
def read_model_file(path: str | Path) -> dict:
    """Load and validate a model file or training state (``weights_only=True``).

    Raises:
        CheckpointError: the file is missing, truncated, not a model file or training state,
            or holds objects other than plain data (refused: loading them could run code).
    """
    blob = load_checkpoint(path, ("model", "training"))
    for key in ("meta", "state_dict"):
        if not isinstance(blob.get(key), dict):
            raise CheckpointError(f"{path} lacks its {key!r} block; the file is damaged")
    return blob


def load_state_into(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Copy ``state_dict`` into ``model``; any key or shape mismatch is a CheckpointError.

    The message lists missing and unexpected keys and shape mismatches (a few of each),
    which is what a checkpoint trained with another genotype, width or HNU count looks like.
    """
    target = unwrap_model(model).state_dict()
    missing = [k for k in target if k not in state_dict]
    unexpected = [k for k in state_dict if k not in target]
    shapes = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
        for k, v in target.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    found = (("missing keys", missing, ", "), ("unexpected keys", unexpected, ", "), ("shape mismatches", shapes, "; "))
    parts = [f"{len(items)} {what} (e.g. {sep.join(items[:3])})" for what, items, sep in found if items]
    if parts:
        raise CheckpointError(
            f"{source} does not fit this network: {'; '.join(parts)}. It was trained with a different "
            "genotype or net settings (channels, num_hnu); build the model from the checkpoint's own "
            "genotype with load_model(), or pass the matching --genotype"
        )
    unwrap_model(model).load_state_dict(dict(state_dict), strict=True)


def network_from_meta(meta: Mapping) -> nn.Module:
    """The derived network described by a checkpoint's ``meta`` (fresh weights)."""
    try:
        genotype = genotype_from_dict(meta["genotype"])
    except Exception as exc:
        raise CheckpointError(
            f"the checkpoint's genotype is invalid ({exc}); the file is damaged or from an incompatible version"
        ) from None
    return HadamardNet(genotype, **checked_net_settings(meta.get("net")))


def load_model(
    path: str | Path, device: str | torch.device = "cpu", genotype: Genotype | None = None
) -> tuple[nn.Module, dict]:
    """Build the derived network from a model file (or training state) and load its weights.

    Args:
        path: a ``model.pt`` or ``last.pt``.
        device: where to put the model.
        genotype: optional genotype to build instead of the stored one (a mismatch with the
            stored weights then raises CheckpointError).

    Returns:
        ``(model, meta)``: the model in eval mode on ``device``; ``meta`` holds ``genotype``,
        ``loss_weights``, ``net``, ``config`` (YAML) and any extras saved with it.
    """
    blob = read_model_file(path)
    meta = dict(blob["meta"])
    if genotype is not None:
        meta_build = dict(meta, genotype=genotype_to_dict(genotype))
    else:
        meta_build = meta
    model = network_from_meta(meta_build)
    load_state_into(model, blob["state_dict"], source=f"checkpoint {path}")
    return model.to(device).eval(), meta
