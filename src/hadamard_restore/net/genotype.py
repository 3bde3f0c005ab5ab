"""Genotypes: one op per searched layer, stored as JSON, validated on load.

JSON schema (``format`` and ``version`` identify it; unknown top-level keys are errors)::

    {
      "format": "hadamard-restore/genotype",
      "version": 1,
      "name": "paper-lol",                 # optional, free text
      "description": "...",                # optional, free text
      "num_hnu": 7,                        # number of HNUs (labels hnu1..hnuN must match)
      "channels": 32,                      # width it was searched at (informational) or null
      "primitives": {"hnu": [9 names], "fcm": [4 names]},   # a known space's sets, in order
      "layers": {"enc.head": "dilconv_3x3", ..., "hnu1.ru0": "conv_3x3", ..., "dec.tail": "conv_1x1"},
      "probabilities": {"enc.head": [p_conv_5x5, p_conv_1x1, p_conv_3x3, p_dilconv_3x3], ...}
    }                                      # probabilities: optional, softmax(alpha) per layer

``primitives`` names the search space (:data:`~hadamard_restore.net.primitives.SPACES`): the
paper's sets (9 HNU candidates; also when absent) or the ``global`` space's (10: ``globalres_1x1``
appended). ``layers`` must name every label of :func:`~hadamard_restore.net.primitives.layer_labels`
exactly once, each with an op from that layer's candidate set in that space (paper abbreviations such as
``C3``/``RDIL3`` are accepted and normalised to code names). ``probabilities``, when present,
lists for a layer one value per candidate in primitive order (finite, >= 0, summing to 1).
Derivation is the argmax per layer, first maximum winning (docs/method.md 2.3: skip is not
excluded, no top-k pruning).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from hadamard_restore.artifacts import atomic_write_text
from hadamard_restore.config import MAX_CHANNELS, MAX_HNU
from hadamard_restore.errors import GenotypeError
from hadamard_restore.net.primitives import (
    ABBREVIATIONS,
    FCM_PRIMITIVES,
    HNU_PRIMITIVES,
    SPACES,
    label_primitives,
    layer_labels,
    space_of,
    space_primitives,
)

FORMAT = "hadamard-restore/genotype"
VERSION = 1
_KEYS = {"format", "version", "name", "description", "num_hnu", "channels", "primitives", "layers", "probabilities"}


@dataclass(frozen=True)
class Genotype:
    """A validated genotype. Build with :meth:`from_dict`, :func:`load_genotype` or
    :func:`derive_genotype`; the constructor trusts its arguments."""

    layers: dict[str, str]
    num_hnu: int
    channels: int | None = None
    probabilities: dict[str, list[float]] | None = None
    name: str | None = None
    description: str | None = None
    primitives: dict[str, list[str]] = field(
        default_factory=lambda: {"hnu": list(HNU_PRIMITIVES), "fcm": list(FCM_PRIMITIVES)}
    )

    @property
    def space(self) -> str:
        """The search space whose candidate sets ``primitives`` are (``paper`` or ``global``)."""
        return space_of(self.primitives) or "paper"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": FORMAT, "version": VERSION}
        if self.name is not None:
            out["name"] = self.name
        if self.description is not None:
            out["description"] = self.description
        out.update(num_hnu=self.num_hnu, channels=self.channels, primitives=self.primitives, layers=dict(self.layers))
        if self.probabilities is not None:
            out["probabilities"] = {k: list(v) for k, v in self.probabilities.items()}
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write atomically as JSON (see :mod:`hadamard_restore.artifacts`)."""
        return atomic_write_text(path, self.to_json())

    @classmethod
    def from_json(cls, text: str, source: str = "genotype") -> Genotype:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GenotypeError(f"{source}: not valid JSON ({exc}); was it truncated?") from None
        return cls.from_dict(obj, source)

    @classmethod
    def from_dict(cls, obj: Any, source: str = "genotype") -> Genotype:
        """Validate a parsed JSON object; every problem is listed in one :class:`GenotypeError`."""
        if not isinstance(obj, Mapping):
            raise GenotypeError(f"{source}: expected a JSON object with a 'layers' mapping, got {type(obj).__name__}")
        problems: list[str] = []
        extra = sorted(set(obj) - _KEYS)
        if extra:
            problems.append(f"unknown key(s) {extra} (allowed: {sorted(_KEYS)})")
        if obj.get("format", FORMAT) != FORMAT or obj.get("version", VERSION) != VERSION:
            problems.append(f"format/version {obj.get('format')!r}/{obj.get('version')!r} is not {FORMAT!r}/{VERSION}")
        layers = obj.get("layers")
        if not isinstance(layers, Mapping) or not all(isinstance(v, str) for v in layers.values()):
            raise GenotypeError(
                f"{source}: 'layers' must be a mapping of layer label -> op name "
                f'(e.g. {{"enc.head": "conv_3x3", ...}}), got {layers!r:.80}'
            )
        num_hnu = checked_num_hnu(obj.get("num_hnu"), layers, problems)
        space = check_primitives(obj.get("primitives"), problems)
        channels = obj.get("channels")
        check_channels(channels, problems)
        resolved = check_layers(layers, num_hnu, problems, space)
        probs = check_probabilities(obj.get("probabilities"), num_hnu, problems, space)
        for key in ("name", "description"):
            if obj.get(key) is not None and not isinstance(obj[key], str):
                problems.append(f"{key} must be a string, got {obj[key]!r}")
        if problems:  # at most 20 lines: a file of a million bad labels must not make a huge message
            more = [f"... and {len(problems) - 20} more problem(s)"] if len(problems) > 20 else []
            raise GenotypeError(f"{source} is not a valid genotype:\n  " + "\n  ".join(problems[:20] + more))
        return cls(
            layers=resolved,
            num_hnu=num_hnu,
            channels=channels,
            probabilities=probs,
            name=obj.get("name"),
            description=obj.get("description"),
            primitives={k: list(v) for k, v in space_primitives(space).items()},
        )


# The checks behind Genotype.from_dict. Each takes a part of a parsed ``genotype.json`` and appends
# one line per problem to ``problems`` (so a file's every problem is reported at once), returning
# the part resolved: paper abbreviations normalised to code names, numbers as floats.

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


def derive_genotype(
    probabilities: Mapping[str, Sequence[float]],
    num_hnu: int,
    channels: int | None = None,
    name: str | None = None,
    space: str = "paper",
) -> Genotype:
    """Argmax per layer (first maximum wins, so primitive order breaks ties).

    Args:
        probabilities: label -> softmax(alpha) row, one value per candidate in primitive order.
        num_hnu, channels, name: recorded in the genotype.
        space: the search space the rows are over (its sets are recorded as ``primitives``).
    """
    probs = {k: [float(p) for p in v] for k, v in probabilities.items()}
    layers = {}
    for label in layer_labels(num_hnu):
        if label not in probs:
            raise GenotypeError(f"cannot derive a genotype: no probabilities for layer {label!r}")
        row, cands = probs[label], label_primitives(label, space)
        if len(row) != len(cands):
            raise GenotypeError(
                f"cannot derive a genotype: layer {label!r} has {len(row)} probabilities, but the {space!r} "
                f"space has {len(cands)} candidates there"
            )
        layers[label] = cands[max(range(len(row)), key=row.__getitem__)]
    primitives = {k: list(v) for k, v in space_primitives(space).items()}
    return Genotype.from_dict(
        {
            "num_hnu": num_hnu,
            "channels": channels,
            "primitives": primitives,
            "layers": layers,
            "probabilities": probs,
            "name": name,
        },
        "derived genotype",
    )


def bundled_genotypes() -> list[str]:
    """Names of the genotypes shipped in ``resources/genotypes`` (e.g. ``paper-lol``, ``all-3c``)."""
    folder = resources.files("hadamard_restore") / "resources" / "genotypes"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_genotype(name_or_path: str | Path) -> Genotype:
    """A bundled genotype by name, or a ``genotype.json`` file.

    The one place a name or path becomes a :class:`Genotype`: the edges (command line, workflows,
    the config's ``net.genotype``) call it, and the library functions take the ``Genotype``.

    Raises:
        GenotypeError: unknown name and no such file, unreadable file, or invalid content.
    """
    text_name = str(name_or_path)
    if text_name in bundled_genotypes():
        res = resources.files("hadamard_restore") / "resources" / "genotypes" / f"{text_name}.json"
        return Genotype.from_json(res.read_text(), f"bundled genotype {text_name!r}")
    path = Path(name_or_path)
    if not path.is_file():
        raise GenotypeError(
            f"unknown genotype {text_name!r}: not a bundled name ({', '.join(bundled_genotypes())}) and no such file"
        )
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise GenotypeError(f"cannot read genotype file {path}: {exc}") from None
    return Genotype.from_json(text, str(path))
