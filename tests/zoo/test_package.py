"""package_run: a portable, deterministic card with the run's facts; fp16 only where parity holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hadamard_restore.data.io import read_image
from hadamard_restore.zoo import colour
from hadamard_restore.zoo.card import PackageError
from hadamard_restore.zoo.package import package_run
from tests.tools.scripts import load_tool
from tests.zoo.conftest import FAKE_STEPS


def _tool():
    return load_tool("package_pretrained")


def _card(models: Path, name: str = "tiny-light") -> dict:
    return json.loads((models / name / "card.json").read_text())


def test_card_holds_the_runs_facts_and_is_portable(packaged, fake_run):
    run, data = fake_run
    text = (packaged / "tiny-light" / "card.json").read_text()
    assert str(run) not in text and str(data) not in text and "/somewhere/checkout" not in text
    card = json.loads(text)
    assert card["task"] == "low-light" and card["data"]["path"] == "${HADAMARD_RESTORE_DATA}/tiny"
    assert card["genotype"]["layers"] == json.loads((run / "search" / "genotype.json").read_text())["layers"]
    assert card["loss"]["vgg_layers"] == ["relu1_1", "relu2_1", "relu3_1", "relu4_2"]
    assert card["loss"]["weights"]["ssim"] == 0.2 and card["classifier"]["accuracy"] == 0.9375
    stages = card["commands"]["stages"]
    assert [s["stage"] for s in stages] == ["classifier", "train", "evaluate"]
    assert stages[0]["command"].startswith(
        "hadamard-restore classifier configs/low-light.yaml --set data.split_file=RUN_DIR/dev.json"
    )
    assert card["budget"]["wall_seconds"]["train"] == 1200.5 and card["budget"]["train"]["steps"] == FAKE_STEPS
    summary = json.loads((run / "train" / "train_summary.json").read_text())
    assert card["budget"]["best_step"] == summary["best_step"]
    history = json.loads((run / "train" / "history.json").read_text())["val"]
    assert card["budget"]["dev_val_curve"] == [[e["step"], round(e["psnr"], 2)] for e in history] != []
    assert card["notes"] is None  # no RUN_DIR/notes.md in this run
    assert card["budget"]["machine"]["cores"] >= 1 and card["budget"]["machine"]["description"].startswith("CPU: ")


def test_fp16_parity_and_heldout_metrics_of_the_shipped_file(packaged, fake_run):
    card = _card(packaged)
    parity = card["weights"]["parity"]
    assert card["weights"]["dtype"] == "float16" and parity["max_abs_diff"] <= parity["tolerance"]
    fp32 = json.loads((fake_run[0] / "eval" / "metrics.json").read_text())["mean"]
    held = card["heldout"]
    assert held["count"] == 2 and held["fp32_eval"] == fp32
    assert abs(held["model"]["psnr"] - fp32["psnr"]) < 0.05  # fp16 storage barely moves the score
    assert held["input"]["psnr"] == pytest.approx(
        json.loads((fake_run[0] / "eval" / "metrics.json").read_text())["input_mean"]["psnr"]
    )
    assert {"gt_mean_psnr", "gt_mean_ssim"} <= held["model"].keys() & held["input"].keys()  # the labelled column
    appearance = held["appearance"]  # the shipped file's outputs measured against the references
    assert appearance["count"] == 2 and appearance["contrast_ratio"] > 0 and "grid_peak" in appearance["output"]


def test_fp32_when_parity_fails_reuses_the_evaluation(fake_run, tmp_path):
    run, data = fake_run
    folder = package_run(run, "strict", tmp_path, data, tolerance=0.0, machine="GPU: test card")
    card = _card(tmp_path, "strict")
    blob = torch.load(folder / "model.pt", weights_only=True)
    train_blob = torch.load(run / "train" / "model.pt", weights_only=True)
    assert card["weights"]["dtype"] == "float32" and card["budget"]["machine"] == {"description": "GPU: test card"}
    assert all(torch.equal(blob["state_dict"][k], v) for k, v in train_blob["state_dict"].items())
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert card["heldout"]["model"]["psnr"] == metrics["mean"]["psnr"]
    # colour errors from the evaluated outputs, checked against a direct computation
    rows = [
        (
            read_image(data / "tiny" / e["degraded"]),
            read_image(run / "eval" / "outputs" / Path(e["degraded"]).name),
            read_image(data / "tiny" / e["reference"]),
        )
        for e in card["data"]["split"]["heldout"]
    ]
    assert card["heldout"]["model"]["ciede2000"] == pytest.approx(np.mean([colour.ciede2000(o, r) for _, o, r in rows]))
    assert card["heldout"]["input"]["colour_angle"] == pytest.approx(
        np.mean([colour.colour_angle(i, r) for i, _, r in rows])
    )


def test_output_is_deterministic_and_docs_render(packaged, fake_run, tmp_path):
    run, data = fake_run
    again = tmp_path / "models"
    package_run(run, "tiny-light", again, data)
    for name in ("model.pt", "card.json", "heldout.json"):
        assert (again / "tiny-light" / name).read_bytes() == (packaged / "tiny-light" / name).read_bytes(), name
    docs = [tmp_path / "a.md", tmp_path / "b.md"]
    tool = _tool()
    for doc, models in zip(docs, (packaged, again)):
        assert tool.main(["--render-only", "--models", str(models), "--docs", str(doc)]) == 0
    text = docs[0].read_text()
    assert text == docs[1].read_text()
    card = _card(packaged)
    assert "| `tiny-light` | low-light | paired folders | 2 |" in text
    assert f"sha256 `{card['weights']['sha256']}`" in text and "## `tiny-light`" in text
    assert f"1 HNUs, norm `none`, up-sampler `{card['net']['upsample']}`," in text
    old = dict(card, net={k: v for k, v in card["net"].items() if k != "upsample"})  # a card from before the option
    (again / "tiny-light" / "card.json").write_text(json.dumps(old))  # the copy, not the shared fixture
    assert tool.main(["--render-only", "--models", str(again), "--docs", str(docs[1])]) == 0
    assert "1 HNUs, norm `none`, up-sampler `transpose`," in docs[1].read_text()
    contrast = card["heldout"]["appearance"]["contrast_ratio"]
    assert f"contrast {contrast:.2f}x and saturation" in text and "grey levels vs the reference |" in text
    assert f"{card['heldout']['model']['psnr']:.2f} ({card['heldout']['input']['psnr']:.2f})" in text


def test_colour_error_closed_forms():
    red, green = torch.zeros(3, 2, 2), torch.zeros(3, 2, 2)
    red[0], green[1] = 1.0, 1.0
    assert colour.colour_angle(red, green) == pytest.approx(90.0)
    grey = torch.full((3, 2, 2), 0.2)
    assert colour.colour_angle(grey, 3 * grey) == pytest.approx(0.0, abs=1e-6)  # blind to brightness
    assert colour.ciede2000(grey, grey) == 0.0 and colour.ciede2000(grey, 3 * grey) > 10


def test_unfinished_runs_are_explained(fake_run, tmp_path):
    with pytest.raises(PackageError, match="missing .*train/model.pt"):
        package_run(tmp_path, "x", tmp_path / "m")


def test_a_moved_run_directory_is_still_made_portable(fake_run, tmp_path):
    import shutil

    run, data = fake_run
    moved = tmp_path / "moved"
    shutil.copytree(run, moved)
    package_run(moved, "moved", tmp_path / "models", data)
    text = (tmp_path / "models" / "moved" / "card.json").read_text()
    assert str(run) not in text and str(moved) not in text and "RUN_DIR/train" in text


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_bundled_model_is_replaced_only_by_a_better_one_and_kept_in_history(fake_run, tmp_path):
    run, data = fake_run
    models = tmp_path / "models"
    package_run(run, "m", models, data)
    first = _card(models, "m")
    assert "history" not in first
    before = _files(models / "m")
    with pytest.raises(PackageError, match=r"not above the bundled model's .* nothing was replaced"):
        package_run(run, "m", models, data)  # the same model does not beat itself
    assert _files(models / "m") == before and sorted(p.name for p in models.iterdir()) == ["m"]  # no staging left

    worse = dict(first, heldout=dict(first["heldout"], model=dict(first["heldout"]["model"], psnr=1.0)))
    (models / "m" / "card.json").write_text(json.dumps(worse))
    package_run(run, "m", models, data)
    card = _card(models, "m")
    (entry,) = card["history"]
    assert entry["weights_sha256"] == first["weights"]["sha256"] and entry["heldout"]["model"]["psnr"] == 1.0
    assert entry["heldout"]["input"]["psnr"] == first["heldout"]["input"]["psnr"]
    assert entry["split_sha256"] == card["data"]["split"]["sha256"] and entry["train"]["steps"] == FAKE_STEPS
    assert entry["network"]["upsample"] == first["net"]["upsample"]
    assert card["weights"]["sha256"] == first["weights"]["sha256"]  # the same run was shipped again

    good = (models / "m" / "card.json").read_text()
    (models / "m" / "card.json").write_text("{ damaged")
    with pytest.raises(PackageError, match="card .* is unreadable .* nothing was replaced"):
        package_run(run, "m", models, data)
    (models / "m" / "card.json").write_text(good)

    other = dict(card, data=dict(card["data"], split=dict(card["data"]["split"], sha256="0" * 64)))
    other["heldout"] = dict(card["heldout"], model=dict(card["heldout"]["model"], psnr=1.0))
    (models / "m" / "card.json").write_text(json.dumps(other))
    with pytest.raises(PackageError, match="other held-out pairs"):
        package_run(run, "m", models, data)
    package_run(run, "m", models, data, replace_worse=True)
    history = _card(models, "m")["history"]
    assert len(history) == 2 and history[0] == entry and history[1]["split_sha256"] == "0" * 64
    (models / "m" / "card.json").write_text(json.dumps(dict(other, net={"channels": 8})))  # a card before net.upsample
    package_run(run, "m", models, data, replace_worse=True)
    assert _card(models, "m")["history"][-1]["network"] == {"channels": 8}  # no field made up for it

    doc = tmp_path / "models.md"
    assert _tool().main(["--render-only", "--models", str(models), "--docs", str(doc)]) == 0
    text = doc.read_text()
    assert "Earlier models shipped under this name" in text
    assert f"| `{first['weights']['sha256'][:12]}` |" in text and "| 1.00 (" in text and "| no |" in text


def test_the_reproducing_command_keeps_make_pretrained_overrides(fake_run, tmp_path):
    import shutil

    run, data = fake_run
    moved = tmp_path / "run"
    shutil.copytree(run, moved)
    assert _card_of(moved, tmp_path / "a", data)["commands"]["reproduce"] == (
        "python tools/make_pretrained.py low-light --out RUN_DIR"
    )
    line = "python tools/make_pretrained.py dehaze --out RUN_DIR --train-set train.steps=6000"
    (moved / "reproduce.txt").write_text(line + "\n")
    assert _card_of(moved, tmp_path / "b", data)["commands"]["reproduce"] == line


def test_the_card_gives_the_loss_weights_training_used_and_the_searched_ones_where_they_differ(fake_run, tmp_path):
    """make_pretrained trains with the searched TV and Laplacian at 0: the card's weights are the
    training's own copy (train/loss_weights.json), the search's are kept beside them when they differ,
    and a run without that copy (older runs) reports the search's."""
    import shutil

    from hadamard_restore.zoo.card import loss_facts

    run, _ = fake_run
    moved = tmp_path / "run"
    shutil.copytree(run, moved)
    trained = json.loads((moved / "train" / "loss_weights.json").read_text())["weights"]
    assert loss_facts(moved, None)["weights"] == trained and "searched_weights" not in loss_facts(moved, None)
    searched = json.loads((moved / "search" / "loss_weights.json").read_text())
    searched["weights"] = {**searched["weights"], "tv": 0.5, "laplacian": 0.6}
    (moved / "search" / "loss_weights.json").write_text(json.dumps(searched))
    facts = loss_facts(moved, None)
    assert facts["weights"] == trained and facts["weights"]["tv"] == 0.0
    assert facts["searched_weights"]["tv"] == 0.5 and facts["searched_weights"]["laplacian"] == 0.6
    (moved / "train" / "loss_weights.json").unlink()
    assert loss_facts(moved, None)["weights"]["tv"] == 0.5 and "searched_weights" not in loss_facts(moved, None)


def _card_of(run: Path, models: Path, data: Path) -> dict:
    package_run(run, "m", models, data)
    return _card(models, "m")


def _gains(metrics: Path) -> dict[str, float]:
    """Per held-out pair: the model's PSNR minus the input's, from an evaluation's metrics.json."""
    return {r["name"]: r["psnr"] - r["input_psnr"] for r in json.loads(metrics.read_text())["per_image"]}


def test_the_card_records_every_pair_beats_its_input(packaged, fake_run):
    gains = _gains(fake_run[0] / "eval" / "metrics.json")
    pairs = _card(packaged)["heldout"]["pairs"]
    assert min(gains.values()) > 0 and pairs["below_input"] == 0 and pairs["failed"] == []
    worst = min(gains, key=gains.get)
    assert pairs["worst"]["name"] == worst
    assert pairs["worst"]["psnr_gain_db"] == pytest.approx(gains[worst], abs=0.05)  # fp16 weights: re-evaluated


def test_a_model_that_loses_to_its_input_on_a_heldout_pair_is_refused(fake_run, tmp_path):
    """An untrained network of the same architecture: packaged only with --accept-input-losses."""
    import shutil

    from hadamard_restore.evaluation.evaluate import evaluate
    from hadamard_restore.net.model_file import network_from_meta, read_model_file, save_model_meta

    run, data = fake_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("eval"))
    meta = read_model_file(run / "train" / "model.pt")["meta"]
    torch.manual_seed(0)
    save_model_meta(copy / "train" / "model.pt", network_from_meta(meta), meta)
    evaluate(copy / "train" / "model.pt", data / "tiny", split=copy / "heldout.json", out=copy / "eval", device="cpu")
    gains = _gains(copy / "eval" / "metrics.json")
    below = sum(g <= 0 for g in gains.values())
    assert below >= 1, f"the untrained network must lose on some pair for this test: {gains}"

    models, docs = tmp_path / "models", tmp_path / "models.md"
    with pytest.raises(PackageError, match=rf"does not beat its input on {below} of {len(gains)} held-out pairs"):
        package_run(copy, "m", models, data)
    assert list(models.iterdir()) == []  # nothing written, no staging folder left
    argv = [str(copy), "--name", "m", "--models", str(models), "--docs", str(docs), "--data-root", str(data)]
    assert _tool().main(argv) == 2 and list(models.iterdir()) == [] and not docs.exists()
    assert _tool().main([*argv, "--accept-input-losses"]) == 0
    pairs = _card(models, "m")["heldout"]["pairs"]
    assert pairs["below_input"] == below and pairs["worst"]["name"] == min(gains, key=gains.get)
    assert "held-out pairs below the input" in docs.read_text()


def test_a_pair_that_could_not_be_evaluated_is_refused():
    from hadamard_restore.zoo.package import check_beats_input

    card = {
        "name": "m",
        "heldout": {"count": 1, "pairs": {"failed": ["b.png"], "below_input": 0, "worst": {"name": "a.png"}}},
    }
    with pytest.raises(PackageError, match=r"1 held-out pair\(s\) .* could not be evaluated \(b.png\)"):
        check_beats_input(card, accept_input_losses=True)


def test_a_fine_tune_run_is_packaged_with_its_sources_search_facts_and_start(packaged, fake_run, tmp_path):
    """make_pretrained --init-from runs no classifier or search: its run directory holds the source
    model's card (source/card.json) instead, and the card takes the classifier and search facts from it
    and records the weights the training started from."""
    import shutil

    run, data = fake_run
    fine = tmp_path / "run"
    shutil.copytree(run, fine)
    for stage in ("classifier", "search"):
        shutil.rmtree(fine / stage)
    with pytest.raises(PackageError, match="classifier/classifier_metrics.json"):
        package_run(fine, "m", tmp_path / "refused", data)  # neither searched nor started from a model
    source = _card(packaged, "tiny-light")
    (fine / "source").mkdir()
    (fine / "source" / "card.json").write_text(json.dumps(source))
    card = _card_of(fine, tmp_path / "models", data)
    assert card["init_from"] == {
        "model": "tiny-light",
        "weights_sha256": source["weights"]["sha256"],
        "summary": source["summary"],
        "reproduce": source["commands"]["reproduce"],
    }
    assert card["classifier"] == source["classifier"]
    assert card["budget"]["search"] == source["budget"]["search"]
    assert card["budget"]["classifier_steps"] == source["budget"]["classifier_steps"]
    assert card["loss"]["weights"] == json.loads((fine / "train" / "loss_weights.json").read_text())["weights"]
    assert "init_from" not in _card(packaged, "tiny-light")  # a searched run's card has none
    from hadamard_restore.zoo.render import render_models_md

    page = render_models_md([card])
    assert f"| fine-tuned from | `tiny-light` weights sha256 `{source['weights']['sha256'][:12]}`" in page
    assert "fine-tuned from" not in render_models_md([source])
