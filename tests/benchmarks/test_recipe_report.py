"""benchmarks.studies.recipe_report: each question pairs its recipes per seed at one budget, the
up-sampler tables show PSNR and checkerboard side by side, a longer run gets a length table, and the
same cells on two machines get a machine table."""

from __future__ import annotations

import json

from benchmarks.studies import recipe_report as RR
from benchmarks.studies import recipe_study as R


def _cell(recipe: str, seed: int, psnr: float, peak: float) -> dict:
    dev = {
        "count": 13,
        "psnr": psnr,
        "ssim": 0.8,
        "input_psnr": 14.0,
        "appearance": {k: 1.0 for k in RR.APPEARANCE} | {"grid_peak_ratio": peak},
    }
    return {
        "task": "lsui",
        "recipe": recipe,
        "steps": 3000,
        "seed": seed,
        "val": [{"step": 3000, "psnr_raw": psnr, "psnr_ema": psnr}],
        "dev_eval": dev,
        "best_step": 3000,
        "best_weights": "raw",
        "wall_s": 60.0,
        "load_average": {"before": [2.0, 2.0, 2.0]},
    }


def _render(ledger, cells: list[dict], tag: str = "tag") -> str:
    """Write each cell where the study keeps it (by its budget) and render the report."""
    for c in cells:
        path = R.cell_file(ledger, tag, c["task"], c["recipe"], RR._budget(c), c["seed"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(c))
    return RR.render(ledger, tag).read_text()


def test_the_upsampler_table_puts_psnr_beside_the_checkerboard(tmp_path):
    cells = [
        _cell("crop128x1", 0, 18.0, 40.0),
        _cell("crop128x1", 1, 18.2, 60.0),
        _cell("crop128x1-resize", 0, 18.3, 2.0),
    ]
    text = _render(tmp_path, cells)
    assert "## crop and batch" not in text  # one side only (crop128x1): no comparison to show
    section = text.split("## up-sampler (transposed convolution vs resize-convolution): LSUI (underwater)")[1]
    assert "13 development validation pairs (input 14.00 dB)" in section
    rows = [line for line in section.splitlines() if line.startswith("| crop128x1")]
    assert (
        rows[-2].startswith("| crop128x1 | 3000 | 2 | step 3000 raw, step 3000 raw | 18.10 ± 0.10 |")
        and "50.00 ± 10.00" in rows[-2]
    )
    assert (
        rows[-1].startswith("| crop128x1-resize | 3000 | 1 | step 3000 raw | 18.30 (1 seed) |")
        and "2.00 (1 seed)" in rows[-1]
    )


def test_each_question_states_its_paired_answer_per_seed(tmp_path):
    """The verdict line pairs seeds (the second recipe minus the first at the last step both reached)
    and uses the budget study's rule: beyond 2 s.e. "loses to"/"beats", else "within"."""
    cells = [
        _cell("crop128x1", 0, 18.0, 40.0),
        _cell("crop128x1", 1, 18.2, 60.0),
        _cell("crop128x1", 2, 17.0, 60.0),  # no partner: not paired
        _cell("crop128x1-resize", 0, 17.5, 2.0),
        _cell("crop128x1-resize", 1, 17.6, 2.0),
    ]
    cells[3]["val"] = [{"step": 1500, "psnr_raw": 19.0, "psnr_ema": 19.0}, *cells[3]["val"]]
    cells[4]["val"][0]["psnr_ema"] = 18.4
    text = _render(tmp_path, cells)
    raw = next(line for line in text.splitlines() if line.startswith("- paired, raw"))
    ema = next(line for line in text.splitlines() if line.startswith("- paired, ema"))
    # raw: -0.5 and -0.6 -> mean -0.55, s.e. 0.05: beyond 2 s.e.
    assert raw == (
        "- paired, raw weights at step 3000: crop128x1-resize loses to crop128x1: -0.55 ± 0.05 dB (s.e., 2 seeds); "
        "per seed -0.50, -0.60"
    )
    # ema: -0.5 and +0.2 -> mean -0.15, s.e. 0.35: within
    assert "crop128x1-resize is within 2 s.e. of crop128x1: -0.15 ± 0.35 dB" in ema


def test_a_longer_run_gets_a_length_table_and_stays_out_of_the_questions(tmp_path):
    """A recipe run at two lengths: the question tables compare only cells of one length (a 10k-step
    cell's curve is not a 3k-step cell's, the cosine schedule spans each run), and a length table pairs
    each seed's longer run, at its own end, with its shorter one."""

    def cell(recipe: str, steps: int, seed: int, curve: dict[int, float]) -> dict:
        c = _cell(recipe, seed, curve[max(curve)], 1.0) | {"task": "lol", "steps": steps}
        return c | {"val": [{"step": s, "psnr_raw": v, "psnr_ema": v + 0.1} for s, v in curve.items()]}

    cells = [
        cell("crop128x1", 3000, 0, {1000: 18.0, 3000: 19.0}),
        cell("crop128x1", 3000, 1, {1000: 18.2, 3000: 19.2}),
        cell("crop128x1-equal", 3000, 0, {1000: 18.1, 3000: 19.1}),
        cell("crop128x1-equal", 3000, 1, {1000: 18.3, 3000: 19.1}),
        cell("crop128x1", 10000, 0, {1000: 17.0, 3000: 18.5, 10000: 19.6}),
        cell("crop128x1", 10000, 1, {1000: 17.5, 3000: 18.7, 10000: 19.7}),
    ]
    text = _render(tmp_path, cells)
    loss = text.split("## loss weights (searched β vs equal): LOL (low light)")[1].split("## ")[0]
    assert "step 10000" not in loss and "| crop128x1 (raw) | 2 | 18.10 ± 0.10 | 19.10 ± 0.10 |" in loss
    length = text.split("## length (crop128x1, the cosine schedule spans each length): LOL (low light)")[1]
    assert "| crop128x1, 3000 steps (raw) | 2 | 18.10 ± 0.10 | 19.10 ± 0.10 | — |" in length
    assert "| crop128x1, 10000 steps (raw) | 2 | 17.25 ± 0.25 | 18.60 ± 0.10 | 19.65 ± 0.05 |" in length
    raw = next(line for line in length.splitlines() if line.startswith("- paired, raw"))
    # per seed 19.6 - 19.0 and 19.7 - 19.2: +0.55 ± 0.05, beyond 2 s.e.
    assert raw == (
        "- paired, raw weights at step 10000 vs 3000: crop128x1, 10000 steps beats crop128x1, 3000 steps: "
        "+0.55 ± 0.05 dB (s.e., 2 seeds); per seed +0.60, +0.50"
    )
    assert "| crop128x1, 3000 steps | 3000 | 2 |" in length and "| crop128x1, 10000 steps | 10000 | 2 |" in length


def test_an_equal_pixel_budget_pairs_each_run_at_its_own_end(tmp_path):
    """1 x 192 px crops run 4/9 of the 1 x 128 px steps: the question table puts the two recipes side by
    side at their shared budget, labels the shorter run with its own steps, and pairs each seed at each
    run's own last step (the 192 px run never reaches step 3000)."""

    def cell(recipe: str, steps: int, seed: int, curve: dict[int, float]) -> dict:
        c = _cell(recipe, seed, curve[max(curve)], 1.0) | {"task": "lol", "steps": steps, "budget_steps": 3000}
        return c | {"val": [{"step": s, "psnr_raw": v, "psnr_ema": v} for s, v in curve.items()]}

    cells = [
        cell("crop128x1", 3000, 0, {1000: 18.0, 3000: 19.0}),
        cell("crop128x1", 3000, 1, {1000: 18.2, 3000: 19.2}),
        cell("crop192x1", 1333, 0, {1000: 18.9, 1333: 19.5}),
        cell("crop192x1", 1333, 1, {1000: 19.0, 1333: 19.8}),
    ]
    del cells[0]["budget_steps"]  # a cell from before the field: its budget is its own length
    text = _render(tmp_path, cells)
    section = text.split("## crop size at an equal pixel budget (1 x 192 px for 4/9 of the steps): LOL (low light)")[1]
    assert "| recipe | seeds | step 1000 | step 1333 | step 3000 |" in section
    assert "| crop192x1 (1333 steps) (raw) | 2 | 18.95 ± 0.05 | 19.65 ± 0.15 | — |" in section
    raw = next(line for line in section.splitlines() if line.startswith("- paired, raw"))
    # per seed 19.5 - 19.0 and 19.8 - 19.2: +0.55 ± 0.05, beyond 2 s.e.
    assert raw == (
        "- paired, raw weights at step 1333 vs 3000: crop192x1 (1333 steps) beats crop128x1: "
        "+0.55 ± 0.05 dB (s.e., 2 seeds); per seed +0.50, +0.60"
    )
    assert "| crop192x1 (1333 steps) | 1333 | 2 |" in section
    assert "## length" not in text  # one budget per recipe: no length table


def test_the_same_cells_on_two_machines_get_a_paired_machine_table(tmp_path):
    """A recipe run with the same seeds and length under two machine tags: each report pairs the
    seeds across the machines and names the arithmetic each ran in; cells of one machine only get none."""
    zen4 = [_cell("crop128x1", s, v, 1.0) | {"precision": "bf16 autocast"} for s, v in ((0, 18.0), (1, 18.2))]
    zen3 = [_cell("crop128x1", s, v, 1.0) | {"precision": "float32"} for s, v in ((0, 18.1), (1, 18.1))]
    zen3.append(_cell("crop128x1-icnr", 0, 18.4, 1.0))  # not on the other machine: no machine table
    for tag, cells in (("zen4", zen4), ("zen3", zen3)):
        for c in cells:
            path = R.cell_file(tmp_path, tag, c["task"], c["recipe"], c["steps"], c["seed"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(c))
    text = RR.render(tmp_path, "zen3").read_text()
    (section,) = [part for part in text.split("## ")[1:] if part.startswith("machine")]
    assert section.startswith("machine (crop128x1, 3000 steps, zen4 vs zen3): LSUI (underwater)")
    assert "| crop128x1 on zen4 (bf16 autocast) (raw) | 2 | 18.10 ± 0.10 |" in section
    raw = next(line for line in section.splitlines() if line.startswith("- paired, raw"))
    # per seed +0.10 and -0.10: 0.00 ± 0.10, within
    assert raw.startswith(
        "- paired, raw weights at step 3000: crop128x1 on zen3 (float32) is within 2 s.e. of "
        "crop128x1 on zen4 (bf16 autocast): +0.00 ± 0.10 dB"
    )
    assert "| crop128x1 on zen3 (float32) | 3000 | 2 |" in section  # appearance rows named by machine
    assert "crop128x1-icnr on" not in text
