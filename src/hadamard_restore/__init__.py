"""hadamard-restore: architecture and loss search for Hadamard-based image restoration.

The public API (``__all__``) is imported on first use, so ``import hadamard_restore`` stays light:

* ``load_pretrained(name)``, ``enhance_image(image, model=name)``, ``available_models()``: the
  bundled models (:mod:`hadamard_restore.zoo.api`, :mod:`hadamard_restore.zoo.registry`);
* ``load_config(path, overrides)``, ``RunConfig``: the configuration (:mod:`hadamard_restore.config`);
* ``find_pairs(root)``: the degraded/reference pairs of a dataset folder;
* ``evaluate(checkpoint, data_root)``, ``export_onnx(checkpoint, onnx)``;
* ``psnr``, ``ssim``, ``lpips``: the metrics (the functions, from :mod:`hadamard_restore.metrics.psnr`,
  :mod:`~hadamard_restore.metrics.ssim` and :mod:`~hadamard_restore.metrics.perceptual`);
* ``HadamardRestoreError``: the base of every error a user can fix.

The library logs through :mod:`logging` (logger ``hadamard_restore``) and adds no handler: INFO
lines appear only when the application configures logging (the command line does, with
:func:`hadamard_restore.runtime.log.configure_logging`); warnings reach stderr through Python's
last-resort handler otherwise.
"""

import importlib

__version__ = "0.1.0"

#: public name -> the module it lives in (imported on first use)
_PUBLIC = {
    "HadamardRestoreError": "hadamard_restore.errors",
    "RunConfig": "hadamard_restore.config",
    "available_models": "hadamard_restore.zoo.registry",
    "enhance_image": "hadamard_restore.zoo.api",
    "evaluate": "hadamard_restore.evaluation.evaluate",
    "export_onnx": "hadamard_restore.inference.export",
    "find_pairs": "hadamard_restore.data.layouts",
    "load_config": "hadamard_restore.config",
    "load_pretrained": "hadamard_restore.zoo.api",
    "lpips": "hadamard_restore.metrics.perceptual",
    "psnr": "hadamard_restore.metrics.psnr",
    "ssim": "hadamard_restore.metrics.ssim",
}


def __getattr__(name: str):
    """The public API imported on first use (keeps ``import hadamard_restore`` light)."""
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'hadamard_restore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


__all__ = ["__version__", *sorted(_PUBLIC)]
