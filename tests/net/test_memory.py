"""Live-storage peak tracker on closed-form programs."""

import torch

from hadamard_restore.net.memory import PeakMemory

N = 1000  # float32 elements -> 4000 bytes


def test_two_live_tensors_at_peak():
    x = torch.zeros(N)
    with torch.no_grad(), PeakMemory(exclude=[x]) as mem:
        y = x + 1
        z = y * 2  # y, z alive
        del y
        w = z - 1  # z, w alive (y freed)
        del z, w
    assert mem.peak_bytes == 2 * 4 * N


def test_views_share_storage_and_freed_tensors_are_subtracted():
    x = torch.zeros(N)
    with torch.no_grad(), PeakMemory(exclude=[x]) as mem:
        y = x + 1
        v = y.view(10, 100)  # same storage: not counted twice
        t = v.t()
        del y, v, t
        a = x * 3  # the only live activation now
        _big = torch.cat([a, a])  # 3 N floats alive (kept referenced)
    assert mem.peak_bytes == 3 * 4 * N
    assert mem.current_bytes == 3 * 4 * N  # a and big still referenced


def test_meta_tensors_give_the_same_numbers():
    for device in ("cpu", "meta"):
        x = torch.zeros(N, device=device)
        with torch.no_grad(), PeakMemory(exclude=[x]) as mem:
            y = torch.cat([x, x])
            z = y.sum()  # noqa: F841
        assert mem.peak_bytes == 2 * 4 * N + 4
