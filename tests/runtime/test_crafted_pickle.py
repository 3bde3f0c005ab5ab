"""A crafted pickle given to any checkpoint loader is refused without running its payload.

Each loader of the package is listed once in ``LOADERS``; a new loader (e.g. the classifier's)
is one more entry. The crafted file carries a ``__reduce__`` that would create a marker file
when unpickled; the test checks both the CheckpointError and that the marker never appears.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from hadamard_restore.errors import CheckpointError
from hadamard_restore.runtime.checkpoint import PREFIX, load_checkpoint


class _Payload:
    """Unpickling this calls ``open(marker, "w")``, creating the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _load_model(path: Path) -> None:
    from hadamard_restore.net.model_file import load_model

    load_model(path)


def _load_training(path: Path) -> None:
    from hadamard_restore.training.state import load_training_state

    load_training_state(path)


def _load_search(path: Path) -> None:
    from hadamard_restore.search.state import load_state

    load_state(path, "loss")


#: (name, the kind the file pretends to be, the loader)
LOADERS: list[tuple[str, str, Callable[[Path], object]]] = [
    ("container", "model", lambda p: load_checkpoint(p, ("model", "training", "search", "classifier"))),
    ("model", "model", _load_model),
    ("training state", "training", _load_training),
    ("search state", "search", _load_search),
]


@pytest.mark.parametrize("name,kind,loader", LOADERS, ids=[entry[0] for entry in LOADERS])
def test_crafted_pickle_is_refused_unrun(tmp_path, name, kind, loader):
    marker = tmp_path / "pwned"
    crafted = {
        "format": PREFIX + kind,
        "version": 1,
        "meta": {},
        "state_dict": {},
        "stage": "loss",
        "training": {},
        "evil": _Payload(marker),
    }
    path = tmp_path / f"{kind}.pt"
    torch.save(crafted, path)
    with pytest.raises(CheckpointError, match="could run code"):
        loader(path)
    assert not marker.exists(), f"the {name} loader ran the pickled payload"
