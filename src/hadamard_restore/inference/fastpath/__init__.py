"""Inference picks the fastest verified backend on the machine it runs on.

``runner_for(model, example, device, backend="auto")`` returns a module to call instead of
``model``. With ``auto`` it times the candidate backends on ``example`` (the image, or its first
tile), checks each one's output against eager once, and keeps the fastest that passes:

* ``eager``: the model as it is (the reference; always a candidate);
* ``channels-last``: a copy of the model in channels-last memory format;
* ``onnx``: the model exported to ONNX (dynamic H and W, TorchScript tracer) and run by
  onnxruntime on the CPU (a CPU-only candidate);
* ``compile``: ``torch.compile`` of a copy (not part of ``auto``: one compile takes minutes on a
  CPU; ask for it by name).

**Parity.** A candidate passes when ``max |candidate(x) - eager(x)|`` over the raw output is at
most :data:`TOLERANCE` (1e-3, the ONNX export's tolerance; outputs are images in about [0, 1],
saved at 8 or 16 bits). One that fails is recorded with its difference and never chosen; a
backend asked for by name that fails raises :class:`BackendParityError`.

**Cache.** The choice is stored per model (sha256 of its weights), size class, device, thread
count and library versions in ``fastpath.json`` under the user cache dir (``$HADAMARD_RESTORE_CACHE``,
else ``$XDG_CACHE_HOME/hadamard_restore``), written atomically; later runs reuse it without timing
or checking again. Size classes: the smallest power of two of pixels holding the input, so a
600x400 photo and a 640x360 frame share one entry.

**Tiled images with whole-image statistics** replay recorded instance-norm statistics in every
tile (:mod:`hadamard_restore.inference.norm_stats`), which only a PyTorch module can do: then
``replay=True`` limits the candidates to ``eager`` and ``channels-last``.
"""

from hadamard_restore.inference.fastpath.backends import (
    BACKENDS,
    ChannelsLast,
    OnnxRunner,
    build,
    default_threads,
    size_class,
)
from hadamard_restore.inference.fastpath.choice import (
    AUTO_MIN_PIXELS,
    TOLERANCE,
    BackendParityError,
    cache_path,
    choose,
    for_enhance,
    runner_for,
)

__all__ = [
    "AUTO_MIN_PIXELS",
    "BACKENDS",
    "TOLERANCE",
    "BackendParityError",
    "ChannelsLast",
    "OnnxRunner",
    "build",
    "cache_path",
    "choose",
    "default_threads",
    "for_enhance",
    "runner_for",
    "size_class",
]
