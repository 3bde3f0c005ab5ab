"""The unrolled hypergradient against closed forms, against itself, and against known failures."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from hadamard_restore.config import ConfigError
from hadamard_restore.search.hypergrad import (
    check_mode,
    momentum_buffers,
    named_weights,
    unrolled_hypergradient,
)

ETA, MU, LAM = 0.3, 0.9, 0.05


def _quadratic(gen, n=5, k=3, direct=0.0):
    """L_tr = ½‖w − Aθ‖², L_up = ½‖w − b‖² + direct·½‖θ‖² (float64)."""
    A = torch.randn(n, k, generator=gen, dtype=torch.float64)
    b = torch.randn(n, generator=gen, dtype=torch.float64)
    w = torch.randn(n, generator=gen, dtype=torch.float64)
    theta = torch.randn(k, generator=gen, dtype=torch.float64).requires_grad_(True)
    buf = torch.randn(n, generator=gen, dtype=torch.float64)
    seen = []

    def train_loss(p):
        return 0.5 * ((p["w"] - A @ theta) ** 2).sum()

    def upper_loss(p):
        seen.append(p["w"].detach().clone())
        return 0.5 * ((p["w"] - b) ** 2).sum() + direct * 0.5 * (theta**2).sum()

    # closed form of d/dθ L_up(w'(θ)), w' = w − η(μ buf + (w − Aθ) + λ w)
    w_virtual = w - ETA * (MU * buf + (w - A @ theta.detach()) + LAM * w)
    expected = ETA * A.T @ (w_virtual - b) + direct * theta.detach()
    return dict(
        A=A,
        b=b,
        w=w,
        theta=theta,
        buf=buf,
        seen=seen,
        train_loss=train_loss,
        upper_loss=upper_loss,
        w_virtual=w_virtual,
        expected=expected,
    )


def _call(q, mode="finite_difference", upper_loss=None, buffers=True):
    """The hypergradient of the quadratic ``q``: its upper loss unless ``upper_loss``, its momentum
    buffer unless ``buffers`` is false."""
    return unrolled_hypergradient(
        {"w": q["w"]},
        [q["theta"]],
        q["train_loss"],
        upper_loss or q["upper_loss"],
        lr=ETA,
        momentum=MU,
        momentum_buffers={"w": q["buf"]} if buffers else None,
        weight_decay=LAM,
        mode=mode,
    )


@pytest.mark.parametrize("mode", ["finite_difference", "exact"])
@pytest.mark.parametrize("direct", [0.0, 0.7])
def test_quadratic_matches_closed_form(gen, mode, direct):
    q = _quadratic(gen, direct=direct)
    out = _call(q, mode)
    torch.testing.assert_close(out.grads[0], q["expected"], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("mode", ["finite_difference", "exact"])
def test_upper_loss_without_any_path_to_theta(gen, mode):
    """Stage 1's situation: L_up never touches θ, so only the unrolled term carries a gradient."""
    q = _quadratic(gen)
    up = lambda p: 0.5 * ((p["w"] - q["b"]) ** 2).sum()  # noqa: E731
    out = _call(q, mode, upper_loss=up)
    torch.testing.assert_close(out.grads[0], q["expected"], rtol=1e-7, atol=1e-9)
    if mode == "finite_difference":
        assert torch.count_nonzero(out.direct[0]) == 0


def test_fd_and_exact_agree_on_quadratic(gen):
    q = _quadratic(gen, direct=0.3)
    fd, ex = _call(q, "finite_difference"), _call(q, "exact")
    torch.testing.assert_close(fd.grads[0], ex.grads[0], rtol=1e-7, atol=1e-9)
    assert fd.epsilon > 0 and fd.v_norm > 0


def test_virtual_step_really_moves_the_weights(gen):
    """The upper loss must be evaluated at w' (the known failure: it silently stays at w)."""
    q = _quadratic(gen)
    w_before = q["w"].clone()
    out = _call(q, "finite_difference")
    assert q["seen"], "upper loss never called"
    torch.testing.assert_close(q["seen"][0], q["w_virtual"], rtol=1e-12, atol=1e-12)
    assert not torch.allclose(q["seen"][0], q["w"])
    assert out.step_norm == pytest.approx(float((q["w_virtual"] - q["w"]).norm()), rel=1e-9)
    # the caller's weights are untouched
    assert torch.equal(q["w"], w_before)
    # and the answer is not the first-order one (which is exactly zero here: no direct term)
    first = _call(_quadratic(torch.Generator().manual_seed(1234)), "first_order")
    assert torch.count_nonzero(first.grads[0]) == 0
    assert out.grads[0].abs().max() > 1e-3


def test_momentum_buffer_enters_the_virtual_step(gen):
    q = _quadratic(gen)
    with_buf = _call(q, "finite_difference").grads[0]
    without = _call(q, buffers=False)
    expected = ETA * q["A"].T @ (q["w"] - ETA * ((q["w"] - q["A"] @ q["theta"].detach()) + LAM * q["w"]) - q["b"])
    torch.testing.assert_close(without.grads[0], expected, rtol=1e-7, atol=1e-9)
    assert not torch.allclose(with_buf, without.grads[0])


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(4, 6)
        self.b = torch.nn.Linear(6, 3)

    def forward(self, x):
        return self.b(torch.tanh(self.a(x)))


def test_fd_matches_exact_on_a_nonlinear_net(gen):
    """Upper variables: per-term loss weights β (as stage 1) and a scale inside the net (as α)."""
    torch.manual_seed(0)
    net = _Tiny().double()
    x_tr = torch.randn(7, 4, generator=gen, dtype=torch.float64)
    y_tr = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    x_up = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    y_up = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    beta = torch.tensor([1.0, 0.5], dtype=torch.float64, requires_grad=True)
    scale = torch.tensor([1.2], dtype=torch.float64, requires_grad=True)

    def train_loss(p):
        out = functional_call(net, p, (x_tr * scale,))
        return beta[0] * ((out - y_tr) ** 2).mean() + beta[1] * (out - y_tr).abs().mean()

    def upper_loss(p):  # no direct β dependence, like the classifier loss
        return ((functional_call(net, p, (x_up * scale,)) - y_up) ** 2).mean()

    w = named_weights(net, list(net.parameters()))
    kw = dict(lr=0.1, momentum=0.0, weight_decay=3e-4)
    fd = unrolled_hypergradient(w, [beta, scale], train_loss, upper_loss, mode="finite_difference", **kw)
    ex = unrolled_hypergradient(w, [beta, scale], train_loss, upper_loss, mode="exact", **kw)
    for a, b in zip(fd.grads, ex.grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-9)
    assert fd.grads[0].abs().min() > 0, "beta gets a non-zero gradient only through the unrolled step"
    assert torch.count_nonzero(fd.direct[0]) == 0


def test_momentum_buffers_read_from_sgd(gen):
    net = _Tiny()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    named = named_weights(net, list(net.parameters()))
    assert all(b is None for b in momentum_buffers(opt, named).values())
    net(torch.randn(2, 4, generator=gen)).sum().backward()
    opt.step()
    bufs = momentum_buffers(opt, named)
    assert all(torch.equal(bufs[n], p.grad) for n, p in named.items())


def test_named_weights_rejects_foreign_parameters():
    with pytest.raises(ValueError, match="not parameters of the model"):
        named_weights(_Tiny(), [torch.nn.Parameter(torch.zeros(1))])


def test_first_order_refused_for_the_loss_stage():
    with pytest.raises(ConfigError, match="exactly zero gradient"):
        check_mode("first_order", "loss")
    with pytest.raises(ConfigError, match="unknown"):
        check_mode("second", "arch")
    check_mode("first_order", "arch")
    check_mode("finite_difference", "loss")


def test_bad_inputs_are_refused(gen):
    q = _quadratic(gen)
    with pytest.raises(ValueError, match="lr must be > 0"):
        unrolled_hypergradient({"w": q["w"]}, [q["theta"]], q["train_loss"], q["upper_loss"], lr=0)
    with pytest.raises(ValueError, match="requires_grad"):
        unrolled_hypergradient({"w": q["w"]}, [q["theta"].detach()], q["train_loss"], q["upper_loss"], lr=0.1)
