"""Closed forms of the un-normalized steepest step (l2: -g; l1: -||g||_inf sign(g_i*) e_i*; linf: -||g||_1 sign(g); spectral: -||G||_nuc U V^T) and the selections at ties."""
from __future__ import annotations

import pytest
import torch

import proofs_numeric as pn

O = pn.optim
F64 = torch.float64
EPS = torch.finfo(F64).eps


pytestmark = pytest.mark.usefixtures("one_thread")


def _step(opt_cls, gs, **kw):
    ps = [torch.nn.Parameter(torch.zeros_like(g)) for g in gs]
    opt = opt_cls(ps, **kw)
    for p, g in zip(ps, gs):
        p.grad = g.clone()
    opt.step()
    return [p.detach() for p in ps]


def _g(seed):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(4, 3, dtype=F64, generator=gen), torch.randn(5, dtype=F64, generator=gen)]


def _close(a, b, scale=1.0):
    return all(torch.allclose(x, y, rtol=0, atol=64 * EPS * scale) for x, y in zip(a, b))


def test_l2_is_gradient_descent():
    g = _g(0)
    assert _close(_step(O.SteepestDescent, g, lr=1.0, norm="l2"), [-x for x in g], 10)


def test_linf_is_l1_scaled_sign_descent():
    g = _g(1)
    l1 = float(sum(x.abs().sum() for x in g))
    assert _close(_step(O.SignDescent, g, lr=1.0), [-l1 * torch.sign(x) for x in g], l1)


def test_l1_is_greedy_coordinate_descent_over_all_tensors():
    g = _g(2)
    flat = torch.cat([x.reshape(-1) for x in g])
    i = int(flat.abs().argmax())
    expect = torch.zeros_like(flat)
    expect[i] = -flat[i].abs() * torch.sign(flat[i])
    got = torch.cat([x.reshape(-1) for x in _step(O.CoordinateDescent, g, lr=1.0)])
    assert torch.equal(got, expect)


def test_l1_tie_takes_the_first_coordinate_across_tensors():
    g = [torch.tensor([[0.0, -3.0], [1.0, 0.0]], dtype=F64), torch.tensor([3.0, -3.0], dtype=F64)]
    W, v = _step(O.CoordinateDescent, g, lr=1.0, normalized=True)
    assert torch.equal(W, torch.tensor([[0.0, 1.0], [0.0, 0.0]], dtype=F64)) and torch.equal(v, torch.zeros(2, dtype=F64))


def test_linf_zero_coordinates_stay_put():
    g = [torch.tensor([0.0, 2.0, -1.0], dtype=F64)]
    (x,) = _step(O.SignDescent, g, lr=1.0, normalized=True)
    assert torch.equal(x, torch.tensor([0.0, -1.0, 1.0], dtype=F64))


def test_lp_closed_form():
    g, p = _g(3), 3.0
    q = p / (p - 1)
    flat = torch.cat([x.reshape(-1) for x in g])
    nq = float(flat.abs().pow(q).sum() ** (1 / q))
    expect = -nq ** (2 - q) * torch.sign(flat) * flat.abs() ** (q - 1)
    got = torch.cat([x.reshape(-1) for x in _step(O.SteepestDescent, g, lr=1.0, norm="lp:3")])
    assert torch.allclose(got, expect, rtol=1e-13, atol=0)


def test_spectral_scales_by_the_sum_of_nuclear_norms():
    g = _g(4)
    nuc = float(sum(torch.linalg.matrix_norm(x.reshape(x.shape[0], -1) if x.dim() == 2 else x.reshape(1, -1),
                                             ord="nuc") for x in g))
    U, S, Vh = torch.linalg.svd(g[0], full_matrices=False)
    got = _step(O.SpectralDescent, g, lr=1.0)
    assert _close(got, [-nuc * U @ Vh, -nuc * g[1] / g[1].norm()], nuc)
    norm_ = _step(O.SpectralDescent, g, lr=1.0, normalized=True)
    assert _close(norm_, [-U @ Vh, -g[1] / g[1].norm()])


def test_spectral_rank_deficient_selects_u_r_v_r():
    gen = torch.Generator().manual_seed(5)
    G = torch.randn(5, 1, dtype=F64, generator=gen) @ torch.randn(1, 4, dtype=F64, generator=gen)
    (W,) = _step(O.SpectralDescent, [G], lr=1.0, normalized=True)
    assert torch.linalg.matrix_rank(W) == 1
    assert torch.allclose(-W, G / torch.linalg.matrix_norm(G), atol=64 * EPS, rtol=0)


def test_zero_gradient_means_no_step():
    g = [torch.zeros(3, 2, dtype=F64)]
    for cls in (O.SignDescent, O.CoordinateDescent, O.SpectralDescent):
        for normalized in (False, True):
            assert torch.equal(_step(cls, g, lr=1.0, normalized=normalized)[0], g[0])
