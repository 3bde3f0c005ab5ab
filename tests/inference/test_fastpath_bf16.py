"""Reduced precision and few images on the fast path: bf16 is checked against REDUCED_TOLERANCE over
the clamped output (a full-precision backend with the same difference is rejected), precision fp32
never runs bf16 nor reuses a choice made for precision auto, bf16 can replay whole-image norm
statistics, and a call on few images checks one backend on a crop without timing any."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest
import torch
from torch import nn

from hadamard_restore.data.io import read_image
from hadamard_restore.errors import HadamardRestoreError
from hadamard_restore.inference.enhance import enhance
from hadamard_restore.inference.fastpath import backends, choice, precision
from hadamard_restore.inference.fastpath.cache import cache_path
from hadamard_restore.inference.fastpath.choice import BackendParityError
from hadamard_restore.inference.fastpath.precision import REDUCED_TOLERANCE, TOLERANCE, tolerance_for
from hadamard_restore.inference.fastpath.runner import runner_for
from hadamard_restore.inference.norm_stats import record_norm_stats, replay_norm_stats
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.net.network import HadamardNet
from hadamard_restore.runtime.precision import native_bf16

pytestmark = pytest.mark.usefixtures("fastpath_cache")
NATIVE = native_bf16("cpu")
needs_native_bf16 = pytest.mark.skipif(
    not NATIVE, reason="this CPU has no native bf16 (AVX512-BF16 / AMX-BF16), so bf16 is no candidate of auto"
)


@pytest.fixture(scope="module")
def shallow() -> nn.Module:
    """A random two-layer network: bf16 moves its output by about 2e-3 (beyond 1e-3, within 0.02)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1), nn.Sigmoid()
        ).eval()


def _image(h=36, w=44, seed=0):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _entries() -> dict:
    return json.loads(cache_path().read_text())["entries"]


class _Wrong(nn.Module):
    def forward(self, x):
        return torch.zeros_like(x)


def _no_timing(*args, **kwargs):
    raise AssertionError("the backends were timed")


def test_native_bf16_is_a_bool_that_matches_the_cpu_flags():
    got = native_bf16("cpu")
    assert isinstance(got, bool) and native_bf16("meta") is False
    if not torch.cuda.is_available():
        assert native_bf16("cuda") is False
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file() or platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("no x86 /proc/cpuinfo to compare with")
    flags = {f for line in cpuinfo.read_text().splitlines() if line.startswith("flags") for f in line.split()}
    assert got == (torch.backends.mkldnn.is_available() and bool({"avx512_bf16", "amx_bf16"} & flags))


def test_bf16_runner_is_float32_within_the_reduced_tolerance_not_within_1e3(shallow):
    x = _image()
    runner = backends.build("bf16", shallow, x, 1)
    with torch.inference_mode():
        got, want = runner(x), shallow(x)
    assert got.dtype == torch.float32 and got.is_contiguous() and got.shape == want.shape
    assert all(p.dtype == torch.bfloat16 for p in runner.inner.parameters())
    assert all(p.dtype == torch.float32 for p in shallow.parameters())  # the model itself is untouched
    diff = float((got - want).abs().max())
    assert TOLERANCE < diff <= REDUCED_TOLERANCE
    # by name: checked once against the reduced tolerance, which the cache records; no choice for auto
    runner_for(shallow, x, "cpu", "bf16", threads=1)
    (entry,) = _entries().values()
    assert entry["tolerance"] == {"bf16": REDUCED_TOLERANCE} and "backend" not in entry
    assert entry["parity"]["bf16"] == pytest.approx(diff)


def test_named_bf16_beyond_the_reduced_tolerance_is_refused(gen):
    net = HadamardNet(load_genotype("all-1c"), channels=4, generator=torch.Generator().manual_seed(2)).eval()
    with pytest.raises(BackendParityError, match=r"backend bf16 differs .* \(tolerance 0.02\)"):
        runner_for(net, _image(), "cpu", "bf16", threads=1)  # a random HadamardNet: about 0.3


def test_the_tolerance_is_per_backend(shallow, monkeypatch):
    """The same bf16 output is accepted from bf16 and rejected from a full-precision backend."""
    real = backends.build
    monkeypatch.setattr(choice, "build", lambda n, m, *a: precision.Bf16(m) if n == "channels-last" else real(n, m, *a))
    entry, runners = choice.choose(shallow, _image(), torch.device("cpu"), 1, False)
    assert entry["rejected"]["channels-last"].endswith("> tolerance 0.001") and "channels-last" not in runners
    assert entry["tolerance"]["channels-last"] == TOLERANCE
    if NATIVE:
        assert "bf16" in runners and entry["tolerance"]["bf16"] == REDUCED_TOLERANCE
        assert entry["parity"]["bf16"] == pytest.approx(entry["parity"]["channels-last"])


@needs_native_bf16
def test_precision_fp32_never_runs_bf16_nor_reuses_its_choice(shallow, monkeypatch):
    monkeypatch.setattr(choice, "_time", lambda runners, x, r: {k: 0.0 if k == "bf16" else 1.0 for k in runners})
    x = _image()
    auto = runner_for(shallow, x, "cpu", "timed", threads=1)
    assert isinstance(auto, precision.Bf16)  # the fastest here, and within its tolerance
    choice.forget()
    fp32 = runner_for(shallow, x, "cpu", "timed", threads=1, precision="fp32")
    assert not isinstance(fp32, precision.Bf16)
    entries = _entries()
    assert sorted(k.split("|")[5] for k in entries) == ["precision auto", "precision fp32"]
    by_precision = {k.split("|")[5]: e for k, e in entries.items()}
    assert (
        "bf16" not in by_precision["precision fp32"]["parity"] and by_precision["precision auto"]["backend"] == "bf16"
    )
    # the untimed path and the preference order respect fp32 too
    assert backends.preferred(torch.device("cpu"), False, "fp32") == "channels-last"
    assert backends.preferred(torch.device("cpu"), True, "fp32") == "channels-last"
    with pytest.raises(HadamardRestoreError, match="precision fp32 rules out"):
        runner_for(shallow, x, "cpu", "bf16", threads=1, precision="fp32")
    with pytest.raises(HadamardRestoreError, match="unknown precision"):
        runner_for(shallow, x, "cpu", "auto", threads=1, precision="fp16")


def test_auto_checks_one_backend_on_a_crop_and_times_nothing(shallow, monkeypatch):
    monkeypatch.setattr(choice, "_time", _no_timing)
    x = _image(270, 300)
    runner = runner_for(shallow, x, "cpu", "auto", threads=1)
    (entry,) = _entries().values()
    want = backends.preferred(torch.device("cpu"), False)
    assert want == ("bf16" if NATIVE else "channels-last") and entry["backend"] == want and "times_s" not in entry
    assert entry["checked_on"] == "256x256 crop" and entry["parity"][want] <= tolerance_for(want)
    with torch.inference_mode():
        assert (runner(x) - shallow(x)).abs().max() <= tolerance_for(want)
    # another untimed call reuses the check; a timed call times anew
    choice.forget()
    built = []
    real = backends.build
    monkeypatch.setattr(choice, "build", lambda n, *a: built.append(n) or real(n, *a))
    runner_for(shallow, _image(270, 300, seed=1), "cpu", "auto", threads=1)
    assert built == [want]  # rebuilt in a new process, not checked again nor any other backend
    timed = []
    monkeypatch.setattr(choice, "_time", lambda runners, x, r: timed.append(1) or {k: 1.0 for k in runners})
    runner_for(shallow, x, "cpu", "timed", threads=1)
    (entry,) = _entries().values()
    assert timed == [1] and entry["chosen_by"] == "timing" and "times_s" in entry


@pytest.mark.parametrize("broken", ["wrong", "raises"])
def test_auto_falls_back_to_eager_when_the_check_fails(shallow, monkeypatch, broken):
    monkeypatch.setattr(choice, "_time", _no_timing)

    def build(name, *args):
        if broken == "raises":
            raise RuntimeError("no kernel for this")
        return _Wrong()

    monkeypatch.setattr(choice, "build", build)
    assert runner_for(shallow, _image(), "cpu", "auto", threads=1) is shallow
    (entry,) = _entries().values()
    name = backends.preferred(torch.device("cpu"), False)
    assert entry["backend"] == "eager" and name in entry["rejected"]
    assert ("failed: RuntimeError" if broken == "raises" else "tolerance") in entry["rejected"][name]
    assert runner_for(shallow, _image(seed=3), "cpu", "auto", threads=1) is shallow


def test_enhance_times_the_backends_only_when_asked(shallow, tmp_path, monkeypatch):
    from hadamard_restore.config import EnhanceConfig
    from hadamard_restore.data.io import write_image

    for i in range(6):
        write_image(tmp_path / "in" / f"{i}.png", _image(40, 52, seed=i)[0])
    timed = []
    monkeypatch.setattr(choice, "_time", lambda runners, x, r: timed.append(1) or {k: 1.0 for k in runners})
    assert enhance(shallow, [tmp_path / "in"], tmp_path / "many").ok and timed == []  # six images: untimed
    (entry,) = _entries().values()
    assert entry["chosen_by"] == "parity check, untimed" and "times_s" not in entry
    assert enhance(shallow, [tmp_path / "in"], tmp_path / "timed", EnhanceConfig(backend="timed")).ok
    assert timed == [1] and "times_s" in next(iter(_entries().values()))


def test_bf16_replays_whole_image_norm_statistics():
    """The bf16 copy is a PyTorch module: its norms record and replay statistics like eager's."""
    net = HadamardNet(load_genotype("paper-lol"), channels=8, generator=torch.Generator().manual_seed(5)).eval()
    runner = backends.build("bf16", net, _image(), 1)
    x, other = _image(37, 31, seed=1), _image(29, 41, seed=2) * 0.2
    with torch.inference_mode():
        plain = runner(x)
        stats = record_norm_stats(runner, x)
        assert len(stats) == 7 * 8 and all(m.dtype == v.dtype == torch.float32 for m, v in stats)
        with replay_norm_stats(runner, stats):
            assert torch.equal(runner(x), plain)
        with replay_norm_stats(runner, record_norm_stats(runner, other)):
            assert (runner(x) - plain).abs().max() > 1e-2  # the replayed statistics are used
    assert ("bf16" in backends.candidates(torch.device("cpu"), True)) == NATIVE  # a candidate under replay


@needs_native_bf16
@pytest.mark.bundled
@pytest.mark.realdata
@pytest.mark.parametrize("name", ["low-light", "dehaze", "underwater"])
def test_bundled_models_in_bf16_stay_within_the_reduced_tolerance_on_real_photos(name, data_root):
    """The tolerance holds with a margin on the shipped models (real-photo maximum 0.0105 when set)."""
    from hadamard_restore.zoo.api import load_pretrained
    from hadamard_restore.zoo.registry import read_card

    card = read_card(name)
    root = Path(card["data"]["path"].replace("${HADAMARD_RESTORE_DATA}", str(data_root)))
    net = load_pretrained(name)
    runner = backends.build("bf16", net, _image(), 1)
    for entry in card["data"]["split"]["heldout"][:2]:
        x = read_image(root / entry["degraded"])[None]
        x = torch.nn.functional.interpolate(x, scale_factor=0.5, mode="area")  # a quarter of the pixels
        with torch.inference_mode():
            diff = choice.max_abs_diff(net(x), runner(x), clamp=True)
        assert diff <= REDUCED_TOLERANCE * 0.75, f"{name} {entry['degraded']}: {diff:.4f}"
