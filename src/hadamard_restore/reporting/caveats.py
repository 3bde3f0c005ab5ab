"""What a report must warn about before anyone trusts its numbers.

* **An untrustworthy classifier**: the classifier's reliability warning
  (:func:`hadamard_restore.classifier.reliability.reliability_warning`), as recorded in
  ``classifier_metrics.json`` and in the searched ``loss_weights.json`` (``extra.classifier``);
* **Near-uniform architecture weights**: searched layers whose largest softmax(α) stayed below
  :data:`NEAR_UNIFORM` times uniform (1 / number of candidates): the search did not separate their
  candidates, so the op chosen there is close to arbitrary.
"""

from __future__ import annotations

from pathlib import Path

from hadamard_restore.artifacts import read_json

#: a layer is near uniform when max softmax(α) < NEAR_UNIFORM / number of candidates
NEAR_UNIFORM = 1.25
_STAGES = ("search", "train", "")


def _files(run_dir: Path, name: str, stages: tuple[str, ...] = _STAGES) -> list[Path]:
    return [p for s in stages if (p := (run_dir / s / name if s else run_dir / name)).is_file()]


def classifier_warnings(run_dir: str | Path) -> list[str]:
    """The classifier reliability warnings recorded anywhere in the run (each once)."""
    run_dir = Path(run_dir)
    found: list[str] = []
    for path in _files(run_dir, "classifier_metrics.json", ("classifier", "")):
        found.append(read_json(path).get("warning") or "")
    for path in _files(run_dir, "loss_weights.json"):
        record = ((read_json(path).get("extra") or {}).get("classifier")) or {}
        found.append(record.get("warning") or "")
    return list(dict.fromkeys(w for w in found if w))


def near_uniform_layers(genotype: dict, ratio: float = NEAR_UNIFORM) -> dict[str, float]:
    """``{layer: max softmax(α)}`` of the layers whose weights stayed near uniform."""
    out = {}
    for label, row in (genotype.get("probabilities") or {}).items():
        if row and max(row) < ratio / len(row):
            out[label] = max(row)
    return out


def uniform_warning(run_dir: str | Path) -> str | None:
    """One sentence when the searched genotype (with its probabilities) has near-uniform layers."""
    for path in _files(Path(run_dir), "genotype.json"):
        geno = read_json(path)
        if not geno.get("probabilities"):
            continue
        flat = near_uniform_layers(geno)
        if not flat:
            return None
        total = len(geno["probabilities"])
        shown = ", ".join(f"{k} ({v:.3f})" for k, v in list(flat.items())[:8]) + (", ..." if len(flat) > 8 else "")
        return (
            f"{len(flat)} of {total} searched layers kept near-uniform architecture weights (max softmax(α) "
            f"below {NEAR_UNIFORM} / number of candidates): {shown}. The search did not separate their "
            "candidates, so the ops chosen there are close to arbitrary; search longer (search.arch_steps) "
            "or with a larger search.upper_lr."
        )
    return None


def caveats_section(run_dir: str | Path) -> list[str]:
    """``## Warnings`` with one bullet per caveat; no lines when there is nothing to warn about."""
    items = [f"Classifier (stage 1's judge): {w}" for w in classifier_warnings(run_dir)]
    if (flat := uniform_warning(run_dir)) is not None:
        items.append(f"Architecture: {flat}")
    if not items:
        return []
    return ["## Warnings", "", *[f"- **{item.split(':')[0]}**:{item.split(':', 1)[1]}" for item in items], ""]
