"""Turn a finished ``tools/make_pretrained.py`` run into a bundled model (``model.pt`` + card).

``package_run(run_dir, name)`` writes ``<models>/<name>/{model.pt, card.json, heldout.json}``:

1. **Weights**: the run's ``train/model.pt`` (best EMA weights by development-validation PSNR)
   with its ``state_dict`` stored in fp16 when the output parity holds, else fp32. Parity:
   the full-resolution first held-out image through the fp32 and the fp16-stored network
   (both computing in fp32); fp16 is shipped when the largest absolute output difference is
   at most ``tolerance`` (default 1/255: the 8-bit outputs then differ by at most one code).
2. **Held-out metrics**: PSNR/SSIM/LPIPS from ``eval/metrics.json`` when the shipped weights
   are the evaluated fp32 ones; fp16 weights are evaluated again (``evaluate_pairs``, the code
   of ``hadamard-restore evaluate``) so the card holds the numbers of the file it describes.
   Colour errors (mean CIEDE2000, mean colour angle; :mod:`.colour`) come from the saved 8-bit
   outputs when ``eval/metrics.json`` lacks them.
3. **Card**: :mod:`.card` facts plus the above and the weights' sha256.
4. **Replacing a bundled model**: the new files are written to a staging folder first. When
   ``<name>/card.json`` exists, the new model ships only if it scored a higher held-out PSNR on
   the *same* held-out pairs (equal split sha256); otherwise nothing is replaced and
   :class:`~.card.PackageError` says both numbers (``replace_worse`` ships it anyway). The old
   card is condensed into the new card's ``history`` (oldest first), so a card keeps every model
   that was ever shipped under its name, with its held-out numbers and budget.
5. **Every held-out pair**: a model ships only if every held-out pair was evaluated and its
   output beats the input's PSNR on each of them (the card's ``heldout.pairs`` records the
   count below the input and the worst pair). A better mean can hide an image the model makes
   worse than doing nothing (an underwater photo whose strong cast it leaves, say), and the
   bundled-model tests refuse such a model; ``accept_input_losses`` packages it anyway.

The output is deterministic: the same run directory and the same existing card give
byte-identical files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from hadamard_restore.artifacts import atomic_write_bytes, atomic_write_text, sha256_file
from hadamard_restore.data.integrity import verify_split
from hadamard_restore.data.io import read_image
from hadamard_restore.data.split import Split
from hadamard_restore.evaluation.evaluate import evaluate_pairs
from hadamard_restore.inference.enhance import infer, quantize_8bit
from hadamard_restore.net.model_file import load_model, load_state_into, network_from_meta, read_model_file
from hadamard_restore.runtime.checkpoint import save_checkpoint
from hadamard_restore.zoo import card as facts
from hadamard_restore.zoo.colour import colour_errors
from hadamard_restore.zoo.registry import CARD_FORMAT, CARD_VERSION, models_dir

DEFAULT_TOLERANCE = 1.0 / 255.0
SHIPPED_FILES = ("model.pt", "heldout.json", "card.json")  # the card last
HISTORY_METRICS = ("psnr", "ssim", "lpips", "ciede2000", "colour_angle", "gt_mean_psnr")


def _heldout_pairs(run_dir: Path, data_root: Path | None) -> tuple[list, Path]:
    """The held-out pairs (files verified against the split's sha256s) and the dataset root used."""
    split = Split.load(run_dir / "heldout.json")
    if split.root is None:  # written by hand: make_split always records its root
        raise facts.PackageError(
            f"{run_dir / 'heldout.json'} records no dataset root; write it with `hadamard-restore data split`"
        )
    root = Path(split.root)
    if not root.is_dir() and data_root is not None:
        root = data_root / root.name
    if not root.is_dir():
        raise facts.PackageError(
            f"the held-out images of {run_dir / 'heldout.json'} are not at {split.root}; "
            "set HADAMARD_RESTORE_DATA (or --data-root) to the data folder"
        )
    verify_split(split, root)
    return split.pairs(root)[1], root


def parity(blob: dict, image: torch.Tensor) -> dict:
    """Outputs of the fp32 and the fp16-stored weights on ``image`` (3, H, W): differences."""
    outs = []
    for dtype in (torch.float32, torch.float16):
        net = network_from_meta(blob["meta"]).eval()  # the run's own net settings (norm included)
        load_state_into(net, {k: v.to(dtype) if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
        with torch.inference_mode():
            outs.append(net(image[None]).clamp(0, 1)[0])
    diff = (outs[0] - outs[1]).abs()
    codes = ((outs[0] * 255).round() != (outs[1] * 255).round()).float().mean()
    return {
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "fraction_8bit_codes_changed": float(codes),
    }


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def save_shipped(path: Path, blob: dict, name: str, dtype: torch.dtype) -> Path:
    """Write the model file to ship (a ``model`` checkpoint): the run's meta plus ``pretrained``,
    floating tensors in ``dtype``."""
    meta = dict(blob["meta"], pretrained={"name": name, "dtype": _dtype_name(dtype)})
    state = {
        k: v.to(dtype).contiguous() if v.is_floating_point() else v.contiguous()
        for k, v in sorted(blob["state_dict"].items())
    }
    return save_checkpoint(path, "model", {"meta": meta, "state_dict": state})


def heldout_metrics(run_dir: Path, weights: Path, fp32: bool, pairs: list, data_root: Path | None) -> dict:
    """Mean held-out metrics of ``weights`` with the input-vs-reference row, colour errors included."""
    with tempfile.TemporaryDirectory() as tmp:
        metrics_file = run_dir / "eval" / "metrics.json"
        if fp32 and metrics_file.is_file():
            result, outputs = json.loads(metrics_file.read_text()), run_dir / "eval" / "outputs"
        else:
            result = evaluate_pairs(weights, pairs, Path(tmp), device="cpu")
            outputs = Path(tmp) / "outputs"
        mean, base = dict(result["mean"]), dict(result["input_mean"])
        if "ciede2000" not in mean:
            colour = _colour(pairs, outputs, weights)
            mean.update(colour["model"])
            base.update(colour["input"])
    return {
        "count": result["count"],
        "model": mean,
        "input": base,
        "protocol": "full resolution, 8-bit outputs, RGB PSNR/SSIM (Gaussian 11, sigma 1.5), "
        "LPIPS AlexNet v0.1; colour: mean CIEDE2000 and mean RGB angle (degrees)",
        "evaluated_weights": "shipped file" if not fp32 else "train/model.pt (identical to the shipped fp32 file)",
        "fp32_eval": json.loads(metrics_file.read_text())["mean"] if metrics_file.is_file() else None,
        "appearance": result.get("appearance"),  # black level, contrast, saturation, checkerboard, frame
        "pairs": pair_facts(result),
    }


def pair_facts(result: dict) -> dict:
    """Per-pair facts of an evaluation: pairs that failed, pairs at or below the input's PSNR, the worst."""
    gains = sorted((r["psnr"] - r["input_psnr"], r["name"]) for r in result["per_image"])
    return {
        "failed": [Path(f["degraded"]).name for f in result.get("failed") or []],
        "below_input": sum(gain <= 0 for gain, _ in gains),
        "worst": {"name": gains[0][1], "psnr_gain_db": gains[0][0]},
    }


def check_beats_input(card: dict, accept_input_losses: bool) -> None:
    """Refuse a model that failed on, or does not beat its input on, some held-out pair (module doc, 5)."""
    pairs, name = card["heldout"]["pairs"], card["name"]
    if pairs["failed"]:
        raise facts.PackageError(
            f"{len(pairs['failed'])} held-out pair(s) of the new {name!r} model could not be evaluated "
            f"({', '.join(pairs['failed'][:5])}), so its card would describe fewer pairs than its split; "
            "nothing was written. Fix or remove those files and evaluate again"
        )
    if pairs["below_input"] and not accept_input_losses:
        worst = pairs["worst"]
        raise facts.PackageError(
            f"the new {name!r} model does not beat its input on {pairs['below_input']} of "
            f"{card['heldout']['count']} held-out pairs (worst: {worst['name']}, {worst['psnr_gain_db']:+.2f} dB "
            "PSNR against the input), although its mean is "
            f"{card['heldout']['model']['psnr']:.2f} dB against the input's {card['heldout']['input']['psnr']:.2f}; "
            "a shipped model must make every held-out image better. Nothing was written "
            "(pass --accept-input-losses to package it anyway)"
        )


def _colour(pairs: list, outputs: Path, weights: Path) -> dict:
    """Colour errors from the saved outputs (re-enhanced with ``weights`` where one is missing)."""
    model, rows = None, []
    for pair in pairs:
        deg, ref = read_image(pair.degraded), read_image(pair.reference)
        saved = outputs / f"{Path(pair.degraded).stem}.png"
        if saved.is_file():
            out = read_image(saved)
        else:
            model = model or load_model(weights, "cpu")[0]
            out = quantize_8bit(infer(model, deg, torch.device("cpu")))
        rows.append((quantize_8bit(deg), out, ref))
    return colour_errors(rows)


def _parameters(blob: dict) -> int:
    return int(
        sum(
            v.numel()
            for k, v in blob["state_dict"].items()
            if v.is_floating_point() and not k.endswith(("running_mean", "running_var"))
        )
    )


def build_card(
    run_dir: Path,
    name: str,
    blob: dict,
    weights: Path,
    dtype: torch.dtype,
    parity_facts: dict,
    metrics: dict,
    data_root: Path | None,
    machine: str | None,
) -> dict:
    """The card dict (see :mod:`.registry` for where it lives and how it is checked)."""
    task = facts.train_config(run_dir).get("task") or name
    data = facts.split_facts(run_dir, data_root)
    m, i = metrics["model"], metrics["input"]
    summary = (
        f"{task}, {data['dataset']}: held-out PSNR {m['psnr']:.2f} dB (input {i['psnr']:.2f}), "
        f"SSIM {m['ssim']:.3f} (input {i['ssim']:.3f}), CIEDE2000 {m['ciede2000']:.2f} "
        f"(input {i['ciede2000']:.2f}) on {metrics['count']} pairs"
    )
    genotype = blob["meta"]["genotype"]
    source = facts.fine_tune_source(run_dir)
    return {
        "format": CARD_FORMAT,
        "version": CARD_VERSION,
        "name": name,
        "task": task,
        "summary": summary,
        "data": data,
        "net": dict(blob["meta"].get("net") or {}, parameters=_parameters(blob), genotype_name=genotype.get("name")),
        "genotype": genotype,
        "loss": facts.loss_facts(run_dir, source),
        "classifier": facts.classifier_facts(run_dir, source),
        "commands": facts.commands(run_dir, task, data_root),
        "budget": facts.budget(run_dir, facts.machine(run_dir, machine), source),
        "notes": facts.notes(run_dir),
        **({"init_from": started} if (started := facts.init_from_facts(source)) is not None else {}),
        "heldout": metrics,
        "weights": {
            "file": weights.name,
            "sha256": sha256_file(weights),
            "bytes": weights.stat().st_size,
            "dtype": _dtype_name(dtype),
            "parity": parity_facts,
        },
    }


def history_entry(card: dict) -> dict:
    """The condensed record of a shipped card kept in its successor's ``history``."""
    held = card["heldout"]

    def pick(row: dict) -> dict:
        return {k: row[k] for k in HISTORY_METRICS if k in row}

    return {
        "weights_sha256": card["weights"]["sha256"],
        "summary": card["summary"],
        # upsample: absent from cards of models older than net.upsample (the paper's transposed convolutions)
        "network": {
            k: card["net"][k]
            for k in ("genotype_name", "channels", "norm", "upsample", "parameters")
            if k in card["net"]
        },
        "split_sha256": card["data"]["split"]["sha256"],
        "heldout": {"count": held["count"], "model": pick(held["model"]), "input": pick(held["input"])},
        "train": card["budget"].get("train"),
        "wall_seconds": card["budget"].get("wall_seconds"),
        "machine": card["budget"].get("machine", {}).get("description"),
        "reproduce": card["commands"].get("reproduce"),
    }


def check_replacement(old: dict, new: dict, replace_worse: bool) -> None:
    """Refuse a new card that does not beat ``old`` on the same held-out pairs (see module doc)."""
    if replace_worse:
        return
    name = new["name"]
    if old["data"]["split"]["sha256"] != new["data"]["split"]["sha256"]:
        raise facts.PackageError(
            f"the bundled {name!r} model was scored on other held-out pairs (split sha256 "
            f"{old['data']['split']['sha256'][:12]} vs {new['data']['split']['sha256'][:12]}), so the two "
            "cannot be compared; nothing was replaced. Re-run make_pretrained with the bundled heldout.json, "
            "or pass --replace-worse to ship it anyway"
        )
    before, after = old["heldout"]["model"]["psnr"], new["heldout"]["model"]["psnr"]
    if not after > before:
        raise facts.PackageError(
            f"the new {name!r} model scores {after:.2f} dB on the held-out pairs, not above the bundled "
            f"model's {before:.2f} dB; nothing was replaced (pass --replace-worse to ship it anyway)"
        )


def package_run(
    run_dir: str | Path,
    name: str,
    out_root: str | Path | None = None,
    data_root: str | Path | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    machine: str | None = None,
    replace_worse: bool = False,
    accept_input_losses: bool = False,
) -> Path:
    """Write ``<out_root>/<name>/{model.pt, card.json, heldout.json}`` from a finished run.

    Args:
        run_dir: a ``tools/make_pretrained.py`` run directory (all stages done).
        name: the model name (``low-light``, ``dehaze``, ``underwater``).
        out_root: the models folder (default: the package's ``resources/models``).
        data_root: ``$HADAMARD_RESTORE_DATA`` (the held-out images are read through the split's
            root, or ``data_root/<its last folder>`` when that moved).
        tolerance: the largest fp16-vs-fp32 output difference for which fp16 is shipped.
        machine: what trained it, e.g. ``"GPU: NVIDIA H100"`` (default: ``RUN_DIR/machine.json``,
            else this machine's CPU model and cores).
        replace_worse: replace a bundled model of the same name even when the new one does not
            score a higher held-out PSNR on the same held-out pairs.
        accept_input_losses: package a model that does not beat its input on every held-out pair.

    Returns:
        The model's folder.

    Raises:
        PackageError: a stage's artifact is missing, a held-out pair failed or is not improved
            over its input, or the new model does not beat the bundled one; DataError: held-out
            files differ from the split.
    """
    run_dir = Path(run_dir).resolve()
    facts.check_run_dir(run_dir)
    data_root = Path(data_root).resolve() if data_root is not None else None
    out = Path(out_root if out_root is not None else models_dir()) / name
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.staging-", dir=out.parent))
    try:
        card = _write_package(run_dir, name, staging, data_root, tolerance, machine)
        check_beats_input(card, accept_input_losses)
        old_path = out / "card.json"
        if old_path.is_file():
            try:
                old = json.loads(old_path.read_text())
            except (OSError, ValueError) as exc:
                raise facts.PackageError(
                    f"the bundled card {old_path} is unreadable ({exc}), so the new model cannot be compared "
                    "with it; nothing was replaced. Restore it (e.g. `git checkout -- PATH`) and package again"
                ) from None
            check_replacement(old, card, replace_worse)
            card["history"] = [*old.get("history", []), history_entry(old)]
        atomic_write_text(staging / "card.json", json.dumps(card, indent=2) + "\n")
        out.mkdir(exist_ok=True)
        for file in SHIPPED_FILES:  # until the new card lands, the old card's sha256 refuses the new weights
            os.replace(staging / file, out / file)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _write_package(
    run_dir: Path, name: str, out: Path, data_root: Path | None, tolerance: float, machine: str | None
) -> dict:
    """Write model.pt and heldout.json of ``run_dir`` into ``out``; return the card (not yet written)."""
    blob = read_model_file(run_dir / "train" / "model.pt")
    pairs, _ = _heldout_pairs(run_dir, data_root)
    parity_facts = dict(
        parity(blob, read_image(pairs[0].degraded)), image=Path(pairs[0].degraded).name, tolerance=tolerance
    )
    fp16 = parity_facts["max_abs_diff"] <= tolerance
    dtype = torch.float16 if fp16 else torch.float32
    weights = save_shipped(out / "model.pt", blob, name, dtype)
    metrics = heldout_metrics(run_dir, weights, not fp16, pairs, data_root)
    atomic_write_bytes(out / "heldout.json", (run_dir / "heldout.json").read_bytes())
    return build_card(run_dir, name, blob, weights, dtype, parity_facts, metrics, data_root, machine)
