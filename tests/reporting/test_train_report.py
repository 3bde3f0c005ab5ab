"""`train` alone writes the report pieces of `run`; grids carry column labels; reports warn about an
untrustworthy judge and near-uniform architecture weights."""

from __future__ import annotations

import json
import re

import torch

from hadamard_restore.data.io import read_image
from hadamard_restore.reporting.caveats import NEAR_UNIFORM, near_uniform_layers
from hadamard_restore.reporting.grid import GRID_COLUMNS, LABEL_HEIGHT, comparison_grid
from hadamard_restore.reporting.report import write_report


def test_grid_has_a_label_band_over_aligned_columns():
    gen = torch.Generator().manual_seed(0)
    wide, tall = torch.rand(3, 40, 80, generator=gen), torch.rand(3, 80, 40, generator=gen)
    plain = comparison_grid([[wide, wide, wide], [tall, tall, tall]], height=50)
    labelled = comparison_grid([[wide, wide, wide], [tall, tall, tall]], height=50, labels=GRID_COLUMNS)
    assert labelled.shape[1] == plain.shape[1] + 22 and labelled.shape[2] == plain.shape[2]
    assert torch.equal(labelled[:, 22:], plain)
    band = labelled[:, :22].mean(0)
    lefts = [4, 4 + 100 + 4, 4 + 2 * (100 + 4)]  # every column as wide as its widest image (100 px)
    for left in lefts:  # dark text pixels above each column, white between
        assert band[:, left : left + 100].min() < 0.3
    assert band[:, : lefts[0]].min() == 1.0


def test_train_alone_writes_curves_and_a_labelled_grid(tiny_run):
    report = (tiny_run / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert {"plots/training.png", "val_grid.png", "plots/loss_weights.png"} <= set(links)
    assert all((tiny_run / link).is_file() for link in links)
    assert "columns: input | output | reference" in report and "## Architecture" in report
    grid = read_image(tiny_run / "val_grid.png")
    assert grid.shape[1] == LABEL_HEIGHT + 2 * (160 + 4) + 4  # labels over the 2 held-out pairs
    assert grid[:, :22].mean(0).min() < 0.3  # the labels are drawn


def _search_dir(tmp_path, probabilities, warning):
    run = tmp_path / "run"
    (run / "search").mkdir(parents=True)
    (run / "search" / "genotype.json").write_text(json.dumps({"layers": {}, "probabilities": probabilities}))
    extra = {"classifier": {"accuracy": 0.5, "warning": warning}} if warning else {}
    (run / "search" / "loss_weights.json").write_text(json.dumps({"weights": {"l1": 1.0}, "extra": extra}))
    return run


def test_report_warns_about_the_judge_and_near_uniform_weights(tmp_path):
    flat = {"enc.head": [0.26, 0.25, 0.25, 0.24], "hnu1.ru0": [0.12] + [0.11] * 8, "dec.tail": [0.7, 0.1, 0.1, 0.1]}
    run = _search_dir(tmp_path, flat, "classifier c.pt: held-out accuracy 0.500 < 0.90 on 48px windows")
    text = write_report(run).read_text()
    warnings = text[text.index("## Warnings") : text.index("## Searched loss weights")]
    assert "held-out accuracy 0.500 < 0.90" in warnings
    assert "2 of 3 searched layers kept near-uniform" in warnings and "enc.head (0.260)" in warnings
    assert "dec.tail" not in warnings
    assert set(near_uniform_layers({"probabilities": flat})) == {"enc.head", "hnu1.ru0"}
    assert max(flat["enc.head"]) < NEAR_UNIFORM / 4


def test_no_warnings_section_for_a_trusted_judge_and_decided_layers(tmp_path):
    run = _search_dir(tmp_path / "ok", {"enc.head": [0.7, 0.1, 0.1, 0.1]}, None)
    assert "## Warnings" not in write_report(run).read_text()
