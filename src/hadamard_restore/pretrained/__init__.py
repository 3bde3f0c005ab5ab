"""Internals of :mod:`hadamard_restore.weights`: where pretrained weights come from and how
they are converted. Users call :mod:`hadamard_restore.weights`; nothing here downloads at import.
"""
