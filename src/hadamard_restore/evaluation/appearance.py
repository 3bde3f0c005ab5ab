"""Appearance of restored images against their references: the numbers PSNR hides (docs/evaluation.md §4).

Per image, on ``(3, H, W)`` RGB in [0, 1] (the 8-bit values as saved), with luminance
``L = 0.299 R + 0.587 G + 0.114 B``:

* ``black_level``: the 1st percentile of L (nearest rank), the darkest 1 % of pixels; a grey veil
  lifts it above the reference's.
* ``contrast``: the standard deviation of L (population); reported as output / reference.
* ``saturation``: the mean HSV saturation ``(max - min) / max`` (0 where max = 0); output / reference.
* ``grid_energy``: the amplitude of a checkerboard locked to the pixel grid (the pattern stride-2
  transposed convolutions leave): the mean over non-overlapping 2x2 blocks of L of
  ``|a - b - c + d| / 4`` (a, d on one diagonal), which is exactly A for ``smooth + A (-1)^(i+j)``
  and near 0 for smooth content; reported as output / reference and output / input.
* ``grid_peak``: the same blocks' signed mean, ``|mean(a - b - c + d)| / 4``, which is the DFT
  magnitude of L at the pixel-grid Nyquist frequency (H/2, W/2) divided by the pixel count: a
  checkerboard with one phase across the image keeps it at A, while texture and noise, whose
  signs vary, average out; reported as output / reference and output / input.
* ``border_frame``: the mean of L in a band of ``BORDER_BAND`` pixels along the four edges minus
  the mean of L inside it; reported as output minus reference (a bright frame is > 0).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from hadamard_restore.data.io import read_image
from hadamard_restore.data.layouts import list_images, match_folders
from hadamard_restore.errors import DataError
from hadamard_restore.metrics.gt_mean import GRAY_WEIGHTS

BORDER_BAND = 4
MEASURES = ("black_level", "contrast", "saturation", "grid_energy", "grid_peak", "border_frame")


def luminance(img: torch.Tensor) -> torch.Tensor:
    """(3, H, W) RGB -> (H, W) float64 ``0.299 R + 0.587 G + 0.114 B``."""
    if img.dim() != 3 or img.shape[0] != 3:
        raise ValueError(f"appearance: expected one (3, H, W) RGB image, got shape {tuple(img.shape)}")
    w = torch.tensor(GRAY_WEIGHTS, dtype=torch.float64).view(3, 1, 1)
    return (img.to(torch.float64).cpu() * w).sum(dim=0)


def black_level(img: torch.Tensor, fraction: float = 0.01) -> float:
    """The ``fraction`` quantile of the luminance (nearest rank: the k-th smallest, k = ceil(fraction n))."""
    flat = luminance(img).flatten()
    k = min(flat.numel(), max(1, math.ceil(fraction * flat.numel())))
    return float(torch.kthvalue(flat, k).values)


def contrast(img: torch.Tensor) -> float:
    """The standard deviation of the luminance over the pixels (population, not sample)."""
    return float(luminance(img).std(unbiased=False))


def saturation(img: torch.Tensor) -> float:
    """The mean HSV saturation ``(max - min) / max`` over the pixels, 0 for black pixels."""
    x = img.to(torch.float64).cpu()
    hi, lo = x.max(dim=0).values, x.min(dim=0).values
    sat = torch.where(hi > 0, (hi - lo) / hi.clamp_min(1e-12), torch.zeros_like(hi))
    return float(sat.mean())


def _block_diagonals(img: torch.Tensor) -> torch.Tensor:
    """``a - b - c + d`` of every non-overlapping 2x2 block of the luminance (odd last row/column dropped)."""
    lum = luminance(img)
    h, w = (lum.shape[0] // 2) * 2, (lum.shape[1] // 2) * 2
    if h == 0 or w == 0:
        raise ValueError(f"appearance: a {tuple(img.shape[1:])} image has no 2x2 block")
    y = lum[:h, :w]
    return y[0::2, 0::2] - y[1::2, 0::2] - y[0::2, 1::2] + y[1::2, 1::2]


def grid_energy(img: torch.Tensor) -> float:
    """The mean over 2x2 blocks of ``|a - b - c + d| / 4`` on the luminance: the local checkerboard amplitude."""
    return float(_block_diagonals(img).abs().mean() / 4)


def grid_peak(img: torch.Tensor) -> float:
    """``|mean(a - b - c + d)| / 4`` over the 2x2 blocks: the Nyquist-frequency DFT magnitude per pixel."""
    return float(_block_diagonals(img).mean().abs() / 4)


def border_frame(img: torch.Tensor, band: int = BORDER_BAND) -> float:
    """The mean luminance of the ``band``-pixel border minus the mean of the interior."""
    lum = luminance(img)
    h, w = lum.shape
    if 2 * band >= min(h, w):
        raise ValueError(f"appearance: a {h}x{w} image has no interior inside a {band}-pixel border")
    inner = torch.zeros_like(lum, dtype=torch.bool)
    inner[band : h - band, band : w - band] = True
    return float(lum[~inner].mean() - lum[inner].mean())


def measure(img: torch.Tensor) -> dict[str, float]:
    """Every measure of :data:`MEASURES` for one image."""
    return {
        "black_level": black_level(img),
        "contrast": contrast(img),
        "saturation": saturation(img),
        "grid_energy": grid_energy(img),
        "grid_peak": grid_peak(img),
        "border_frame": border_frame(img),
    }


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def compare(output: torch.Tensor, reference: torch.Tensor, degraded: torch.Tensor | None = None) -> dict:
    """The measures of output, reference (and input), and the comparisons the model cards report."""
    out, ref = measure(output), measure(reference)
    row: dict = {"output": out, "reference": ref}
    row["contrast_ratio"] = _ratio(out["contrast"], ref["contrast"])
    row["saturation_ratio"] = _ratio(out["saturation"], ref["saturation"])
    row["grid_energy_ratio"] = _ratio(out["grid_energy"], ref["grid_energy"])
    row["grid_peak_ratio"] = _ratio(out["grid_peak"], ref["grid_peak"])
    row["border_frame_difference"] = out["border_frame"] - ref["border_frame"]
    if degraded is not None:
        row["input"] = measure(degraded)
        row["grid_energy_vs_input"] = _ratio(out["grid_energy"], row["input"]["grid_energy"])
        row["grid_peak_vs_input"] = _ratio(out["grid_peak"], row["input"]["grid_peak"])
    return row


def summarize(rows: list[dict]) -> dict:
    """The mean over images of every number in the :func:`compare` rows (None values skipped)."""

    def mean(values: list) -> float | None:
        kept = [v for v in values if v is not None]
        return sum(kept) / len(kept) if kept else None

    out: dict = {}
    for key, value in rows[0].items() if rows else ():
        if isinstance(value, dict):
            out[key] = {m: mean([r[key][m] for r in rows]) for m in value}
        else:
            out[key] = mean([r.get(key) for r in rows])
    return {"count": len(rows), "border_band": BORDER_BAND, "black_level_fraction": 0.01, **out}


def measure_folders(outputs: Path, references: Path, inputs: Path | None = None) -> dict:
    """:func:`compare` for every output image against its reference (paired by name, as
    ``data.layouts.match_folders`` pairs a degraded folder), with the input of the same name when ``inputs`` is given.

    Returns:
        ``{"outputs", "references", "inputs", "appearance": summarize(rows), "per_image": [...]}``.

    Raises:
        DataError: a folder is missing or empty, names do not match, or sizes differ.
    """
    pairs, unmatched, _ = match_folders(Path(outputs), Path(references), strict=False)  # spare references are fine
    if unmatched:
        names = ", ".join(p.name for p in unmatched[:5]) + (
            f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else ""
        )
        raise DataError(f"{len(unmatched)} output(s) have no reference of the same name in {references}: {names}")
    by_stem = {p.stem.lower(): p for p in list_images(Path(inputs))} if inputs is not None else {}
    rows = []
    for pair in pairs:
        out, ref = read_image(pair.degraded), read_image(pair.reference)
        src = by_stem.get(pair.degraded.stem.lower()) if inputs is not None else None
        if inputs is not None and src is None:
            raise DataError(f"{inputs} has no input image named like {pair.degraded.name}; pass the matching folder")
        inp = read_image(src) if src is not None else None
        for other, path in ((ref, pair.reference), (inp, src)):
            if other is not None and other.shape != out.shape:
                raise DataError(
                    f"{pair.degraded} is {tuple(out.shape[1:])} but {path} is {tuple(other.shape[1:])}; "
                    "compare images of the same size"
                )
        rows.append({"name": pair.degraded.name, **compare(out, ref, inp)})
    return {
        "outputs": str(Path(outputs).resolve()),
        "references": str(Path(references).resolve()),
        "inputs": str(Path(inputs).resolve()) if inputs is not None else None,
        "appearance": summarize([{k: v for k, v in r.items() if k != "name"} for r in rows]),
        "per_image": rows,
    }


def format_summary(block: dict) -> str:
    """The mean appearance numbers as a few lines of text."""

    def num(value: float | None, digits: int = 3) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    out, ref = block["output"], block["reference"]
    lines = [
        f"{block['count']} images (luminance 0.299 R + 0.587 G + 0.114 B, values in [0, 1])",
        f"  black level (1st percentile): output {num(out['black_level'])}, reference {num(ref['black_level'])}",
        f"  contrast (std): output / reference {num(block['contrast_ratio'])}",
        f"  saturation (mean HSV S): output / reference {num(block['saturation_ratio'])}",
        f"  pixel-grid checkerboard: output {num(out['grid_energy'], 4)}, reference {num(ref['grid_energy'], 4)}, "
        f"ratio {num(block['grid_energy_ratio'])}"
        + (f", output / input {num(block['grid_energy_vs_input'])}" if "grid_energy_vs_input" in block else ""),
        f"  pixel-grid Nyquist peak: output {num(out['grid_peak'], 5)}, reference {num(ref['grid_peak'], 5)}, "
        f"ratio {num(block['grid_peak_ratio'])}"
        + (f", output / input {num(block['grid_peak_vs_input'])}" if "grid_peak_vs_input" in block else ""),
        f"  border frame ({block['border_band']} px band minus interior): output minus reference "
        f"{num(block['border_frame_difference'], 4)}",
    ]
    return "\n".join(lines)
