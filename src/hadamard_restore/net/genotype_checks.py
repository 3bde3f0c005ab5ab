"""The checks behind :meth:`hadamard_restore.net.genotype.Genotype.from_dict`.

Each takes a part of a parsed ``genotype.json`` and appends one line per problem to ``problems``
(so a file's every problem is reported at once), returning the part resolved: paper
abbreviations normalised to code names, numbers as floats. The schema is in
:mod:`hadamard_restore.net.genotype`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from hadamard_restore.config_sections import MAX_CHANNELS, MAX_HNU
from hadamard_restore.net.primitives import ABBREVIATIONS, SPACES, label_primitives, layer_labels, space_of

_HNU_LABEL = re.compile(r"^hnu(\d+)\.")


def checked_num_hnu(value: Any, layers: Mapping[str, str], problems: list[str]) -> int:
    """``num_hnu`` as given, else the largest ``hnuN`` label in ``layers`` (at least 1)."""
    found = [int(m.group(1)) for k in layers if (m := _HNU_LABEL.match(k))]
    inferred = max(found, default=0)
    if inferred > MAX_HNU:  # checked before the labels of that many HNUs are listed
        problems.append(f"layer labels name HNU {inferred}, more than the limit of {MAX_HNU} HNUs")
        inferred = 1
    if value is None:
        if inferred < 1:
            problems.append("no HNU layers (hnu1.ru0 ...) and no num_hnu given")
        return max(inferred, 1)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_HNU:
        problems.append(f"num_hnu must be an integer from 1 to {MAX_HNU}, got {value!r:.40}")
        return max(inferred, 1)
    return value


def check_channels(value: Any, problems: list[str]) -> None:
    """``channels``, the width the genotype was searched at: null or an even integer up to the limit."""
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 4 or value % 2 or value > MAX_CHANNELS:
        problems.append(f"channels must be null or an even integer from 4 to {MAX_CHANNELS}, got {value!r:.40}")


def check_primitives(value: Any, problems: list[str]) -> str:
    """The recorded candidate sets, when given, must be one known space's, exactly in order
    (:data:`~hadamard_restore.net.primitives.SPACES`); returns that space (``paper`` when absent)."""
    if value is None:
        return "paper"
    space = space_of(value)
    if space is None:
        known = "; ".join(f"{name}: {dict(sets)}" for name, sets in SPACES.items())
        problems.append(
            f"primitives {value!r:.300} are not the ordered candidate sets of a known search space ({known}); "
            "the probabilities would be read in the wrong order"
        )
        return "paper"
    return space


def resolve_op(op: str) -> str:
    """The code name of an op (paper abbreviations such as ``C3`` accepted)."""
    return ABBREVIATIONS.get(op, op)


def check_layers(layers: Mapping[str, str], num_hnu: int, problems: list[str], space: str = "paper") -> dict[str, str]:
    """Every label exactly once, each with a candidate op of its layer; returns label -> code name."""
    expected = layer_labels(num_hnu)
    unknown = [k for k in layers if k not in expected]
    missing = [k for k in expected if k not in layers]
    for label in unknown:
        problems.append(
            f"unknown layer label {label!r} (labels look like enc.head, enc.e1a-1, "
            f"hnu1.ru0 ... hnu{num_hnu}.rv3, dec.tail)"
        )
    if missing:
        problems.append(f"missing layer(s): {', '.join(missing)}")
    resolved: dict[str, str] = {}
    for label in expected:
        if label not in layers:
            continue
        op, allowed = resolve_op(layers[label]), label_primitives(label, space)
        if op not in allowed:
            problems.append(
                f"layer {label!r}: op {layers[label]!r} is not a candidate here (choose from {', '.join(allowed)})"
            )
        resolved[label] = op
    return resolved


def check_probabilities(
    value: Any, num_hnu: int, problems: list[str], space: str = "paper"
) -> dict[str, list[float]] | None:
    """Per known label, one finite non-negative value per candidate, summing to 1 (or None)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        problems.append("probabilities must be a mapping of layer label -> list of numbers")
        return None
    expected = set(layer_labels(num_hnu))
    out: dict[str, list[float]] = {}
    for label, probs in value.items():
        if label not in expected:
            problems.append(f"probabilities: unknown layer label {label!r}")
            continue
        n = len(label_primitives(label, space))
        ok = (
            isinstance(probs, list)
            and len(probs) == n
            and all(
                isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p) and p >= 0 for p in probs
            )
        )
        if not ok or abs(sum(probs) - 1.0) > 1e-3:
            problems.append(
                f"probabilities for layer {label!r} must be {n} finite non-negative numbers "
                f"summing to 1 (one per candidate, in primitive order), got {probs!r:.120}"
            )
            continue
        out[label] = [float(p) for p in probs]
    return out
