"""Bundled pretrained models (ours; third-party backbones are in :mod:`hadamard_restore.backbones`):
the registry and sha256-checked files (:mod:`.registry`), the model cards (:mod:`.card`), the
scripting API ``load_pretrained`` / ``enhance_image`` (:mod:`.api`, also exported from
``hadamard_restore`` with ``available_models``) and the packaging of a ``tools/make_pretrained.py``
run (:mod:`.package`).
"""
