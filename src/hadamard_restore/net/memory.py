"""Peak activation memory of a forward pass, measured by tracking live tensor storage.

Method: a ``TorchDispatchMode`` sees every ATen op of the forward. After each op it drops the
storages that have been freed since (``StorageWeakRef.expired()``) and adds the storages of the
op's outputs it has not seen yet (each storage counted once, however many views share it).
The peak of the running sum is the reported value. Excluded: the storages that existed
before (input, parameters, buffers), and scratch buffers a kernel allocates and frees inside
one op (e.g. im2col workspaces), which are allocator details rather than activations.

Run the forward under ``torch.no_grad()`` so autograd does not keep intermediates alive; the
number then measures inference. The tracker works on the ``meta`` device too (shapes only, no
arithmetic), where it gives the same number as on CPU for the same program.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class PeakMemory(TorchDispatchMode):
    """Context manager; after exit, ``peak_bytes`` is the peak of live activation storage.

    Args:
        exclude: tensors whose storage is not counted (input, parameters, buffers).

    Examples:
        >>> x = torch.zeros(1000)
        >>> with torch.no_grad(), PeakMemory(exclude=[x]) as mem:
        ...     y = x + 1
        ...     z = y * 2   # y and z alive together: 8000 bytes
        >>> mem.peak_bytes
        8000
    """

    def __init__(self, exclude: Iterable[torch.Tensor] = ()) -> None:
        super().__init__()
        self._excluded = {StorageWeakRef(t.untyped_storage()).cdata for t in exclude}
        self._live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.current_bytes = 0
        self.peak_bytes = 0

    def _sweep(self) -> None:
        for key, (ref, nbytes) in list(self._live.items()):
            if ref.expired():
                del self._live[key]
                self.current_bytes -= nbytes

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        self._sweep()
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                ref = StorageWeakRef(storage)
                if ref.cdata in self._live or ref.cdata in self._excluded:
                    continue
                self._live[ref.cdata] = (ref, storage.nbytes())
                self.current_bytes += storage.nbytes()
        self.peak_bytes = max(self.peak_bytes, self.current_bytes)
        return out
