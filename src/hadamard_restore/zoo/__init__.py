"""Bundled pretrained models: the registry, the model cards and the scripting API.

``load_pretrained(name)`` and ``enhance_image(image, model=name)`` are also exported from
``hadamard_restore`` itself; ``available_models()`` lists the names.
"""

from hadamard_restore.zoo.api import enhance_image, load_pretrained
from hadamard_restore.zoo.registry import (
    ModelIntegrityError,
    UnknownModelError,
    available_models,
    model_path,
    read_card,
)

__all__ = [
    "ModelIntegrityError",
    "UnknownModelError",
    "available_models",
    "enhance_image",
    "load_pretrained",
    "model_path",
    "read_card",
]
