"""Model files and full-state training checkpoints, loadable without running code.

Two kinds of file, both plain ``torch.save`` dictionaries of tensors, numbers, strings,
lists and dicts, so :func:`torch.load` with ``weights_only=True`` reads them and a
checkpoint can never execute code:

* **model file** (``model.pt``, written by :func:`save_model`)::

      {"format": "hadamard-restore/model", "version": 1,
       "meta": {"genotype": {...}, "loss_weights": {...},
                "net": {"channels": 32, "num_hnu": 7, "norm": "instance"},
                "config": "<resolved config YAML>", ...extra},
       "state_dict": {...}}

* **training state** (``last.pt``, written by :func:`save_training_state`): the same
  ``meta`` and ``state_dict`` plus ``"training": {optimizer, scheduler, scaler, step,
  rng, best_val_psnr, ...}`` and ``"format": "hadamard-restore/training"``. A training
  state is also a valid model file for :func:`load_model`.

Everything is written atomically (``artifacts.atomic_torch_save``). Every failure to read a
file (missing, truncated, not ours, holding pickled code, weights that do not fit the
genotype) raises :class:`~hadamard_restore.errors.CheckpointError` with a message that says
what is wrong and what to do.

Examples:
    >>> save_model("run/model.pt", net, genotype, loss_weights, cfg)   # doctest: +SKIP
    >>> net, meta = load_model("run/model.pt", "cpu")                  # doctest: +SKIP
    >>> meta["genotype"]["head"]                                       # doctest: +SKIP
    'dilconv_3x3'
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from hadamard_restore.artifacts import atomic_torch_save
from hadamard_restore.errors import CheckpointError

MODEL_FORMAT = "hadamard-restore/model"
TRAINING_FORMAT = "hadamard-restore/training"
VERSION = 1


# --------------------------------------------------------------------------- conversions
def genotype_to_dict(genotype: Any) -> dict:
    """A genotype (``Genotype``, bundled name, genotype.json path or dict) as a validated JSON dict."""
    from hadamard_restore.net.genotype import Genotype, load_genotype

    if isinstance(genotype, Mapping):
        genotype = Genotype.from_dict(dict(genotype))
    elif not isinstance(genotype, Genotype):
        genotype = load_genotype(genotype)
    return json.loads(genotype.to_json())


def genotype_from_dict(data: Mapping) -> Any:
    """Rebuild a validated ``net.genotype.Genotype`` from the dict stored in a checkpoint."""
    from hadamard_restore.net.genotype import Genotype

    return Genotype.from_dict(dict(data), "the checkpoint's genotype")


def loss_weights_to_dict(loss_weights: Any) -> dict:
    """Loss weights (``LossMix``, ``LossWeights`` or a dict) as the plain loss_weights.json dict."""
    if loss_weights is None:
        return {}
    if isinstance(loss_weights, Mapping):
        return json.loads(json.dumps(dict(loss_weights)))
    to_weights = getattr(loss_weights, "to_weights", None)  # a LossMix
    if callable(to_weights):
        loss_weights = to_weights()
    fn = getattr(loss_weights, "to_dict", None)
    if callable(fn):
        return json.loads(json.dumps(fn()))
    raise TypeError(f"cannot turn {type(loss_weights).__name__} into a loss-weights dict")


def net_config(cfg: Any = None, model: nn.Module | None = None) -> dict:
    """``{"channels", "num_hnu", "norm"}`` from a RunConfig (or the model's attributes)."""
    if cfg is not None and hasattr(cfg, "net"):
        return {"channels": int(cfg.net.channels), "num_hnu": int(cfg.net.num_hnu), "norm": str(cfg.net.norm)}
    out = {}
    for key in ("channels", "num_hnu", "norm"):
        if model is not None and hasattr(model, key):
            out[key] = getattr(model, key)
    return out


def _config_yaml(cfg: Any) -> str:
    if cfg is None:
        return ""
    if isinstance(cfg, str):
        return cfg
    from hadamard_restore.config import dump_config

    return dump_config(cfg)


def make_meta(genotype: Any, loss_weights: Any, cfg: Any = None, model: nn.Module | None = None,
              **extra: Any) -> dict:
    """The ``meta`` block every file carries (all JSON-compatible values)."""
    meta = {
        "genotype": genotype_to_dict(genotype),
        "loss_weights": loss_weights_to_dict(loss_weights),
        "net": net_config(cfg, model),
        "config": _config_yaml(cfg),
    }
    meta.update(json.loads(json.dumps(extra)))
    return meta


def _unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside DDP / torch.compile wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state_dict as contiguous CPU tensors (device- and layout-independent)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in _unwrap(model).state_dict().items()}


# --------------------------------------------------------------------------- writing
def save_model(path: str | Path, model: nn.Module, genotype: Any, loss_weights: Any, cfg: Any = None,
               **extra: Any) -> Path:
    """Write a model file atomically.

    Args:
        path: destination, usually ``<run_dir>/model.pt``.
        model: the derived network (DDP/compiled wrappers are unwrapped).
        genotype: its genotype (``Genotype`` or dict).
        loss_weights: the loss weights it was trained with (``LossMix`` or dict).
        cfg: the resolved ``RunConfig`` (stored as YAML) or ``None``.
        **extra: JSON-compatible facts to store in ``meta`` (e.g. ``step``, ``val_psnr``).

    Returns:
        The path written.
    """
    return save_model_meta(path, model, make_meta(genotype, loss_weights, cfg, model, **extra))


def save_model_meta(path: str | Path, model: nn.Module, meta: dict, **extra: Any) -> Path:
    """Write a model file from a ready ``meta`` block (see :func:`make_meta`) plus extras."""
    meta = {**meta, **json.loads(json.dumps(extra))}
    blob = {"format": MODEL_FORMAT, "version": VERSION, "meta": meta, "state_dict": cpu_state_dict(model)}
    return atomic_torch_save(blob, path)


def save_training_state(path: str | Path, model: nn.Module, meta: dict, training: dict) -> Path:
    """Write a full training state atomically (a valid model file too).

    Args:
        path: destination, usually ``<run_dir>/last.pt``.
        model: the network being trained.
        meta: the block from :func:`make_meta`.
        training: optimizer/scheduler/scaler state dicts, ``step``, RNG states (tensors),
            ``best_val_psnr`` and anything else the loop needs to resume; only tensors,
            numbers, strings, lists, tuples and dicts.
    """
    blob = {"format": TRAINING_FORMAT, "version": VERSION, "meta": meta,
            "state_dict": cpu_state_dict(model), "training": training}
    return atomic_torch_save(blob, path)


# --------------------------------------------------------------------------- reading
def read_checkpoint(path: str | Path) -> dict:
    """Load and validate a checkpoint file with ``torch.load(weights_only=True)``.

    Raises:
        CheckpointError: the file is missing, truncated, not a hadamard-restore checkpoint,
            or holds objects other than plain data (refused: loading them could run code).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass the model.pt (or last.pt) "
                              "written by `hadamard-restore train`")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"checkpoint {path} holds objects other than tensors and plain data, and is refused "
            f"because loading it could run code ({first[:200]}); re-save it with "
            "hadamard_restore.pipeline.checkpoint.save_model") from None
    except Exception as exc:  # truncated zip, bad magic number, EOF ...
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {str(exc)[:160]}); the file "
            f"is truncated or corrupt ({path.stat().st_size} bytes): use another checkpoint "
            "(last.pt / model.pt) or re-run training") from None
    fmt = blob.get("format") if isinstance(blob, dict) else None
    if fmt not in (MODEL_FORMAT, TRAINING_FORMAT):
        raise CheckpointError(
            f"{path} is not a hadamard-restore checkpoint (format {fmt!r}); it must be a model.pt "
            "or last.pt written by `hadamard-restore train`")
    if blob.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} has checkpoint version {blob['version']}, newer than this "
                              f"hadamard-restore understands ({VERSION}); upgrade the package")
    for key in ("meta", "state_dict"):
        if not isinstance(blob.get(key), dict):
            raise CheckpointError(f"{path} lacks its {key!r} block; the file is damaged")
    return blob


def load_state_into(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Copy ``state_dict`` into ``model``; any key or shape mismatch is a CheckpointError.

    The message lists missing and unexpected keys and shape mismatches (a few of each),
    which is what a checkpoint trained with another genotype, width or HNU count looks like.
    """
    target = _unwrap(model).state_dict()
    missing = [k for k in target if k not in state_dict]
    unexpected = [k for k in state_dict if k not in target]
    shapes = [f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
              for k, v in target.items() if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches (e.g. {'; '.join(shapes[:3])})")
        raise CheckpointError(
            f"{source} does not fit this network: {'; '.join(parts)}. It was trained with a different "
            "genotype or net settings (channels, num_hnu); build the model from the checkpoint's own "
            "genotype with load_model(), or pass the matching --genotype")
    _unwrap(model).load_state_dict(dict(state_dict), strict=True)


def build_model(meta: Mapping) -> nn.Module:
    """The derived network described by a checkpoint's ``meta`` (fresh weights)."""
    from hadamard_restore.net.network import HadamardNet

    try:
        genotype = genotype_from_dict(meta["genotype"])
    except Exception as exc:
        raise CheckpointError(f"the checkpoint's genotype is invalid ({exc}); the file is damaged "
                              "or from an incompatible version") from None
    net = dict(meta.get("net") or {})
    return HadamardNet(genotype, **{k: net[k] for k in ("channels", "num_hnu", "norm") if k in net})


def load_model(path: str | Path, device: str | torch.device = "cpu",
               genotype: Any = None) -> tuple[nn.Module, dict]:
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
    blob = read_checkpoint(path)
    meta = dict(blob["meta"])
    if genotype is not None:
        meta_build = dict(meta, genotype=genotype_to_dict(genotype))
    else:
        meta_build = meta
    model = build_model(meta_build)
    load_state_into(model, blob["state_dict"], source=f"checkpoint {path}")
    return model.to(device).eval(), meta


def load_training_state(path: str | Path) -> dict:
    """Read a full training state (``last.pt``); a plain model file is an error here."""
    blob = read_checkpoint(path)
    if blob["format"] != TRAINING_FORMAT or not isinstance(blob.get("training"), dict):
        raise CheckpointError(f"{path} is a model file, not a training state; --resume needs the "
                              "last.pt of the run directory")
    return blob
