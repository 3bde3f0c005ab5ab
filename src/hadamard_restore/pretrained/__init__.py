"""Offline pretrained backbones (VGG16/AlexNet features, LPIPS heads).

:mod:`.weights` is what the rest of the package calls (the local cache, ``install()``, the
builders); :mod:`.sources` says where the files come from, :mod:`.convert` how they are
converted, :mod:`.safe_pickle` how foreign pickles are read without running code. Nothing
here downloads at import.
"""
