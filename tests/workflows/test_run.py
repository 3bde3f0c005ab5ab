"""run(): every stage in one run directory and a complete report (a tiny end-to-end run)."""

from __future__ import annotations

import json
import re

import pytest

from hadamard_restore.config import config_from_dict
from hadamard_restore.reporting.report import SECTIONS
from hadamard_restore.workflows.run import run
from tests.tiny import tiny_config


@pytest.mark.slow
def test_run_produces_every_artifact_and_the_report(tmp_path, tiny_pairs):
    tree = tiny_config(tiny_pairs, steps=4, val_every=2, checkpoint_every=2, crop=32)  # LPIPS needs >= 31 px
    tree["data"] = {"source": "demo", "val_ratio": 0.3, "demo": {"size": 40, "crops_per_image": 1}}
    tree["net"] = {"channels": 4, "num_hnu": 1}
    tree["classifier"] = {"arch": "resnet18", "pretrained": False, "steps": 2, "batch_size": 4, "crop": 16}
    tree["search"] = {
        "loss_steps": 2,
        "arch_steps": 2,
        "crop": 32,
        "batch_size": 1,
        "checkpoint_every": 1,
        "log_every": 1,
    }
    tree["eval"] = {"grid_images": 2}
    report = run(config_from_dict(tree), tmp_path / "run")
    run_dir = tmp_path / "run"
    assert report == run_dir / "report.md"
    for rel in (
        "config.yaml",
        "search/loss_weights.json",
        "search/genotype.json",
        "train/model.pt",
        "train/last.pt",
        "train/history.json",
        "eval/metrics.json",
        "eval/grid.png",
        "run_summary.json",
    ):
        assert (run_dir / rel).is_file(), rel
    trained = json.loads((run_dir / "train" / "genotype.json").read_text())
    searched = json.loads((run_dir / "search" / "genotype.json").read_text())
    assert trained["layers"] == searched["layers"]  # training used the searched architecture
    lw_t = json.loads((run_dir / "train" / "loss_weights.json").read_text())["weights"]
    lw_s = json.loads((run_dir / "search" / "loss_weights.json").read_text())["weights"]
    # ... and the searched loss, TV and Laplacian at 0 (loss.searched_without; the authors' final training)
    assert lw_t == pytest.approx({n: (0.0 if n in ("tv", "laplacian") else w) for n, w in lw_s.items()})
    assert lw_s["tv"] > 0 and lw_s["laplacian"] > 0
    wall = json.loads((run_dir / "run_summary.json").read_text())["wall_s"]
    assert set(wall) == {"classifier", "search", "train", "evaluate", "total"}
    text = report.read_text()
    assert all(s in text for s in SECTIONS) and "_No " not in text
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (run_dir / link).is_file(), link


def test_reference_upper_runs_without_a_classifier_stage(tmp_path, tiny_pairs):
    from hadamard_restore.workflows.run import stage_classifier

    tree = tiny_config(tiny_pairs)
    tree["search"] = {"upper": "reference"}
    assert stage_classifier(config_from_dict(tree), tmp_path) is None
    assert not (tmp_path / "classifier").exists(), "search.upper=reference judges nothing with a classifier"


def test_training_reads_the_searched_weights_less_searched_without(tmp_path, tiny_pairs, monkeypatch):
    """stage_train hands training the searched loss weights with loss.searched_without at 0 (default TV
    and Laplacian, named for it), the other six unchanged; ``[]`` trains with them as searched."""
    from hadamard_restore.losses.loss_weights import LossWeights, load_loss_weights
    from hadamard_restore.net.genotype import load_genotype
    from hadamard_restore.workflows import run as run_module

    searched = load_loss_weights("equal").save(tmp_path / "loss_weights.json")
    genotype = load_genotype("paper-lol").save(tmp_path / "genotype.json")
    got: list[LossWeights] = []
    monkeypatch.setattr(run_module, "train", lambda cfg, out, geno, lw: got.append(lw) or {"model": out / "m.pt"})
    for without in (None, [], ["vgg"]):
        tree = tiny_config(tiny_pairs)
        if without is not None:
            tree["loss"] = {"searched_without": without}
        run_module.stage_train(config_from_dict(tree), tmp_path, genotype, searched)
    default, as_searched, no_vgg = got
    assert default.weights == {n: (0.0 if n in ("tv", "laplacian") else 1.0) for n in default.weights}
    assert default.name.endswith("without tv, laplacian")
    assert as_searched.weights == load_loss_weights(searched).weights and as_searched.name == "equal"
    assert [n for n, w in no_vgg.weights.items() if w == 0] == ["vgg"]


def test_an_unknown_term_in_searched_without_is_refused_before_any_stage(tmp_path, tiny_pairs, monkeypatch):
    from hadamard_restore.errors import LossWeightsError
    from hadamard_restore.workflows import run as run_module

    monkeypatch.setattr(run_module, "stage_classifier", lambda *a: pytest.fail("no stage may run"))
    tree = tiny_config(tiny_pairs)
    tree["loss"] = {"searched_without": ["tv", "laplace"]}
    with pytest.raises(LossWeightsError, match=r"loss.searched_without: unknown loss terms \['laplace'\]"):
        run_module.run(config_from_dict(tree), tmp_path / "run")
    assert not (tmp_path / "run").exists()
