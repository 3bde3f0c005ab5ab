"""Third-party pretrained backbones, offline: ImageNet VGG16/AlexNet features and the LPIPS heads.

Not our own models (those are in :mod:`hadamard_restore.zoo`). :mod:`.weights` builds the
networks from the local cache, :mod:`.cache` says where the cache is and what it holds,
:mod:`.install` fills it (``hadamard-restore backbones install``), :mod:`.sources` says where the
files come from, :mod:`.convert` how they are converted, :mod:`.safe_pickle` how foreign pickles
are read without running code. Nothing here downloads at import.
"""
