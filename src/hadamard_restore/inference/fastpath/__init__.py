"""Inference picks the fastest verified backend on the machine it runs on.

``runner_for(model, example, device, backend="auto", precision="auto", timing=True)`` returns a
module to call instead of ``model``. With ``auto`` it times the candidate backends on ``example``
(the image, or its first tile), checks each one's output against eager once, and keeps the
fastest that passes:

* ``eager``: the model as it is (the reference; always a candidate);
* ``channels-last``: a copy of the model in channels-last memory format;
* ``bf16``: a bfloat16 channels-last copy (weights and input cast to bf16, output returned as
  float32), a candidate only with ``precision="auto"`` where bf16 is native
  (:func:`native_bf16`: a CUDA device of compute capability 8.0 and up, or a CPU with oneDNN and
  AVX512-BF16 / AMX-BF16); 2.9x eager on such a CPU;
* ``onnx``: the model exported to ONNX (dynamic H and W, TorchScript tracer) and run by
  onnxruntime on the CPU (a CPU-only candidate);
* ``compile``: ``torch.compile`` of a copy (not part of ``auto``: one compile takes minutes on a
  CPU; ask for it by name).

**Parity.** A full-precision backend passes when ``max |candidate(x) - eager(x)|`` over the raw
output is at most :data:`TOLERANCE` (1e-3, the ONNX export's tolerance; outputs are images in
about [0, 1], saved at 8 or 16 bits). A reduced-precision backend (``bf16``) passes when
``max |candidate(x) - eager(x)|`` over the output clamped to [0, 1] (what is saved) is at most
:data:`REDUCED_TOLERANCE` (0.02, about 5 steps of 8 bits; on 12 real photos of the three bundled
models the largest was 0.0105, the PSNR of bf16 against fp32 50-57 dB). One that fails is
recorded with its difference and never chosen; a backend asked for by name that fails raises
:class:`BackendParityError`. ``precision="fp32"`` (``--precision fp32``) keeps the full-precision
candidates only.

**Few images.** With ``timing=False`` (``enhance`` on fewer than ``FEW_IMAGES`` = 4 images, and
``enhance_image``) and no cached choice, nothing is timed: the first of bf16 (native and allowed),
onnx (CPU, no replay), channels-last is checked once on a crop of the example of at most
256x256 and used if it passes, else eager. That result is cached as untimed, so a later call on
many images still times the candidates.

**Cache.** Choices and checks are stored per model (sha256 of its weights), size class, device,
thread count, precision and library versions in ``fastpath.json`` under the user cache dir
(``$HADAMARD_RESTORE_CACHE``, else ``$XDG_CACHE_HOME/hadamard_restore``), written atomically, with
the tolerance each backend was checked against (:mod:`.cache`); later runs reuse them without
timing or checking again. Size classes: the smallest power of two of pixels holding the input,
so a 600x400 photo and a 640x360 frame share one entry.

**Tiled images with whole-image statistics** replay recorded instance-norm statistics in every
tile (:mod:`hadamard_restore.inference.norm_stats`), which only a PyTorch module can do: then
``replay=True`` limits the candidates to ``eager``, ``channels-last`` and ``bf16``.
"""

from hadamard_restore.inference.fastpath.backends import (
    BACKENDS,
    ChannelsLast,
    OnnxRunner,
    build,
    default_threads,
    preferred,
    size_class,
)
from hadamard_restore.inference.fastpath.cache import cache_path
from hadamard_restore.inference.fastpath.choice import (
    AUTO_MIN_PIXELS,
    FEW_IMAGES,
    BackendParityError,
    choose,
    quick,
)
from hadamard_restore.inference.fastpath.precision import (
    PRECISIONS,
    REDUCED_TOLERANCE,
    TOLERANCE,
    Bf16,
    native_bf16,
    tolerance_for,
)
from hadamard_restore.inference.fastpath.runner import for_enhance, runner_for

__all__ = [
    "AUTO_MIN_PIXELS",
    "BACKENDS",
    "FEW_IMAGES",
    "PRECISIONS",
    "REDUCED_TOLERANCE",
    "TOLERANCE",
    "BackendParityError",
    "Bf16",
    "ChannelsLast",
    "OnnxRunner",
    "build",
    "cache_path",
    "choose",
    "default_threads",
    "for_enhance",
    "native_bf16",
    "preferred",
    "quick",
    "runner_for",
    "size_class",
    "tolerance_for",
]
