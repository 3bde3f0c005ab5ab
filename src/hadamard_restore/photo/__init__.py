"""Photo files for ``enhance``: same format out as in, metadata carried, inputs never overwritten."""

from hadamard_restore.photo.io import Photo, output_suffix, read_photo, write_photo
from hadamard_restore.photo.plan import plan_outputs

__all__ = ["Photo", "output_suffix", "plan_outputs", "read_photo", "write_photo"]
