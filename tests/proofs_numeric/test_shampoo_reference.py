"""``Shampoo(update_freq=...)`` against a line-by-line transcription of the torch-optimizer reference step
(momentum 0, weight decay 0; its ``_matrix_power`` SVD replaced by the same ``sym_power`` eigh our class uses, so
the comparison is bit for bit): per mode i, P_i += H_(i) H_(i)^T, P_i^{-1/k} recomputed when the reference's
0-based step counter is a multiple of update_freq, H <- P_i^{-1/k} H_(i) (last mode H_(i)^T P_i^{-1/k})."""
from __future__ import annotations

import pytest
import torch

import proofs_numeric as pn
from proofs_numeric.optim.shampoo import sym_power

F64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_thread")


def reference_step(p, grad, state, lr, epsilon, update_freq):
    """torch_optimizer.Shampoo.step for one tensor, transcribed (state["step"] starts at 0, incremented last)."""
    order, original_size = grad.ndimension(), grad.size()
    if len(state) == 0:
        state["step"] = 0
        for dim_id, dim in enumerate(grad.size()):
            state[f"precond_{dim_id}"] = epsilon * torch.eye(dim, dtype=grad.dtype)
            state[f"inv_precond_{dim_id}"] = grad.new(dim, dim).zero_()
    for dim_id, dim in enumerate(grad.size()):
        precond, inv_precond = state[f"precond_{dim_id}"], state[f"inv_precond_{dim_id}"]
        grad = grad.transpose_(0, dim_id).contiguous()
        transposed_size = grad.size()
        grad = grad.view(dim, -1)
        grad_t = grad.t()
        precond.add_(grad @ grad_t)
        if state["step"] % update_freq == 0:
            inv_precond.copy_(sym_power(precond, -1 / order))
        if dim_id == order - 1:
            grad = grad_t @ inv_precond
            grad = grad.view(original_size)
        else:
            grad = inv_precond @ grad
            grad = grad.view(transposed_size)
    state["step"] += 1
    # the reference's p.data.add_(grad, alpha=-lr) may round as a fused multiply-add (1 ulp apart); the
    # subtraction is written as our optimizers do it, so what is compared bit for bit is the direction
    p.data.copy_(p.data - lr * grad)


def _trajectories(shape, update_freq, steps=7, lr=0.3, epsilon=1e-3):
    gen = torch.Generator().manual_seed(sum(shape) + update_freq)
    grads = [torch.randn(shape, dtype=F64, generator=gen) for _ in range(steps)]
    ours = torch.nn.Parameter(torch.randn(shape, dtype=F64, generator=gen))
    ref, state = ours.detach().clone(), {}
    opt = pn.optim.Shampoo([ours], lr=lr, epsilon=epsilon, update_freq=update_freq)
    out = []
    for g in grads:
        ours.grad = g.clone()
        opt.step()
        reference_step(ref, g.clone(), state, lr, epsilon, update_freq)
        out.append((ours.detach().clone(), ref.clone()))
    return out


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4)])
@pytest.mark.parametrize("update_freq", [1, 3])
def test_update_freq_matches_the_reference_bit_for_bit(shape, update_freq):
    for ours, ref in _trajectories(shape, update_freq):
        assert torch.equal(ours, ref)


def test_update_freq_changes_the_trajectory_after_the_first_step():
    """The comparison above can fail: update_freq = 3 reuses stale inverse roots at steps 2 and 3."""
    every, stale = _trajectories((4, 3), 1), _trajectories((4, 3), 3)
    gen_same = all(torch.equal(a[1], b[1]) for a, b in zip(every, stale))
    assert not gen_same
    assert not torch.equal(every[1][0], stale[1][0])


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None, "2", float("nan")])
def test_update_freq_must_be_a_positive_integer(bad):
    W = torch.nn.Parameter(torch.zeros(2, 2, dtype=F64))
    with pytest.raises(ValueError, match="update_freq must be an integer >= 1"):
        pn.optim.Shampoo([W], lr=0.1, update_freq=bad)
