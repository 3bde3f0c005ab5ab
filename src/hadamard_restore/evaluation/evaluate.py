"""Full-resolution evaluation of a trained model on paired images (docs/evaluation.md §4).

For each pair: the whole degraded image goes through the network (B = 1; the network
reflect-pads to a multiple of 4 and crops back), the output is clamped to [0, 1] and
quantised to 8 bits exactly as ``outputs/<name>.png`` stores it, and PSNR, SSIM and LPIPS
are computed from those 8-bit values against the reference (``hadamard_restore.metrics``):

* PSNR: RGB (or Y with ``y_channel``), peak 1.0 on [0, 1] values (= 255 on uint8), optional
  ``crop_border``; SSIM: Gaussian 11x11, sigma 1.5, per channel, averaged;
  LPIPS: AlexNet (or VGG) v0.1 heads, inputs mapped to [-1, 1].
* The same metrics for the degraded input against the reference, so the gain is visible.
* GT-mean PSNR and SSIM (``gt_mean_psnr``, ``gt_mean_ssim``): the output's mean brightness first
  matched to the reference's (``metrics.gt_mean``), a labelled extra column, never the headline.
* ``appearance``: black level, contrast, saturation, pixel-grid checkerboard and border frame of
  the output against the reference (``evaluation.appearance``), per image and mean.
* The network runs on the fast path that ``enhance`` uses (:mod:`hadamard_restore.inference.fastpath`,
  ``backend="auto"``: the platform's preferred backend once it matches eager on a crop), in full
  precision by default (``precision="fp32"``: the scores do not depend on whether the CPU has native
  bf16); ``backend="eager"`` runs the plain network.

``metrics.json`` records the protocol flags, the model's genotype and loss weights, the
mean over images and one row per image; ``grid.png`` shows input | output | reference for
the first ``grid_images`` pairs.
"""

from __future__ import annotations

from pathlib import Path

from hadamard_restore.artifacts import write_json
from hadamard_restore.backbones import weights
from hadamard_restore.config import EvalConfig
from hadamard_restore.data.io import write_image
from hadamard_restore.errors import DataError, WeightsMissingError
from hadamard_restore.evaluation.appearance import summarize
from hadamard_restore.evaluation.scoring import METRICS, mean_of, protocol, score_pairs
from hadamard_restore.evaluation.selection import select_pairs
from hadamard_restore.inference.fastpath.runner import FastPath
from hadamard_restore.net.model_file import load_model, read_model_file
from hadamard_restore.reporting.grid import GRID_COLUMNS, comparison_grid
from hadamard_restore.runtime.log import get_logger
from hadamard_restore.runtime.output_guard import check_output_dir, guard_outputs
from hadamard_restore.runtime.process import pick_device

log = get_logger("hadamard_restore.evaluate")


def eval_pairs(data_root: str | Path, layout: str | None = None, split: str | Path | None = None) -> list:
    """The pairs to score: all pairs under ``data_root``, or the validation part of ``split``
    (verified against the files, names and sha256); :func:`.selection.select_pairs` says more."""
    return select_pairs(data_root, layout, split=split).pairs


def evaluate(
    checkpoint: str | Path,
    data_root: str | Path,
    layout: str | None = None,
    split: str | Path | None = None,
    out: str | Path | None = None,
    eval_cfg: EvalConfig | None = None,
    device: str = "auto",
    save_outputs: bool = True,
    degraded_dir: str | None = None,
    reference_dir: str | None = None,
    backend: str = "auto",
    precision: str = "fp32",
) -> dict:
    """Score ``checkpoint`` on the pairs under ``data_root``; see the module docstring.

    Args:
        checkpoint: ``model.pt`` (or ``last.pt``) from training.
        data_root: a paired folder in a known layout.
        layout: layout name (auto-detected when None).
        split: a split file; only its validation pairs are scored.
        out: output folder (default ``<checkpoint folder>/eval``).
        eval_cfg: a ``config.EvalConfig`` (defaults when None).
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        save_outputs: write ``outputs/<name>.png``.
        degraded_dir, reference_dir: the two folders (relative to ``data_root``) for layout ``paired``.
        backend, precision: the fast path's choice (see the module docstring).

    Returns:
        The metrics dict written to ``out/metrics.json`` (with ``"path"`` added).
    """
    read_model_file(checkpoint)  # a bad checkpoint fails before the data are scanned
    chosen = select_pairs(data_root, layout, degraded_dir, reference_dir, split)
    return evaluate_pairs(
        checkpoint,
        chosen.pairs,
        out,
        eval_cfg,
        device,
        save_outputs,
        chosen.source(Path(data_root)),
        backend,
        precision,
    )


def check_outputs(checkpoint: str | Path, pairs: list, out: Path, save_outputs: bool = True) -> None:
    """The files :func:`evaluate_pairs` writes into ``out`` can be written, replace no input, and
    no two pairs share an output name.

    Raises:
        OutputConflictError, OutputPathError: naming the paths involved.
    """
    check_output_dir(out)
    guard_outputs(
        {
            "checkpoint": checkpoint,
            "degraded image": [p.degraded for p in pairs],
            "reference image": [p.reference for p in pairs],
        },
        {
            "metrics file": out / "metrics.json",
            "comparison grid": out / "grid.png",
            "output image": [out / "outputs" / f"{Path(p.degraded).stem}.png" for p in pairs] if save_outputs else None,
        },
    )


def evaluate_pairs(
    checkpoint: str | Path,
    pairs: list,
    out: str | Path | None = None,
    eval_cfg: EvalConfig | None = None,
    device: str = "auto",
    save_outputs: bool = True,
    source: dict | None = None,
    backend: str = "auto",
    precision: str = "fp32",
) -> dict:
    """:func:`evaluate` on an explicit list of ``Pair(degraded, reference)``; ``source`` is recorded."""
    if not pairs:
        raise DataError("no pairs to evaluate")
    ecfg = eval_cfg or EvalConfig()
    out = Path(out) if out is not None else Path(checkpoint).resolve().parent / "eval"
    check_outputs(checkpoint, pairs, out, save_outputs)  # before the model runs on any image
    dev = pick_device(device)
    model, meta = load_model(checkpoint, dev)
    lpips_ok, lpips_note = True, None
    try:
        weights.lpips_model(ecfg.lpips_net)
    except WeightsMissingError as exc:
        lpips_ok, lpips_note = False, str(exc)
        log.warning("LPIPS skipped: %s", exc)
    fast = FastPath(model.eval(), dev, backend, precision)  # the backend enhance would use, checked
    rows, grid_rows, failed = score_pairs(fast, pairs, out, ecfg, dev, lpips_ok, save_outputs)
    if not rows:
        raise DataError(
            f"none of the {len(pairs)} pair(s) could be evaluated: " + "; ".join(f["reason"] for f in failed[:5])
        )
    result = {
        "checkpoint": str(Path(checkpoint).resolve()),
        "data": None,
        "layout": None,
        "split": None,
        **(source or {}),
        "count": len(rows),
        "backend": {"backend": backend, "precision": precision},
        "protocol": protocol(ecfg, lpips_note),
        "genotype": meta.get("genotype"),
        "loss_weights": meta.get("loss_weights"),
        "net": meta.get("net"),
        "mean": {k: mean_of(rows, k) for k in METRICS},
        "input_mean": {k: mean_of(rows, f"input_{k}") for k in METRICS},
        "appearance": summarize([r["appearance"] for r in rows]),
        "per_image": rows,
        "failed": failed,
    }
    path = write_json(out / "metrics.json", result)
    if grid_rows:
        write_image(out / "grid.png", comparison_grid(grid_rows, labels=GRID_COLUMNS))
    m, i = result["mean"], result["input_mean"]
    log.info(
        "%d images: PSNR %.3f dB (input %.3f), SSIM %.4f (input %.4f); GT-mean PSNR %.3f dB, SSIM %.4f",
        len(rows),
        m["psnr"] or float("nan"),
        i["psnr"] or float("nan"),
        m["ssim"] or float("nan"),
        i["ssim"] or float("nan"),
        m["gt_mean_psnr"] or float("nan"),
        m["gt_mean_ssim"] or float("nan"),
    )
    return {**result, "path": str(path)}
