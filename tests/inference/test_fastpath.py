"""The inference fast path: the chosen backend matches eager within the tolerance, the choice is
cached (a second call does not time again), a backend that fails parity is never chosen, and
tiles that replay whole-image statistics never run on a backend that cannot replay them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.config import EnhanceConfig
from hadamard_restore.data.io import read_image, write_image
from hadamard_restore.errors import HadamardRestoreError
from hadamard_restore.inference.enhance import enhance_tensor
from hadamard_restore.inference.fastpath import backends, choice
from hadamard_restore.inference.fastpath.backends import default_threads
from hadamard_restore.inference.fastpath.cache import cache_path
from hadamard_restore.inference.fastpath.choice import BackendParityError
from hadamard_restore.inference.fastpath.precision import REDUCED_TOLERANCE, TOLERANCE, tolerance_for
from hadamard_restore.inference.fastpath.runner import runner_for
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.net.model_file import save_model
from hadamard_restore.net.network import HadamardNet
from hadamard_restore.runtime.precision import native_bf16

pytestmark = pytest.mark.usefixtures("fastpath_cache")


@pytest.fixture(scope="module")
def net():
    return HadamardNet(load_genotype("all-1c"), channels=4, generator=torch.Generator().manual_seed(2)).eval()


def _image(h=36, w=44, seed=0):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _eager(net, x):
    with torch.inference_mode():
        return net(x)


def test_timed_matches_eager_and_the_choice_is_cached(net, monkeypatch):
    x = _image()
    runner = runner_for(net, x, "cpu", "timed", threads=1)
    with torch.inference_mode():
        got = runner(x)
    entries = json.loads(cache_path().read_text())["entries"]
    ((key, entry),) = entries.items()
    assert (got - _eager(net, x)).abs().max() <= entry["tolerance"][entry["backend"]]
    assert "px<=2048" in key and "1 threads" in key and "precision auto" in key  # 36 x 44 = 1584 pixels
    bf16 = {"bf16"} if native_bf16("cpu") else set()
    assert set(entry["parity"]) == {"eager", "channels-last", "onnx"} | bf16  # every CPU candidate checked once
    full = {k: d for k, d in entry["parity"].items() if k != "bf16"}
    assert all(d <= TOLERANCE for d in full.values()) and entry["backend"] in entry["times_s"]
    assert entry["chosen_by"] == "timing" and entry["tolerance"] == {k: tolerance_for(k) for k in entry["parity"]}
    # this random network amplifies bf16 rounding far beyond the reduced tolerance: checked, never chosen
    if bf16:
        assert entry["parity"]["bf16"] > REDUCED_TOLERANCE and "bf16" in entry["rejected"]
    # a new process (no remembered runners) reuses the cached choice: nothing is timed or checked again
    choice.forget()
    real_choose, calls = choice.choose, []
    monkeypatch.setattr(choice, "choose", lambda *a, **k: calls.append(a) or real_choose(*a, **k))
    monkeypatch.setattr(choice, "quick", lambda *a, **k: calls.append(a) or pytest.fail("checked again"))
    for backend in ("timed", "auto"):  # auto uses a timed choice too
        again = runner_for(net, _image(seed=1), "cpu", backend, threads=1)  # same size class
        assert calls == [] and (again is net if entry["backend"] == "eager" else again is not net)
    # another size class is a new entry, timed once
    runner_for(net, _image(70, 50), "cpu", "timed", threads=1)
    assert len(calls) == 1 and len(json.loads(cache_path().read_text())["entries"]) == 2


class _FastButWrong(torch.nn.Module):
    def forward(self, x):
        return torch.zeros_like(x)  # far faster than the network, and wrong


def test_a_backend_failing_parity_is_never_chosen(net, monkeypatch):
    real = backends.build
    monkeypatch.setattr(
        choice, "build", lambda name, *a: _FastButWrong() if name == "channels-last" else real(name, *a)
    )
    x = _image()
    runner = runner_for(net, x, "cpu", "timed", threads=1)
    assert not isinstance(runner, _FastButWrong)
    (entry,) = json.loads(cache_path().read_text())["entries"].values()
    assert entry["backend"] != "channels-last" and "tolerance" in entry["rejected"]["channels-last"]
    assert "channels-last" not in entry["times_s"]
    with pytest.raises(BackendParityError, match="differs from eager"):
        runner_for(net, x, "cpu", "channels-last", threads=1)


def test_named_backends_match_eager(net):
    x = _image(33, 47)
    resize = HadamardNet(load_genotype("all-1c"), channels=4, upsample="resize").eval()  # bilinear: ONNX Resize
    for model in (net, resize):
        for backend in ("eager", "channels-last", "onnx"):
            with torch.inference_mode():
                got = runner_for(model, x, "cpu", backend, threads=1)(x)
            assert (got - _eager(model, x)).abs().max() <= TOLERANCE, (backend, model.upsample)
    with pytest.raises(HadamardRestoreError, match="unknown backend"):
        runner_for(net, x, "cpu", "tensorrt")


def test_tiles_replaying_whole_image_statistics_never_run_on_onnx(net, monkeypatch):
    cfg = EnhanceConfig(tile=32, overlap=8, max_untiled_pixels=32 * 32, norm_stats="global")
    img = _image(60, 70)[0]
    seen = []
    real, pref = backends.candidates, backends.preferred
    monkeypatch.setattr(choice, "candidates", lambda dev, replay, *a: seen.append(replay) or real(dev, replay, *a))
    monkeypatch.setattr(choice, "preferred", lambda dev, replay, *a: seen.append(replay) or pref(dev, replay, *a))
    got = enhance_tensor(net, img, cfg)
    assert seen and set(seen) == {True} and "onnx" not in real(torch.device("cpu"), True)
    # bf16 may replay statistics (a PyTorch module), but this random network fails its parity
    (entry,) = json.loads(cache_path().read_text())["entries"].values()
    assert entry["backend"] in ("eager", "channels-last")
    choice.forget()
    seen.clear()
    enhance_tensor(net, img, cfg.model_copy(update={"backend": "timed"}))  # timing replays too
    assert seen and set(seen) == {True}
    (entry,) = json.loads(cache_path().read_text())["entries"].values()
    assert "onnx" not in entry["parity"] and "times_s" in entry
    want = enhance_tensor(net, img, cfg.model_copy(update={"backend": "eager"}))
    # parity is checked on the first tile (1e-3); replayed statistics of this random 4-channel network
    # amplify float rounding a little across the whole tiled image
    assert (got - want).abs().max() <= 3 * TOLERANCE
    with pytest.raises(HadamardRestoreError, match="cannot replay"):
        enhance_tensor(net, img, cfg.model_copy(update={"backend": "onnx"}))
    # per-tile statistics need no replay: onnx may run the tiles
    tile_cfg = cfg.model_copy(update={"backend": "onnx", "norm_stats": "tile"})
    eager_tiles = enhance_tensor(net, img, tile_cfg.model_copy(update={"backend": "eager"}))
    assert (enhance_tensor(net, img, tile_cfg) - eager_tiles).abs().max() <= TOLERANCE


def test_default_threads_respects_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    import os

    assert 1 <= default_threads() <= (os.cpu_count() or 1)


def test_enhance_cli_backend_and_threads(tmp_path, net):
    model_file = save_model(tmp_path / "model.pt", net, net.genotype, {"l1": 1.0}, None)
    write_image(tmp_path / "in" / "a.png", _image(40, 52)[0])
    threads = torch.get_num_threads()
    outs = {}
    try:
        for backend in ("eager", "onnx"):
            res = CliRunner().invoke(
                app,
                [
                    "enhance",
                    str(model_file),
                    str(tmp_path / "in"),
                    "--out",
                    str(tmp_path / backend),
                    "--backend",
                    backend,
                    "--threads",
                    "1",
                ],
            )
            assert res.exit_code == 0, res.output
            outs[backend] = read_image(tmp_path / backend / "a.png")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    assert (outs["onnx"] - outs["eager"]).abs().max() <= 1 / 255 + 1e-6  # at most one 8-bit level
    res = CliRunner().invoke(
        app, ["enhance", str(model_file), str(tmp_path / "in"), "--out", str(tmp_path / "x"), "--backend", "fastest"]
    )
    assert res.exit_code != 0 and "backend" in res.output
    assert np.isfinite(outs["onnx"].numpy()).all()


def test_enhance_cli_precision(tmp_path, net, fastpath_cache):
    model_file = save_model(tmp_path / "model.pt", net, net.genotype, {"l1": 1.0}, None)
    write_image(tmp_path / "in" / "a.png", _image(40, 52)[0])
    base = ["enhance", str(model_file), str(tmp_path / "in"), "--threads", "1"]
    threads = torch.get_num_threads()
    try:
        res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "fp32"), "--precision", "fp32"])
        assert res.exit_code == 0, res.output
        ((key, entry),) = json.loads(fastpath_cache.read_text())["entries"].items()
        assert "|precision fp32|" in key and "bf16" not in entry["parity"]  # one image: untimed, full precision
        assert entry["backend"] == backends.preferred(torch.device("cpu"), False, "fp32") and "times_s" not in entry
        res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "bad"), "--precision", "fp16"])
        assert res.exit_code != 0 and "precision" in res.output and "fp32" in res.output  # names the choices
        assert "Traceback" not in res.output
        res = CliRunner().invoke(
            app, [*base, "--out", str(tmp_path / "both"), "--precision", "fp32", "--backend", "bf16"]
        )
        assert res.exit_code != 0 and "precision fp32 rules out" in res.output
    finally:
        torch.set_num_threads(threads)


def test_a_repeated_call_reads_no_file_and_hashes_no_weight_until_a_weight_changes(monkeypatch):
    import hashlib

    from hadamard_restore.inference.fastpath import runner

    net = HadamardNet(load_genotype("all-1c"), channels=4, generator=torch.Generator().manual_seed(4)).eval()
    x = _image()
    first = runner_for(net, x, "cpu", "auto", threads=1)
    sha = backends.weights_sha(net)
    with monkeypatch.context() as m:
        m.setattr(runner, "read_entry", lambda key: pytest.fail("the cache file was read again"))
        m.setattr(hashlib, "sha256", lambda *a: pytest.fail("the weights were hashed again"))
        assert runner_for(net, _image(seed=1), "cpu", "auto", threads=1) is first  # same size class
    with torch.no_grad():
        next(net.parameters()).mul_(1.5)  # in place: the same tensor object, a new version
    assert backends.weights_sha(net) != sha
    runner_for(net, x, "cpu", "auto", threads=1)
    assert len(json.loads(cache_path().read_text())["entries"]) == 2  # checked anew for the new weights


def _global_net(norm="instance", seed=2):
    """all-1c with the ``global`` space's op in two HNU layers."""
    from hadamard_restore.net.genotype import Genotype
    from hadamard_restore.net.primitives import SPACES

    layers = dict(load_genotype("all-1c").layers) | {"hnu1.ru0": "globalres_1x1", "hnu5.rv2": "globalres_1x1"}
    primitives = {k: list(v) for k, v in SPACES["global"].items()}
    geno = Genotype.from_dict({"num_hnu": 7, "layers": layers, "primitives": primitives})
    return HadamardNet(geno, channels=4, norm=norm, generator=torch.Generator().manual_seed(seed)).eval()


def test_a_global_op_network_runs_on_every_backend_and_tiles_with_replayed_means():
    from hadamard_restore.inference.enhance import stats_image
    from hadamard_restore.inference.norm_stats import record_norm_stats, replay_norm_stats
    from hadamard_restore.inference.tiling import tiled_apply

    net, x = _global_net(), _image(33, 47)
    for backend in ("channels-last", "onnx"):  # the spatial mean exports (ReduceMean) with dynamic H, W
        with torch.inference_mode():
            got = runner_for(net, x, "cpu", backend, threads=1)(x)
        assert (got - _eager(net, x)).abs().max() <= TOLERANCE, backend
    # no norm: only the global op's means need the whole image (another seed: the fast path knows a
    # model by its weights, and the norm setting holds none)
    plain = _global_net("none", seed=3)
    img = _image(60, 70)[0]
    cfg = EnhanceConfig(tile=32, overlap=8, max_untiled_pixels=32 * 32, norm_stats="global", backend="channels-last")
    got = enhance_tensor(plain, img, cfg)
    with torch.inference_mode():
        with replay_norm_stats(plain, record_norm_stats(plain, stats_image(img[None], 32 * 32))):
            want = tiled_apply(plain, img[None], 32, 8)[0].clamp(0, 1)
    assert (got - want).abs().max() <= TOLERANCE
    with pytest.raises(HadamardRestoreError, match="cannot replay"):
        enhance_tensor(plain, img, cfg.model_copy(update={"backend": "onnx"}))


def test_networks_with_equal_weights_but_another_norm_are_different_models():
    """The runner cache is keyed by weights_sha: a norm has no weights, so the module tree counts too
    (two such models once shared one cached runner in a process)."""
    gen = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    with_norm = HadamardNet(load_genotype("all-1c"), channels=4, norm="instance", generator=gen())
    without = HadamardNet(load_genotype("all-1c"), channels=4, norm="none", generator=gen())
    assert with_norm.state_dict().keys() == without.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(with_norm.state_dict().values(), without.state_dict().values()))
    assert backends.weights_sha(with_norm) != backends.weights_sha(without)
    twin = HadamardNet(load_genotype("all-1c"), channels=4, norm="none", generator=gen())
    assert backends.weights_sha(twin) == backends.weights_sha(without)  # equal models, equal keys
