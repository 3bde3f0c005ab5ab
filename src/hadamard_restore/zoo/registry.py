"""The bundled pretrained models: names, cards, verified weight files.

Each model is a folder ``resources/models/<name>/`` inside the package with

* ``model.pt``: an ordinary model file (``net.model_file`` format, readable with
  ``torch.load(weights_only=True)``), fp16 or fp32 weights as the card says;
* ``card.json``: the model card (format ``hadamard-restore/model-card``, see :mod:`.card`),
  whose ``weights.sha256`` is checked against ``model.pt`` before the file is used;
* ``heldout.json``: the pinned split whose validation part is the held-out test set
  (its sha256 is ``data.split.sha256`` of the card).

Nothing here downloads: the models ship inside the wheel.
"""

from __future__ import annotations

import json
from pathlib import Path

from hadamard_restore import __version__
from hadamard_restore.artifacts import sha256_file
from hadamard_restore.errors import HadamardRestoreError

CARD_FORMAT = "hadamard-restore/model-card"
CARD_VERSION = 1
MODELS_DIR = Path(__file__).resolve().parents[1] / "resources" / "models"


class UnknownModelError(HadamardRestoreError, KeyError):
    """A model name that is not bundled; the message lists the names that are."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelIntegrityError(HadamardRestoreError, ValueError):
    """A bundled model's files are missing, damaged or do not match its card."""


def models_dir() -> Path:
    """The folder holding one sub-folder per bundled model."""
    return MODELS_DIR


def available_models() -> list[str]:
    """Names of the bundled models (folders with a ``card.json``), sorted."""
    root = models_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "card.json").is_file())


def _folder(name: str) -> Path:
    names = available_models()
    if name not in names:
        listed = ", ".join(names) if names else "none are bundled in this installation"
        raise UnknownModelError(
            f"unknown model {name!r}; available models: {listed} "
            "(`hadamard-restore models` lists them with their cards)"
        )
    return models_dir() / name


def read_card(name: str) -> dict:
    """The model card of ``name`` as a dict (validated: format, version, weights sha256).

    Raises:
        UnknownModelError: ``name`` is not bundled.
        ModelIntegrityError: the card is unreadable or not a model card.
    """
    path = _folder(name) / "card.json"
    try:
        card = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelIntegrityError(f"model card {path} is unreadable ({exc}); reinstall hadamard-restore") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ModelIntegrityError(
            f"{path} is not a model card (format {card.get('format')!r}); reinstall hadamard-restore"
        )
    if card.get("version", 0) > CARD_VERSION:
        raise ModelIntegrityError(
            f"{path} has card version {card['version']}, newer than this "
            f"hadamard-restore understands ({CARD_VERSION}); upgrade the package"
        )
    sha = card.get("weights", {}).get("sha256")
    if not isinstance(sha, str) or len(sha) != 64:
        raise ModelIntegrityError(f"{path} lacks weights.sha256; the card is damaged, reinstall hadamard-restore")
    return card


def model_path(name: str, verify: bool = True) -> Path:
    """``model.pt`` of ``name``, its sha256 checked against the card first (``verify``).

    Raises:
        UnknownModelError: ``name`` is not bundled.
        ModelIntegrityError: the file is missing or its sha256 differs from the card's.
    """
    card = read_card(name)
    path = _folder(name) / card["weights"].get("file", "model.pt")
    if not path.is_file():
        raise ModelIntegrityError(f"bundled model {name!r}: {path} is missing; reinstall hadamard-restore")
    if verify:
        got, want = sha256_file(path), card["weights"]["sha256"]
        if got != want:
            raise ModelIntegrityError(
                f"bundled model {name!r}: {path} has sha256 {got[:16]}..., but its card says {want[:16]}...; "
                "the weights are damaged or were replaced, so they are refused: reinstall hadamard-restore"
            )
    return path


def heldout_split_path(name: str) -> Path:
    """The pinned split file of ``name`` (its validation part is the held-out test set), checked."""
    card = read_card(name)
    split = card.get("data", {}).get("split", {})
    path = _folder(name) / split.get("file", "heldout.json")
    if not path.is_file():
        raise ModelIntegrityError(
            f"bundled model {name!r}: split file {path} is missing; pass --split with your own copy"
        )
    if sha256_file(path) != split.get("sha256"):
        raise ModelIntegrityError(
            f"bundled model {name!r}: {path} does not match the sha256 in its card; reinstall hadamard-restore"
        )
    return path


def short_sha(name: str) -> str:
    """The first 12 hex digits of the card's weights sha256."""
    return read_card(name)["weights"]["sha256"][:12]


def version_text() -> str:
    """``hadamard-restore VERSION`` and one line per bundled model with its weights' sha256 prefix."""
    lines = [f"hadamard-restore {__version__}"]
    names = available_models()
    for name in names:
        try:
            card = read_card(name)
            lines.append(f"  {name:<11} sha256 {card['weights']['sha256'][:12]} ({card['weights'].get('dtype', '?')})")
        except HadamardRestoreError as exc:
            lines.append(f"  {name:<11} DAMAGED: {exc}")
    if not names:
        lines.append("  no bundled models")
    return "\n".join(lines)
