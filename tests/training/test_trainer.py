"""The generic training loop: artifacts, best-by-validation, resume bit-exactness, errors."""

from __future__ import annotations

import math

import pytest
import torch

from hadamard_restore.config import TrainConfig
from hadamard_restore.errors import CheckpointError, HadamardRestoreError
from hadamard_restore.inference.enhance import quantize_8bit
from hadamard_restore.net import model_file
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.training.state import load_training_state
from hadamard_restore.training.trainer import TrainData, fit
from hadamard_restore.training.validation import validate_psnr
from tests.tiny import L1Mix, TinyNet, make_pool, make_sampler, tiny_train

CPU = torch.device("cpu")
META = model_file.make_meta(load_genotype("all-1c"), {"weights": {"l1": 1.0, "l2": 0.5}})


def _tcfg(**kw):
    """The tiny run's settings at 30 steps on 12 px crops: validation and last.pt every 10 steps."""
    settings = {"steps": 30, "crop": 12, "lr": 1e-2, "val_every": 10, "checkpoint_every": 10, "log_every": 5}
    return TrainConfig(**tiny_train(**{**settings, **kw}))


def _data():
    deg, ref = make_pool()
    vdeg, vref = make_pool(n=2, h=17, w=21, seed=9)
    return TrainData(make_sampler(deg, ref), [(vdeg[i], vref[i]) for i in range(2)])


def test_fit_writes_artifacts_and_keeps_the_best_by_validation(tmp_path):
    data = _data()
    model = TinyNet()
    input_psnr = validate_psnr(torch.nn.Identity(), data.val, CPU)
    summary = fit(model, L1Mix(), data, _tcfg(), tmp_path, META, seed=0, device=CPU, progress=False)
    for name in ("model.pt", "last.pt", "history.json", "train_summary.json"):
        assert (tmp_path / name).is_file(), name
    assert any((tmp_path / "tensorboard").iterdir())
    hist = summary and load_training_state(tmp_path / "last.pt")["training"]["history"]
    assert [e["step"] for e in hist["val"]] == [10, 20, 30]
    assert [e["step"] for e in hist["train"]] == [5, 10, 15, 20, 25, 30]
    assert {"loss", "l1", "l2", "lr"} <= set(hist["train"][0])
    best = max(hist["val"], key=lambda e: e["psnr"])
    assert summary["best_val_psnr"] == pytest.approx(best["psnr"]) and summary["best_step"] == best["step"]
    assert best["psnr"] > input_psnr + 3.0  # learned to brighten
    blob = model_file.read_model_file(tmp_path / "model.pt")
    assert blob["meta"]["step"] == best["step"]
    again = TinyNet(seed=99)
    model_file.load_state_into(again, blob["state_dict"])
    assert validate_psnr(again, data.val, CPU) == pytest.approx(best["psnr"], abs=1e-9)


class _Killed(Exception):
    pass


def _fit_seed_3(run_dir, model, **kw):
    """A run of the resume tests: seed 3, the default settings."""
    return fit(model, L1Mix(), _data(), _tcfg(), run_dir, META, seed=3, device=CPU, progress=False, **kw)


def _final_weights(tmp_path, kill_at=None):
    def hook(step):
        if step == kill_at:
            raise _Killed

    try:
        _fit_seed_3(tmp_path, TinyNet(), on_step=hook)
    except _Killed:
        _fit_seed_3(tmp_path, TinyNet(seed=7), resume=True)
    return model_file.read_model_file(tmp_path / "last.pt")


def test_resume_ends_with_the_same_weights_bitwise(tmp_path):
    whole = _final_weights(tmp_path / "a")
    resumed = _final_weights(tmp_path / "b", kill_at=17)  # last checkpoint at 10: steps 11-17 are redone
    for k, v in whole["state_dict"].items():
        assert torch.equal(v, resumed["state_dict"][k]), k
    assert whole["training"]["history"] == resumed["training"]["history"]
    assert torch.equal(whole["training"]["rng"]["generators"]["data"], resumed["training"]["rng"]["generators"]["data"])


def _as_version_1(path):
    """Rewrite a last.pt in the layout written before the run infrastructure was unified:
    version 1, the disabled GradScaler's state, the RNG block ``{"data", "torch"}``."""
    blob = torch.load(path, weights_only=True)
    rng = blob["training"]["rng"]
    blob["training"]["rng"] = {"data": rng["generators"]["data"], "torch": rng["torch"]}
    blob["training"]["scaler"] = torch.amp.GradScaler("cpu", enabled=False).state_dict()
    blob.pop("weights_sha256")  # version 1 files carry no digest of their weights
    torch.save({**blob, "version": 1}, path)


def test_a_version_1_training_state_resumes_bitwise(tmp_path):
    whole = _final_weights(tmp_path / "a")
    with pytest.raises(_Killed):
        _fit_seed_3(
            tmp_path / "b", TinyNet(), on_step=lambda step: (_ for _ in ()).throw(_Killed()) if step == 17 else None
        )
    _as_version_1(tmp_path / "b" / "last.pt")
    assert model_file.read_model_file(tmp_path / "b" / "last.pt")["version"] == 1
    _fit_seed_3(tmp_path / "b", TinyNet(seed=7), resume=True)
    resumed = model_file.read_model_file(tmp_path / "b" / "last.pt")
    for k, v in whole["state_dict"].items():
        assert torch.equal(v, resumed["state_dict"][k]), k


def test_different_seed_gives_different_weights(tmp_path):
    a = _final_weights(tmp_path / "a")["state_dict"]
    fit(TinyNet(), L1Mix(), _data(), _tcfg(), tmp_path / "c", META, seed=4, device=CPU, progress=False)
    c = model_file.read_model_file(tmp_path / "c" / "last.pt")["state_dict"]
    assert not all(torch.equal(a[k], c[k]) for k in a)  # the data order really follows the seed


def test_resume_without_a_checkpoint_says_so(tmp_path):
    with pytest.raises(CheckpointError, match="nothing to resume"):
        fit(TinyNet(), L1Mix(), _data(), _tcfg(), tmp_path, META, seed=0, device=CPU, resume=True)


def test_full_images_need_batch_one_and_val_must_exist(tmp_path):
    with pytest.raises(HadamardRestoreError, match="batch_size 1"):
        fit(TinyNet(), L1Mix(), _data(), _tcfg(crop=None), tmp_path, META, seed=0, device=CPU)
    empty = TrainData(_data().sample, [])
    with pytest.raises(HadamardRestoreError, match="validation split is empty"):
        fit(TinyNet(), L1Mix(), empty, _tcfg(), tmp_path, META, seed=0, device=CPU)


def test_divergence_is_reported(tmp_path):
    class NanLoss(L1Mix):
        def forward(self, out, target):
            total, terms = super().forward(out, target)
            return total * math.nan, terms

    with pytest.raises(HadamardRestoreError, match="became nan at step 1; lower train.lr"):
        fit(TinyNet(), NanLoss(), _data(), _tcfg(), tmp_path, META, seed=0, device=CPU, progress=False)


def test_quantize_matches_uint8_round_trip(gen):
    x = torch.rand(3, 7, 5, generator=gen) * 1.4 - 0.2
    as_uint8 = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    assert torch.equal(quantize_8bit(x), as_uint8.float() / 255)


def test_resume_with_more_steps_follows_the_new_schedule(tmp_path):
    fit(TinyNet(), L1Mix(), _data(), _tcfg(steps=10), tmp_path, META, seed=0, device=CPU, progress=False)
    lrs = []
    fit(
        TinyNet(),
        L1Mix(),
        _data(),
        _tcfg(steps=20),
        tmp_path,
        META,
        seed=0,
        device=CPU,
        resume=True,
        progress=False,
        on_step=lambda s: lrs.append(s),
    )
    hist = load_training_state(tmp_path / "last.pt")["training"]["history"]
    assert lrs == list(range(11, 21))
    from hadamard_restore.training.lr_schedule import LrFactor

    f = LrFactor("cosine", 20, 2)
    by_step = {e["step"]: e["lr"] for e in hist["train"]}
    assert by_step[15] == pytest.approx(1e-2 * f(14))  # lr used at step 15 (0-based 14) of the new 20-step run


def test_model_pt_holds_the_weights_its_meta_and_the_history_name(tmp_path):
    data = _data()
    summary = fit(TinyNet(), L1Mix(), data, _tcfg(ema_decay=0.8), tmp_path, META, seed=0, device=CPU, progress=False)
    state = load_training_state(tmp_path / "last.pt")["training"]
    best = model_file.read_model_file(tmp_path / "model.pt")
    entry = next(e for e in state["history"]["val"] if e["step"] == best["meta"]["step"])
    assert best["meta"]["weights"] == entry["weights"] == summary["best_weights"]
    assert entry["psnr"] == max(entry["psnr_raw"], entry["psnr_ema"])
    if best["meta"]["step"] == 30:  # the last validation: model.pt equals the saved average or raw weights
        source = state["ema"] if entry["weights"] == "ema" else load_training_state(tmp_path / "last.pt")["state_dict"]
        for k, v in best["state_dict"].items():
            torch.testing.assert_close(v, source[k])
    again = TinyNet(seed=5)
    model_file.load_state_into(again, best["state_dict"])
    assert validate_psnr(again, data.val, CPU) == pytest.approx(best["meta"]["val_psnr"], abs=1e-9)


def test_weight_average_resumes_bitwise(tmp_path):
    data = _data()
    full, part = tmp_path / "full", tmp_path / "part"
    fit(TinyNet(), L1Mix(), data, _tcfg(ema_decay=0.8), full, META, seed=0, device=CPU, progress=False)

    def stop(step):
        if step == 20:
            raise _Killed

    with pytest.raises(_Killed):
        fit(
            TinyNet(), L1Mix(), data, _tcfg(ema_decay=0.8), part, META, seed=0, device=CPU, progress=False, on_step=stop
        )
    fit(TinyNet(), L1Mix(), data, _tcfg(ema_decay=0.8), part, META, seed=0, device=CPU, progress=False, resume=True)
    a = load_training_state(full / "last.pt")["training"]["ema"]
    b = load_training_state(part / "last.pt")["training"]["ema"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("amp", [False, True])
def test_amp_runs_the_network_in_bf16_only_where_native_and_still_learns(tmp_path, amp):
    from hadamard_restore.runtime.precision import native_bf16

    data, model, seen = _data(), TinyNet(), set()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    convs[0].register_forward_hook(lambda _m, _i, out: seen.add(out.dtype) if torch.is_grad_enabled() else None)
    input_psnr = validate_psnr(torch.nn.Identity(), data.val, CPU)
    summary = fit(model, L1Mix(), data, _tcfg(amp=amp), tmp_path, META, seed=0, device=CPU, progress=False)
    assert seen == {torch.bfloat16 if amp and native_bf16(CPU) else torch.float32}
    assert summary["precision"] == ("bf16 autocast" if seen == {torch.bfloat16} else "float32")  # what ran
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    assert summary["best_val_psnr"] > input_psnr + 3.0
