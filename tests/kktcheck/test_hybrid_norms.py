"""Hybrid norms of Muon-Signum / Muon-Adam: max{r ||W||_msp, ||u||_inf} (kktcheck/norms/hybrid.py).

Identities as in test_norms.py (Hoelder, <g, dualize g> = ||g||_*, ||dualize g|| = 1, dual of dual, Lemma A.4 for
the subgradient, cvxpy value) on a mix of matrix and vector blocks, the closed forms pinned against independent
formulas (sigma_max, nuclear norm, l_inf, l_1), and bad ratios. Tolerances: c * eps * sqrt(P) * scale, c = 64
(SVD involved), times max(r, 1/r) for the scales 1/r.
"""
from __future__ import annotations

import math

import cvxpy as cp
import pytest
import torch
from hypothesis import given, settings, strategies as st

import kktcheck as kc
from kktcheck.norms import HybridNorm
from kktcheck.params import inner
from kktcheck.testing import strategies as kst

F64 = torch.float64
RATIOS = (1.0, 0.1, 0.5, 3.0)
LAYOUTS = ([(3, 2), (3,)], [(2, 4), (4, 2), (2,)], [(1, 3), (5,), (2, 2)], [(4,)], [(2, 3)])


def _norm(r):
    return kc.norm("muon-signum") if r == 1.0 else kc.norm(f"muon-adam:{r:g}")


def tol(theta, scale, r):
    P = sum(t.numel() for t in theta)
    return kst.tolerance(scale, P, c=64.0) * max(r, 1.0 / r)


def draw(data):
    r = data.draw(st.sampled_from(RATIOS), label="ratio")
    shp = data.draw(st.sampled_from(LAYOUTS), label="shapes")
    x = data.draw(kst.params(shapes=shp), label="x")
    g = data.draw(kst.params(shapes=shp), label="g")
    return r, _norm(r), x, g


def reference(r, theta):
    """Independent closed forms: value max(r max_k sigma_max(W_k), max |u|), dual (1/r) sum nuc + sum |u|."""
    mats = [t for t in theta if t.dim() >= 2]
    vecs = [t for t in theta if t.dim() < 2]
    val = max([r * float(torch.linalg.matrix_norm(W, 2)) for W in mats] + [float(v.abs().max()) for v in vecs])
    dual = sum(float(torch.linalg.matrix_norm(W, "nuc")) / r for W in mats) + sum(float(v.abs().sum()) for v in vecs)
    return val, dual


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_value_dual_holder_and_duality_map(data):
    r, nrm, x, g = draw(data)
    val, dual = reference(r, x)
    assert abs(nrm(x) - val) <= tol(x, val, r)
    assert abs(nrm.dual(x) - dual) <= tol(x, dual, r)
    gd, nx = nrm.dual(g), nrm(x)
    assert inner(g, x) <= gd * nx + tol(x, gd * nx, r)                        # Hoelder
    u = nrm.dualize(g)
    assert abs(nrm(u) - 1) <= tol(u, 1.0, r)                                  # ||dualize(g)|| = 1
    assert abs(inner(g, u) - gd) <= tol(g, gd, r)                             # <g, dualize(g)> = ||g||_*


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_dual_of_dual_subgradient_and_cvxpy(data):
    r, nrm, x, _ = draw(data)
    nx = nrm(x)
    assert nrm.dual_norm.dual_norm == nrm
    assert abs(nrm.dual_norm.dual_norm(x) - nx) <= tol(x, nx, r)
    v = nrm.subgradient(x)
    assert abs(nrm.dual(v) - 1) <= tol(v, 1.0, r)                             # ||v||_* = 1
    assert abs(inner(v, x) - nx) <= tol(x, nx, r)                             # <v, x> = ||x||
    expr = nrm.cvxpy([cp.Constant(t.numpy()) for t in x])
    assert abs(float(expr.value) - nx) <= 1e-6 * max(1.0, nx)                 # cvxpy's own SVD / eig route
    dexpr = nrm.dual_cvxpy([cp.Constant(t.numpy()) for t in x])
    assert abs(float(dexpr.value) - nrm.dual(x)) <= 1e-6 * max(1.0, nrm.dual(x))


def test_duality_map_selection_is_scaled_polar_and_sign():
    W = torch.tensor([[3.0, 0.0], [0.0, 1.0]], dtype=F64)
    u = torch.tensor([0.0, -2.0, 5.0], dtype=F64)
    d = kc.norm("muon-adam:0.5").dualize([W, u])
    assert torch.equal(d[0], 2.0 * torch.eye(2, dtype=F64))                   # (1/r) U V^T
    assert d[1].tolist() == [0.0, -1.0, 1.0]                                  # sign with sign(0) = 0


def test_subgradient_puts_mass_on_the_first_maximal_block():
    W = torch.tensor([[4.0, 0.0], [0.0, 1.0]], dtype=F64)                     # r sigma_max = 2 (r = 0.5)
    u = torch.tensor([1.0, -2.0], dtype=F64)                                   # ||u||_inf = 2: a tie
    v = kc.norm("muon-adam:0.5").subgradient([W, u])
    assert torch.equal(v[0], torch.tensor([[0.5, 0.0], [0.0, 0.0]], dtype=F64))  # r u1 v1^T in the first block
    assert torch.equal(v[1], torch.zeros(2, dtype=F64))


def test_ratio_one_equals_muon_signum_and_names_round_trip():
    x = [torch.tensor([[1.0, 2.0], [0.0, -1.0]], dtype=F64), torch.tensor([0.5, -3.0], dtype=F64)]
    assert kc.norm("muon-adam:1")(x) == kc.norm("muon-signum")(x)
    assert kc.norm("muon-adam:0.25").name == "muon-adam:0.25"
    assert kc.norm(kc.norm("muon-adam:0.25").name) == kc.norm("muon-adam:0.25")


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "x"])
def test_bad_ratio_is_a_value_error(bad):
    with pytest.raises(ValueError, match="ratio"):
        kc.norm(f"muon-adam:{bad}")
    with pytest.raises(ValueError, match="ratio"):
        HybridNorm(bad)


def test_negative_control_l2_direction_breaks_the_identity():
    """A wrong duality map (the l2 direction rescaled to unit hybrid norm) misses <g, u> = ||g||_*."""
    nrm = kc.norm("muon-adam:0.5")
    g = [torch.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=F64), torch.tensor([0.5, -3.0, 1.0], dtype=F64)]
    u = kc.norm("l2").dualize(g)
    u = [t / nrm(u) for t in u]
    assert abs(nrm(u) - 1) <= tol(u, 1.0, 0.5)
    assert nrm.dual(g) - inner(g, u) > 0.1 * nrm.dual(g)


def test_optimizer_implicit_norms_are_the_hybrid_norms():
    import proofs_numeric as pn
    ps = [torch.nn.Parameter(torch.zeros(3, 2, dtype=F64)), torch.nn.Parameter(torch.zeros(3, dtype=F64))]
    assert pn.optim.MuonSignum(ps, 0.1).implicit_norm() == kc.norm("muon-signum")
    assert pn.optim.MuonAdam(ps, 0.1, ratio=0.3).implicit_norm() == kc.norm("muon-adam:0.3")
    assert math.isclose(kc.norm("muon-adam:0.3")([p.detach() + 1 for p in ps]), 1.0)


def _linear_data(seed=1):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(12, 4, dtype=F64, generator=g)
    w0 = torch.randn(4, dtype=F64, generator=g)
    return X, torch.sign(X @ w0), w0


def test_residual_in_hybrid_norm_is_zero_at_the_exact_max_margin_and_not_elsewhere():
    """Vector-only parameters: the hybrid norm is l_inf, so the exact l_inf max-margin direction of a linear model
    (an LP, kc.max_margin_linear) is KKT in it: measure ~ 0 (solver accuracy), the same as kc.residual in linf.
    Control: the generating direction w0 (a separator, not the max-margin one) has measure > 0.1."""
    from proofs_numeric.models import DiagonalNet
    X, y, w0 = _linear_data()
    model = DiagonalNet(4, 1)                                     # f(x) = <w, x>, w a vector block
    w = [torch.as_tensor(kc.max_margin_linear(X, y, norm="linf").w, dtype=F64).reshape(-1)]
    for name in ("muon-signum", "muon-adam:0.3"):
        at_opt = kc.residual(w, (X, y), model=model, norm=name, pair=False)
        assert at_opt.status == "optimal" and at_opt.measure <= 1e-6
        assert math.isclose(at_opt.measure, kc.residual(w, (X, y), model=model, norm="linf", pair=False).measure,
                            rel_tol=1e-3, abs_tol=1e-9)
        assert kc.residual([w0], (X, y), model=model, norm=name, pair=False).measure > 0.1


def test_residual_runs_in_hybrid_norm_on_a_matrix_and_vector_model():
    from proofs_numeric.smooth_models import TwoLayerSquaredReLU
    g = torch.Generator().manual_seed(0)
    model = TwoLayerSquaredReLU(5, 6)
    params = model.init(1.0, g)
    X = torch.randn(8, 5, dtype=F64, generator=g)
    y = torch.sign(model.apply_params(params, X))
    res = kc.residual(params, (X, y), model=model, norm="muon-adam:0.3", pair=False)
    assert res.status == "optimal" and res.norm == "muon-adam:0.3" and 0.0 <= res.measure <= 0.5
