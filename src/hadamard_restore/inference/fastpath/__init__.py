"""Inference on the fastest verified backend of the platform, chosen without timing:
:func:`.runner.runner_for` returns the module to call instead of the network (``enhance``,
``enhance_image`` and ``evaluate`` all go through it). The backends (``eager``, ``channels-last``,
``bf16``, ``onnx``, ``compile``) are built in :mod:`.backends`, their parity tolerances (1e-3 over
the raw output; 0.02 over the clamped output for ``bf16``) are in :mod:`.precision`, the check
against eager and the timed choice in :mod:`.choice`, and the per-model cache ``fastpath.json`` in
:mod:`.cache`; how ``auto``, ``timed`` and the tolerances behave is in docs/deploy.md, the contract
in docs/internals.md (inference/fastpath/).
"""
