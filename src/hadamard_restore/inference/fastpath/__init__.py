"""Inference runs on the fastest verified backend of the platform, chosen without timing.

``runner_for(model, example, device, backend="auto", precision="auto")`` returns a module to call
instead of ``model``. ``enhance``, ``enhance_image`` and ``evaluate`` all go through it. With
``auto`` it takes the platform's preferred backend (:func:`preferred`: ``bf16`` where bf16 is
native and ``precision="auto"``, else ``channels-last``), checks its output against eager once on
a crop of the actual input, and uses it when it passes (else eager). With ``timed`` (or
``timing=True``) it times every candidate on ``example`` (the image, or its first tile) instead,
checks each against eager and keeps the fastest; a timed choice is cached and later ``auto`` calls
use it. The backends:

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

**No timing on the user's time.** Timing every backend costs tens of seconds on a large photo
(building ONNX Runtime alone exports the network); ``auto`` never does it: its check runs the
preferred backend and eager on a crop of at most 256x256 (a fraction of a second). A timed choice
(``--backend timed``) can pick ONNX Runtime where it beats channels-last on a CPU without bf16.
Anything that runs past a few seconds says so in the log (:mod:`hadamard_restore.runtime.slow`).

**Cache.** Each process remembers its decisions (a repeated call costs a dictionary look-up: the
weights' sha256 is remembered per model while its tensors are unchanged). Choices and checks are
stored per model (sha256 of its weights), size class, device,
thread count, precision and library versions in ``fastpath.json`` under the user cache dir
(``$HADAMARD_RESTORE_CACHE``, else ``$XDG_CACHE_HOME/hadamard_restore``), written atomically, with
the tolerance each backend was checked against (:mod:`.cache`); later runs reuse them without
timing or checking again. Size classes: the smallest power of two of pixels holding the input,
so a 600x400 photo and a 640x360 frame share one entry.

**Tiled images with whole-image statistics** replay recorded instance-norm statistics (and the
spatial means of global ops) in every tile (:mod:`hadamard_restore.inference.norm_stats`), which
only a PyTorch module can do: then
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
    BackendParityError,
    choose,
    forget,
    quick,
)
from hadamard_restore.inference.fastpath.precision import PRECISIONS, REDUCED_TOLERANCE, TOLERANCE, Bf16, tolerance_for
from hadamard_restore.inference.fastpath.runner import FastPath, for_enhance, runner_for
from hadamard_restore.runtime.precision import native_bf16

__all__ = [
    "AUTO_MIN_PIXELS",
    "BACKENDS",
    "PRECISIONS",
    "REDUCED_TOLERANCE",
    "TOLERANCE",
    "BackendParityError",
    "Bf16",
    "ChannelsLast",
    "FastPath",
    "OnnxRunner",
    "build",
    "cache_path",
    "choose",
    "forget",
    "default_threads",
    "for_enhance",
    "native_bf16",
    "preferred",
    "quick",
    "runner_for",
    "size_class",
    "tolerance_for",
]
