"""The HNU against its formula (docs/method.md 1.3), its norm (1.4) and low-precision safety."""

import pytest
import torch
import torch.nn.functional as F

from hadamard_restore.net.hnu import HNU, InstanceNorm, hadamard_quotient
from hadamard_restore.net.mixed import ChosenOp

C = 4


def _factory(ops):
    it = iter(ops)

    def make(label, candidates, c_in, c_out):
        name = next(it)
        assert name in candidates
        return ChosenOp(name, c_in, c_out)

    return make


OPS8 = [
    "conv_3x3",
    "denseblocks_1x1",
    "resdilconv_3x3",
    "conv_1x1",
    "resconv_3x3",
    "skip_connect",
    "dilconv_3x3",
    "denseblocks_3x3",
]


@pytest.fixture
def hnu():
    torch.manual_seed(0)
    return HNU("hnu1", C, "instance", _factory(OPS8))


def test_instance_norm_matches_torch_and_standardises(gen):
    x = 3 + 2 * torch.randn(2, C, 9, 7, generator=gen)
    y = InstanceNorm()(x)
    torch.testing.assert_close(y, F.instance_norm(x, eps=1e-5))
    torch.testing.assert_close(y.mean((2, 3)), torch.zeros(2, C), atol=1e-5, rtol=0)
    assert list(InstanceNorm().parameters()) == []


def test_output_is_ru_over_floored_sigmoid_rv(hnu, gen):
    x = torch.randn(1, C, 10, 8, generator=gen)
    n = lambda t: F.instance_norm(t, eps=1e-5)  # noqa: E731

    def branch(layers):
        h = x
        for i, layer in enumerate(layers):
            h = n(layer(h))
            h = F.relu(h) if i < 3 else h
        return F.relu(h + x)

    ref = branch(hnu.ru) / torch.clamp(torch.sigmoid(branch(hnu.rv)), 0.01, 1.0)
    out = hnu(x)
    torch.testing.assert_close(out, ref)
    ru = branch(hnu.ru)
    assert (out >= ru - 1e-5).all() and (out <= 2 * ru + 1e-5).all()  # divisor in [0.5, 1]


def test_quotient_floor_and_float32_compute():
    ru = torch.full((1, 1, 1, 3), 2.0)
    v = torch.tensor([-100.0, 0.0, 100.0]).view(1, 1, 1, 3)
    torch.testing.assert_close(hadamard_quotient(ru, v), torch.tensor([200.0, 4.0, 2.0]).view(1, 1, 1, 3))
    q = hadamard_quotient(ru.bfloat16(), v.bfloat16())
    assert q.dtype == torch.bfloat16 and torch.isfinite(q).all()


def test_no_norm_variant_has_identity_norm(gen):
    torch.manual_seed(0)
    h = HNU("hnu2", C, "none", _factory(OPS8))
    assert isinstance(h.norm, torch.nn.Identity)
    assert torch.isfinite(h(torch.randn(1, C, 6, 6, generator=gen))).all()


def test_bfloat16_autocast_forward_backward_finite(hnu, gen):
    x = (100 * torch.randn(1, C, 10, 8, generator=gen)).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = hnu(x)
    assert torch.isfinite(out).all()
    out.float().square().mean().backward()
    assert torch.isfinite(x.grad).all()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in hnu.parameters())


def test_float16_matches_float32(hnu, gen):
    x = torch.randn(1, C, 10, 8, generator=gen)
    ref = hnu(x)
    try:
        out = hnu.half()(x.half())
    except RuntimeError as exc:  # pragma: no cover - depends on the CPU kernels of this torch build
        pytest.skip(f"float16 convolutions unavailable on this CPU build: {exc}")
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), ref, atol=3e-2, rtol=3e-2)
