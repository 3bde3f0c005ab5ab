"""Every backend at odd sizes, on the first call with an empty backend cache: the output has the
input's shape and matches eager within the backend's tolerance (issue 22: the first onnx enhance of
a 599x399 photo once failed with "broadcast 510 by 511", because the graph was traced on a crop
whose sides were multiples of 4 and so held no pad)."""

from __future__ import annotations

import json
import os

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from hadamard_restore.config import EnhanceConfig
from hadamard_restore.inference.enhance import enhance_tensor
from hadamard_restore.inference.fastpath import backends
from hadamard_restore.inference.fastpath.choice import forget
from hadamard_restore.inference.fastpath.precision import TOLERANCE, tolerance_for
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.net.network import HadamardNet
from hadamard_restore.runtime.precision import native_bf16

pytestmark = pytest.mark.usefixtures("fastpath_cache")
SIZES = [(1, 1), (3, 5), (399, 599), (677, 1023)]  # (H, W): 1x1, 3x5, 599x399, 1023x677 as W x H
NATIVE = native_bf16("cpu")
COMPILE = os.environ.get("HADAMARD_RESTORE_TEST_COMPILE") == "1"
BACKENDS = [
    "auto",
    "eager",
    "channels-last",
    pytest.param("bf16", marks=pytest.mark.skipif(not NATIVE, reason="this CPU has no native bf16 (AVX512-BF16/AMX)")),
    "onnx",
    pytest.param(
        "compile",
        marks=pytest.mark.skipif(
            not COMPILE,
            reason="torch.compile took 134-234 s for the first shape of this tiny network on the 2-core CPU "
            "(the four sizes: 3 min); set HADAMARD_RESTORE_TEST_COMPILE=1 to run it",
        ),
    ),
]


class _Centred(nn.Module):
    """A tiny real HadamardNet (its reflect pad to a multiple of 4 inside) with outputs around 0.5,
    so the clamp to [0, 1] hides no difference; bf16 moves it by about 5e-3."""

    def __init__(self) -> None:
        super().__init__()
        self.net = HadamardNet(
            load_genotype("all-1c"), channels=4, norm="none", generator=torch.Generator().manual_seed(5)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) + 0.5


@pytest.fixture(scope="module")
def net() -> nn.Module:
    return _Centred().eval()


def _image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[1]}x{s[0]}")
@pytest.mark.parametrize("backend", BACKENDS)
def test_first_call_at_an_odd_size_matches_eager(net, backend, size, fastpath_cache):
    assert not fastpath_cache.exists()  # an empty cache
    x = _image(*size)
    want = enhance_tensor(net, x, EnhanceConfig(backend="eager"))
    got = enhance_tensor(net, x, EnhanceConfig(backend=backend, threads=1))
    assert got.shape == want.shape == (3, *size)
    assert torch.isfinite(got).all()
    if backend == "eager":
        assert torch.equal(got, want)
        return
    entries = json.loads(fastpath_cache.read_text())["entries"]
    (entry,) = entries.values()  # the first call checked the backend and recorded it
    used = entry.get("backend", backend)
    assert used != "eager" and entry["parity"][used] <= tolerance_for(used)
    assert (got - want).abs().max() <= tolerance_for(used), used


def test_an_onnx_graph_built_on_a_multiple_of_4_runs_odd_sizes(net):
    """The old failure exactly: the few-image check built the onnx backend on a 256x256 crop."""
    runner = backends.build("onnx", net, _image(256, 256), 1)
    for h, w in [(399, 599), (678, 1022), (5, 3), (2, 3)]:  # 1-pixel sides: enhance replicates them
        x = _image(h, w, seed=1)
        with torch.inference_mode():
            got, want = runner(x), net(x)
        assert got.shape == want.shape and (got - want).abs().max() <= TOLERANCE, (h, w)


def test_a_traced_network_pads_whatever_the_example(net):
    """The cause: a graph traced on an image needing no pad must still pad (from the input's shape)."""
    with torch.inference_mode(), pytest.warns(torch.jit.TracerWarning):
        traced = torch.jit.trace(net, _image(32, 48), check_trace=False)
    x = _image(33, 47, seed=2)
    with torch.inference_mode():
        assert (traced(x) - net(x)).abs().max() <= 1e-5


def test_enhance_cli_onnx_on_one_odd_photo_with_an_empty_cache(net, tmp_path, fastpath_cache):
    from hadamard_restore.cli.app import app
    from hadamard_restore.data.io import read_image, write_image
    from hadamard_restore.net.model_file import save_model

    inner = net.net
    model = save_model(tmp_path / "model.pt", inner, inner.genotype, {"l1": 1.0}, None)
    write_image(tmp_path / "in" / "odd.png", _image(399, 599)[0])
    threads = torch.get_num_threads()
    try:
        for precision in ("fp32", "auto"):
            for backend in ("onnx", "auto"):
                out = tmp_path / f"{backend}-{precision}"
                args = ["enhance", str(model), str(tmp_path / "in" / "odd.png"), "--out", str(out)]
                args += ["--backend", backend, "--precision", precision, "--threads", "1"]
                forget()
                fastpath_cache.unlink(missing_ok=True)
                res = CliRunner().invoke(app, args)
                assert res.exit_code == 0, res.output
                assert read_image(out / "odd.png").shape == (3, 399, 599)
    finally:
        torch.set_num_threads(threads)
