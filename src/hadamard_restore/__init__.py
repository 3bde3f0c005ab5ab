"""hadamard-restore: architecture and loss search for Hadamard-based image restoration."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``load_pretrained`` / ``enhance_image`` imported on first use (keeps ``import hadamard_restore`` light)."""
    if name in ("load_pretrained", "enhance_image"):
        from hadamard_restore.zoo import api

        return getattr(api, name)
    raise AttributeError(f"module 'hadamard_restore' has no attribute {name!r}")


__all__ = ["__version__", "enhance_image", "load_pretrained"]
