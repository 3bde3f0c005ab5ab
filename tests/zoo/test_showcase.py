"""The demo's pretrained showcase: scores against the clean photo, grids, notes instead of crashes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from hadamard_restore.data.io import read_image
from hadamard_restore.inference.enhance import quantize_8bit
from hadamard_restore.metrics.psnr import psnr
from hadamard_restore.metrics.ssim import ssim
from hadamard_restore.reporting.grid import LABEL_HEIGHT
from hadamard_restore.workflows import showcase as sc

SIDE = 48  # images downscaled to this long side: toy size


def _q(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The network's 8-bit output, computed directly."""
    with torch.inference_mode():
        return quantize_8bit(net(x[None].float())[0])


class Exposure(nn.Module):
    """Scales the image so its mean is 0.45: a crude auto-exposure, far better than a dark input."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * 0.45 / x.mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-3)).clamp(0, 1)


class Identity(Exposure):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()


def test_builtin_and_heldout_rows_are_scored_against_the_clean_image(zoo, fake_run, tmp_path, monkeypatch):
    from hadamard_restore.zoo.api import load_pretrained
    from hadamard_restore.zoo.registry import read_card

    monkeypatch.setenv("HADAMARD_RESTORE_DATA", str(fake_run[1]))
    result = sc.showcase(tmp_path, max_side=SIDE)
    (entry,) = result["models"]
    assert entry["name"] == "tiny-light" and entry["task"] == "low-light" and entry["notes"] == []
    assert [r["kind"] for r in entry["rows"]] == ["built-in"] * 2 + ["held-out"] * 2
    net = load_pretrained("tiny-light")
    builtin, _ = sc.builtin_samples("low-light", 2, 0, SIDE)  # deterministic: the same degraded photos
    assert [s.name for s in builtin] == ["coffee", "astronaut"] == [r["image"] for r in entry["rows"][:2]]
    card = read_card("tiny-light")
    root = Path(card["data"]["path"].replace("${HADAMARD_RESTORE_DATA}", str(fake_run[1])))
    held = [
        (read_image(root / e["degraded"]), read_image(root / e["reference"]))
        for e in card["data"]["split"]["heldout"][:2]
    ]
    pairs = [(s.degraded, s.clean) for s in builtin] + held
    for row, (deg, clean) in zip(entry["rows"], pairs):
        assert max(clean.shape[-2:]) <= SIDE and (row["height"], row["width"]) == tuple(clean.shape[-2:])
        assert row["input"]["psnr"] == pytest.approx(float(psnr(deg[None], clean[None])[0]), abs=1e-9)
        assert row["output"]["psnr"] == pytest.approx(float(psnr(_q(net, deg)[None], clean[None])[0]), abs=1e-6)
        assert row["output"]["ssim"] == pytest.approx(float(ssim(_q(net, deg)[None], clean[None])[0]), abs=1e-6)
    grid = read_image(tmp_path / entry["grid"])
    assert grid.shape[-2] == LABEL_HEIGHT + 4 * (sc.GRID_HEIGHT + 4) + 4  # column labels, one row per image
    assert (tmp_path / sc.SHOWCASE_FILE).is_file()


def test_a_model_better_than_identity_beats_its_degraded_input(zoo, tmp_path, monkeypatch):
    monkeypatch.delenv("HADAMARD_RESTORE_DATA", raising=False)
    monkeypatch.setattr(sc, "load_pretrained", lambda name: Identity().eval())
    same = sc.showcase(tmp_path / "identity", max_side=SIDE)["models"][0]["rows"]
    assert same and all(r["output"] == r["input"] for r in same)  # identity: output row == input row
    monkeypatch.setattr(sc, "load_pretrained", lambda name: Exposure().eval())
    better = sc.showcase(tmp_path / "exposure", max_side=SIDE)["models"][0]["rows"]
    for row in better:
        assert row["output"]["psnr"] > row["input"]["psnr"] + 3, row


def test_missing_data_and_tasks_are_notes_not_crashes(zoo, tmp_path, monkeypatch):
    monkeypatch.delenv("HADAMARD_RESTORE_DATA", raising=False)
    entry = sc.showcase(tmp_path / "a", max_side=SIDE)["models"][0]
    assert [r["kind"] for r in entry["rows"]] == ["built-in", "built-in"]
    assert any("set HADAMARD_RESTORE_DATA" in n and "`tiny`" in n for n in entry["notes"])
    entry = sc.showcase(tmp_path / "b", data_root=tmp_path / "nowhere", max_side=SIDE)["models"][0]
    assert len(entry["rows"]) == 2 and any("not found" in n for n in entry["notes"])
    samples, notes = sc.builtin_samples("custom", 2)
    assert samples == [] and "no synthetic degradation" in notes[0]


def test_no_model_or_a_damaged_one_is_said_in_one_line(packaged, tmp_path, monkeypatch):
    from hadamard_restore.reporting.showcase import showcase_section
    from hadamard_restore.zoo import api, registry

    monkeypatch.setattr(registry, "MODELS_DIR", tmp_path / "empty")
    result = sc.showcase(tmp_path / "none")
    assert result["models"] == [] and "no pretrained model is bundled" in result["note"]
    (tmp_path / "none" / "showcase").mkdir()
    shutil.copy(tmp_path / "none" / sc.SHOWCASE_FILE, tmp_path / "none" / "showcase" / sc.SHOWCASE_FILE)
    assert showcase_section(tmp_path / "none")[2] == f"_{result['note']}_"
    shutil.copytree(packaged, tmp_path / "models")
    (tmp_path / "models" / "tiny-light" / "model.pt").write_bytes(b"not a model")
    monkeypatch.setattr(registry, "MODELS_DIR", tmp_path / "models")
    api._cached.cache_clear()
    (entry,) = sc.showcase(tmp_path / "damaged", max_side=SIDE)["models"]
    assert entry["rows"] == [] and "sha256" in entry["notes"][0]


def test_the_report_starts_with_the_grids_and_the_metrics_table(zoo, tmp_path, monkeypatch):
    from hadamard_restore.reporting.report import SECTIONS, write_report
    from hadamard_restore.reporting.showcase import HEADING

    monkeypatch.delenv("HADAMARD_RESTORE_DATA", raising=False)
    result = sc.showcase(tmp_path / "showcase", max_side=SIDE)
    text = write_report(tmp_path).read_text()
    assert text.index(HEADING) < min(text.index(s) for s in SECTIONS)
    for row in result["models"][0]["rows"]:
        assert (
            f"| {row['image']} | built-in photo, synthetic degradation | {row['width']}x{row['height']} | "
            f"{row['input']['psnr']:.2f} | **{row['output']['psnr']:.2f}** |"
        ) in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert "showcase/tiny-light.png" in links and all((tmp_path / link).is_file() for link in links)


def test_the_demo_shows_the_models_first_then_runs_the_method(zoo, tmp_path, monkeypatch):
    from hadamard_restore.workflows import demo as demo_mod

    calls = []

    def fake_run(cfg, out):
        calls.append(("run", Path(out), (Path(out) / "showcase" / sc.SHOWCASE_FILE).is_file()))
        return Path(out) / "report.md"

    monkeypatch.setattr(demo_mod, "run", fake_run)
    monkeypatch.setattr(sc, "GRID_HEIGHT", 32)
    monkeypatch.setattr(sc, "load_pretrained", lambda name: Identity().eval())
    monkeypatch.setattr(sc, "_fit", lambda img, side: torch.nn.functional.interpolate(img[None], size=(24, 24))[0])
    report = demo_mod.demo(tmp_path / "run")
    assert calls == [("run", tmp_path / "run", True)] and report == tmp_path / "run" / "report.md"
    demo_mod.demo(tmp_path / "bare", pretrained=False)
    assert calls[-1] == ("run", tmp_path / "bare", False)
