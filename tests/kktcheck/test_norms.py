"""Norm identities (Holder, duality map, dual of dual, subdifferential {v : ||v||_* = 1, <v, x> = ||x||}) for every norm, with hypothesis and pinned cases.

Tolerances are rounding allowances c * eps * sqrt(P) * scale (kktcheck.testing.strategies.tolerance);
SVD-based norms get c = 64 (backward-stable SVD: error O(eps * sqrt(P) * sigma_max) per singular value).
"""
from __future__ import annotations

import math

import cvxpy as cp
import numpy as np
import pytest
import torch
from hypothesis import example, given, settings, strategies as st

import kktcheck as kc
from kktcheck.norms import LpNorm, NuclearMatrix, SpectralMatrix
from kktcheck.params import inner
from kktcheck.testing import strategies as kst

CASES = {
    "l2": lambda: kc.norm("l2"), "l1": lambda: kc.norm("l1"), "linf": lambda: kc.norm("linf"),
    "lp:3": lambda: kc.norm("lp:3"), "lp:1.5": lambda: kc.norm("lp:1.5"),
    "spectral": lambda: kc.norm("spectral"), "nuclear": lambda: kc.norm("nuclear"),
    "block-max-scaled": lambda: kc.BlockNorm("max", [SpectralMatrix(), LpNorm(1)], scales=[2.0, 0.5]),
    "block-sum-scaled": lambda: kc.BlockNorm("sum", [NuclearMatrix(), LpNorm(math.inf)], scales=[0.5, 3.0]),
}
TWO_BLOCK = {"block-max-scaled", "block-sum-scaled"}
SVD = {"spectral", "nuclear", "block-max-scaled", "block-sum-scaled"}


def tol(name, theta, scale):
    P = sum(t.numel() for t in theta)
    return kst.tolerance(scale, P, c=64.0 if name in SVD else 16.0)


def in_subdifferential(nrm, x, v, atol) -> bool:
    """Membership in d||x|| (Lemma A.4): ||v||_* <= 1 and <v, x> = ||x||  (then ||v||_* = 1 for x != 0)."""
    nx = nrm(x)
    if nrm.dual(v) > 1 + atol:
        return False
    return abs(inner(v, x) - nx) <= atol * max(1.0, nx)


def draw_case(data):
    """Dependent draw: a norm name, then shapes that norm accepts, then theta and g with those shapes."""
    name = data.draw(st.sampled_from(sorted(CASES)), label="norm")
    shp = data.draw(kst.shapes(max_layers=2 if name in TWO_BLOCK else 3), label="shapes")
    if name in TWO_BLOCK and len(shp) != 2:
        shp = [(2, 3), (1, 2)]
    x = data.draw(kst.params(shapes=shp), label="x")
    g = data.draw(kst.params(shapes=shp), label="g")
    return name, CASES[name](), x, g


@settings(max_examples=150)
@given(st.data())
def test_holder_duality_map_and_steepest_step(data):
    name, nrm, x, g = draw_case(data)
    gd, nx = nrm.dual(g), nrm(x)
    assert inner(g, x) <= gd * nx + tol(name, x, gd * nx)                       # Hoelder
    u = nrm.dualize(g)
    assert abs(nrm(u) - 1) <= tol(name, u, 1.0)                                # ||dualize(g)|| = 1
    assert abs(inner(g, u) - gd) <= tol(name, g, gd)                           # <g, dualize(g)> = ||g||_*
    step = nrm.steepest(g)
    assert abs(inner(g, step) + gd ** 2) <= tol(name, g, gd ** 2)              # <g, D> = -||g||_*^2
    assert abs(nrm(step) - gd) <= tol(name, g, gd)                             # ||D|| = ||g||_*


@settings(max_examples=100)
@given(st.data())
def test_dual_of_dual_and_subgradient(data):
    name, nrm, x, _ = draw_case(data)
    nx = nrm(x)
    assert abs(nrm.dual_norm.dual_norm(x) - nx) <= tol(name, x, nx)
    assert abs(nrm.dual(x) - nrm.dual_norm(x)) <= tol(name, x, nrm.dual(x))
    v = nrm.subgradient(x)
    assert abs(nrm.dual(v) - 1) <= tol(name, v, 1.0)                           # Lemma A.4: ||v||_* = 1
    assert abs(inner(v, x) - nx) <= tol(name, x, nx)                           # <v, x> = ||x||
    assert in_subdifferential(nrm, x, v, tol(name, x, 1.0))


@settings(max_examples=40)
@given(st.data())
def test_cvxpy_expression_matches_value(data):
    name, nrm, x, _ = draw_case(data)
    expr = nrm.cvxpy([cp.Constant(t.numpy()) for t in x])
    nx = nrm(x)
    assert abs(float(expr.value) - nx) <= tol(name, x, nx)
    dexpr = nrm.dual_cvxpy([cp.Constant(t.numpy()) for t in x])
    assert abs(float(dexpr.value) - nrm.dual(x)) <= tol(name, x, nrm.dual(x))


# ---- documented selections at non-unique points ----------------------------------------------------------

def test_l1_selects_first_argmax():
    u = kc.norm("l1").dualize([torch.tensor([1.0, -3.0, 3.0, 2.0], dtype=torch.float64)])[0]
    assert u.tolist() == [0.0, -1.0, 0.0, 0.0]


def test_linf_sign_of_zero_is_zero():
    g = [torch.tensor([[0.0, -2.0], [0.5, 0.0]], dtype=torch.float64)]
    assert kc.norm("linf").dualize(g)[0].tolist() == [[0.0, -1.0], [1.0, 0.0]]


def test_spectral_rank_deficient_gives_UrVrT():
    a = torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64)
    b = torch.tensor([0.0, 3.0, 0.0, 4.0], dtype=torch.float64)
    G = 2.0 * torch.outer(a, b)                                  # rank 1, sigma = 2 * 3 * 5 = 30
    U = kc.norm("spectral").dualize([G])[0]
    expected = torch.outer(a / 3.0, b / 5.0)
    assert torch.allclose(U, expected, rtol=0, atol=64 * kst.EPS)
    assert abs(kc.norm("nuclear")([G]) - 30.0) <= 64 * kst.EPS * 30


def test_block_max_scales_every_block_and_sum_picks_first_max():
    nrm = CASES["block-max-scaled"]()
    g = [torch.tensor([[3.0, 0.0], [0.0, 1.0]], dtype=torch.float64), torch.tensor([0.0, -2.0], dtype=torch.float64)]
    u = nrm.dualize(g)
    assert torch.allclose(u[0], 2.0 * torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64))
    assert u[1].tolist() == [0.0, -0.5]                          # c_2 * (first-argmax l1 selection)
    assert abs(nrm.dual(g) - (2.0 * 4.0 + 0.5 * 2.0)) <= 16 * kst.EPS * 9
    s = kc.BlockNorm("sum", LpNorm(2), scales=[1.0, 1.0])
    tie = [torch.tensor([3.0, 4.0], dtype=torch.float64), torch.tensor([0.0, 5.0], dtype=torch.float64)]
    v = s.dualize(tie)
    assert v[0].tolist() == [0.6, 0.8] and v[1].tolist() == [0.0, 0.0]


def test_zero_gradient_maps_to_zero():
    for name, make in CASES.items():
        shp = [(2, 3), (1, 2)]
        z = [torch.zeros(s, dtype=torch.float64) for s in shp]
        assert all(not bool(t.any()) for t in make().dualize(z)), name


# ---- negative controls ------------------------------------------------------------------------------------

def test_wrong_dualize_fails_identity():
    """The l2 direction used for linf is unit in l_inf after rescaling but does not attain ||g||_1."""
    g = [torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)]
    nrm = kc.norm("linf")
    wrong = [g[0] / g[0].abs().max()]
    assert abs(nrm(wrong) - 1) <= kst.EPS
    gap = nrm.dual(g) - inner(g, wrong)
    assert gap > 1e3 * tol("linf", g, nrm.dual(g))               # 6 - 14/3: far outside rounding


def test_membership_helper_rejects_non_subgradients():
    x = [torch.tensor([1.0, -2.0, 0.0], dtype=torch.float64)]
    l1 = kc.norm("l1")
    assert in_subdifferential(l1, x, [torch.tensor([1.0, -1.0, 0.3])], 1e-12)     # valid: any value at x_j = 0
    assert not in_subdifferential(l1, x, [torch.tensor([1.0, 1.0, 0.0])], 1e-12)  # <v, x> = -1 != 3
    assert not in_subdifferential(l1, x, [torch.tensor([1.0, -1.0, 1.5])], 1e-12)  # ||v||_inf > 1
    W = [torch.diag(torch.tensor([3.0, 1.0], dtype=torch.float64))]
    spec = kc.norm("spectral")
    assert in_subdifferential(spec, W, [torch.diag(torch.tensor([1.0, 0.0], dtype=torch.float64))], 1e-12)
    assert not in_subdifferential(spec, W, [torch.eye(2, dtype=torch.float64)], 1e-12)  # nuclear norm 2


@pytest.mark.parametrize("name", sorted(CASES))
def test_pinned_edge_cases(name):
    """Regression cases: ties, zeros, a single entry, extreme scale ratios."""
    nrm = CASES[name]()
    for g in ([torch.tensor([[1.0, -1.0, 1.0], [1.0, 0.0, -1.0]]), torch.tensor([[1.0, -1.0]])],
              [torch.tensor([[0.0, 0.0, 1e-3], [0.0, 0.0, 0.0]]), torch.tensor([[10.0, 0.0]])],
              [torch.tensor([[10.0, 10.0, 10.0], [1e-3, -1e-3, 1e-3]]), torch.tensor([[0.0, 1e-3]])]):
        g = [t.double() for t in g]
        u, gd = nrm.dualize(g), nrm.dual(g)
        assert abs(nrm(u) - 1) <= tol(name, u, 1.0)
        assert abs(inner(g, u) - gd) <= tol(name, g, gd)
