"""hadamard-restore: architecture and loss search for Hadamard-based image restoration."""

__version__ = "0.1.0"
