"""`evaluate` on the user's own data: which pairs it scores (and says so), --degraded-dir/--reference-dir,
`--set data.*`, and a bundled model's held-out split only where the folder is that split's dataset."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from hadamard_restore.cli.app import app

runner = CliRunner()


def _own_pairs(root, degraded="input", reference="target", n=3):
    """``n`` fresh pairs (content the tiny model never saw) in ``root/degraded`` and ``root/reference``."""
    from hadamard_restore.data.io import write_image

    gen = torch.Generator().manual_seed(5)
    for i in range(n):
        ref = torch.rand(3, 36, 32, generator=gen)  # LPIPS fails below ~32 px (exit 70)
        write_image(root / reference / f"p{i}.png", ref)
        write_image(root / degraded / f"p{i}.png", 0.3 * ref)
    return root


def _metrics(folder):
    return json.loads((folder / "metrics.json").read_text())


def test_a_folder_that_is_not_the_cards_dataset_is_scored_whole(zoo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mine = _own_pairs(tmp_path / "mine")
    res = runner.invoke(app, ["evaluate", "--model", "tiny-light", "--data", str(mine)])
    assert res.exit_code == 0, res.output
    assert f"pairs: all 3 pairs of {mine} (paired layout): not tiny-light's dataset" in res.output
    m = _metrics(tmp_path / "tiny-light-eval")
    assert m["count"] == 3 and m["split"] is None and m["selection"].startswith("all 3 pairs")


def test_the_cards_dataset_gives_its_heldout_split_also_renamed(zoo, fake_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["evaluate", "--model", "tiny-light", "--data", str(fake_run[1] / "tiny")])
    assert res.exit_code == 0, res.output
    assert "pairs: the held-out split of tiny-light: 2 pairs" in res.output
    renamed = tmp_path / "renamed"  # the same images under other names: found by content
    for sub in ("degraded", "reference"):
        for f in (fake_run[1] / "tiny" / sub).iterdir():
            (renamed / sub.replace("degraded", "low").replace("reference", "high")).mkdir(parents=True, exist_ok=True)
            shutil.copy(f, renamed / sub.replace("degraded", "low").replace("reference", "high") / f"x_{f.name}")
    res = runner.invoke(app, ["evaluate", "--model", "tiny-light", "--data", str(renamed), "-o", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert "the 2 held-out pairs of tiny-light found in" in res.output and "6 pairs it was trained on" in res.output
    assert _metrics(tmp_path / "r")["count"] == 2


def test_training_pairs_without_the_whole_heldout_split_are_refused(zoo, fake_run, tmp_path):
    from hadamard_restore.data.split import Split
    from hadamard_restore.zoo.registry import heldout_split_path

    part = tmp_path / "part"
    shutil.copytree(fake_run[1] / "tiny", part)
    gone = Split.load(heldout_split_path("tiny-light")).val[0]
    (part / gone.degraded).unlink()
    (part / gone.reference).unlink()
    res = runner.invoke(app, ["evaluate", "--model", "tiny-light", "--data", str(part), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "6 pair(s) that tiny-light was trained on" in res.output, res.output
    assert "--all-pairs" in res.output and not (tmp_path / "o" / "metrics.json").exists()
    res = runner.invoke(
        app, ["evaluate", "--model", "tiny-light", "--data", str(part), "-o", str(tmp_path / "o"), "--all-pairs"]
    )
    assert res.exit_code == 0 and "pairs: all 7 pairs" in res.output, res.output


def test_degraded_and_reference_dirs_and_set_data(zoo, tmp_path):
    model = str(zoo / "tiny-light" / "model.pt")
    mine = _own_pairs(tmp_path / "mine", "dark", "bright", n=2)
    args = ["evaluate", model, "--data", str(mine)]
    res = runner.invoke(app, [*args, "--degraded-dir", "dark", "--reference-dir", "bright", "-o", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert _metrics(tmp_path / "a")["count"] == 2 and _metrics(tmp_path / "a")["layout"] == "paired"
    sets = ["--set", "data.degraded_dir=dark", "--set", "data.reference_dir=bright", "--set", f"data.root={mine}"]
    res = runner.invoke(app, ["evaluate", model, *sets, "-o", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    assert _metrics(tmp_path / "b")["count"] == 2


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--set", "data.val_ratio=0.5"], "evaluate does not use --set data.val_ratio"),
        (["--set", "data.root=/elsewhere"], "--data and --set data.root both given"),
        (["--split", "s.json", "--all-pairs"], "not both"),
    ],
)
def test_data_options_it_cannot_honour_are_refused(zoo, tmp_path, extra, message):
    mine = _own_pairs(tmp_path / "mine")
    res = runner.invoke(app, ["evaluate", str(zoo / "tiny-light" / "model.pt"), "--data", str(mine), *extra])
    assert res.exit_code == 2 and message in res.output, res.output
