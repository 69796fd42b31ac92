"""Shampoo: Eq. (77) without accumulation = U V^T; the accumulating torch-optimizer reference (exponent -1/order, accumulated from eps I)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import proofs_numeric as pn
from proofs_numeric.optim.shampoo import sym_power

O = pn.optim
F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")
EPS = torch.finfo(F64).eps


def _mat(shape, seed):
    return torch.randn(shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


def _polar(G):
    U, S, Vh = torch.linalg.svd(G, full_matrices=False)
    return U @ Vh, S


def _one_step(opt_cls, G, **kw):
    W = torch.nn.Parameter(torch.zeros_like(G))
    opt = opt_cls([W], **kw)
    W.grad = G.clone()
    opt.step()
    return -W.detach()


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_eq77_equals_exact_polar_factor(shape):
    G = _mat(shape, 1)
    P, S = _polar(G)
    d = _one_step(O.ShampooNoAccumulation, G, lr=1.0)
    kappa = float(S[0] / S[-1])
    assert float((d - P).abs().max()) <= 64 * max(shape) * EPS * kappa ** 2
    spec = _one_step(O.SpectralDescent, G, lr=1.0, normalized=True)
    assert float((d - spec).abs().max()) <= 64 * max(shape) * EPS * kappa ** 2


def test_eq77_rank_deficient_uses_pseudo_inverse_powers():
    G = _mat((6, 2), 2) @ _mat((2, 5), 3)            # rank 2
    U, S, Vh = torch.linalg.svd(G, full_matrices=False)
    P, P2 = U @ Vh, U[:, :2] @ Vh[:2]                 # full thin polar (noise directions) vs U_r V_r^T
    d = _one_step(O.ShampooNoAccumulation, G, lr=1.0)
    assert torch.linalg.matrix_rank(d) == 2
    assert float((d - P2).abs().max()) < 1e-6        # Gram route: dropped directions cost sqrt(eps) accuracy
    assert float((d - P).abs().max()) > 0.1          # the full-rank polar of the noisy SVD is NOT selected


def test_eq77_vector_is_l2_normalized():
    g = _mat((7,), 4)
    d = _one_step(O.ShampooNoAccumulation, g, lr=1.0)
    assert torch.allclose(d, g / g.norm(), atol=64 * EPS, rtol=0)


def test_reference_single_step_converges_to_polar_linearly_in_eps():
    G = _mat((5, 3), 5)
    P, S = _polar(G)
    eps_grid = np.array([1e-2, 1e-3, 1e-4, 1e-5, 1e-6])
    err = np.array([float((_one_step(O.Shampoo, G, lr=1.0, epsilon=e) - P).abs().max()) for e in eps_grid])
    slope = np.polyfit(np.log(eps_grid), np.log(err), 1)[0]
    assert abs(slope - 1.0) < 0.05, (slope, err)       # error = O(eps / sigma_min^2): first order in eps
    assert err[-1] < 1e-5


def test_reference_matches_closed_form_over_two_steps():
    """Delta_t = L_t^{-1/2} G_t R_t^{-1/2}, L_t = eps I + sum G G^T, R_t = eps I + sum H^T H, H = L^{-1/2} G."""
    eps, G1, G2 = 1e-3, _mat((4, 3), 6), _mat((4, 3), 7)
    W = torch.nn.Parameter(torch.zeros(4, 3, dtype=F64))
    opt = O.Shampoo([W], lr=1.0, epsilon=eps)
    L, R, total = eps * torch.eye(4, dtype=F64), eps * torch.eye(3, dtype=F64), torch.zeros(4, 3, dtype=F64)
    for G in (G1, G2):
        W.grad = G.clone()
        opt.step()
        L = L + G @ G.T
        H = sym_power(L, -0.5) @ G
        R = R + H.T @ H
        total = total - H @ sym_power(R, -0.5)
    assert torch.allclose(W.detach(), total, rtol=1e-9, atol=1e-12)
    # Eq. (76) (exponent -1/4, both sides from the raw gradient) is a different update: negative control
    L76 = eps * torch.eye(4, dtype=F64) + G1 @ G1.T + G2 @ G2.T
    R76 = eps * torch.eye(3, dtype=F64) + G1.T @ G1 + G2.T @ G2
    eq76_second = sym_power(L76, -0.25) @ G2 @ sym_power(R76, -0.25)
    d2 = H @ sym_power(R, -0.5)                          # the reference's second step
    assert float((d2 - eq76_second).abs().max()) > 1e-2 * float(d2.abs().max())


def test_reference_update_freq_reuses_stale_inverse():
    eps, G1, G2 = 1e-3, _mat((3, 3), 8), _mat((3, 3), 9)
    W = torch.nn.Parameter(torch.zeros(3, 3, dtype=F64))
    opt = O.Shampoo([W], lr=1.0, epsilon=eps, update_freq=2)
    W.grad = G1.clone()
    opt.step()
    Linv = sym_power(eps * torch.eye(3, dtype=F64) + G1 @ G1.T, -0.5)
    H1 = Linv @ G1
    Rinv = sym_power(eps * torch.eye(3, dtype=F64) + H1.T @ H1, -0.5)
    W.grad = G2.clone()
    before = W.detach().clone()
    opt.step()                                           # step 2: preconditioners accumulate, inverses stale
    assert torch.allclose(before - W.detach(), Linv @ G2 @ Rinv, rtol=1e-10, atol=1e-13)


def test_reference_on_a_vector_is_not_a_descent_method():
    """Order-1 tensors get (eps I + sum g g^T)^(-1) g: directions not yet seen are amplified by 1/eps. Pinned
    because it is the reference behaviour (the paper applies Shampoo to a matrix only)."""
    target = _mat((5,), 5)
    x = torch.nn.Parameter(_mat((5,), 6))
    opt = O.Shampoo([x], lr=0.01, epsilon=1e-4)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = 0.5 * ((x - target) ** 2).sum()
        loss.backward()
        losses.append(loss.item())
        opt.step()
    assert any(b > a for a, b in zip(losses, losses[1:]))


def test_shampoo_bad_input():
    W = torch.nn.Parameter(torch.zeros(2, 2, dtype=F64))
    with pytest.raises(ValueError, match="epsilon"):
        O.Shampoo([W], lr=0.1, epsilon=0.0)
    with pytest.raises(ValueError, match="update_freq"):
        O.Shampoo([W], lr=0.1, update_freq=0)
    with pytest.raises(ValueError, match="scalar"):
        O.Shampoo([torch.nn.Parameter(torch.zeros((), dtype=F64))], lr=0.1)
