"""Subdifferential of 1/2||theta||^2 (||theta|| d||theta|| = {h : ||h||_* = ||theta||, <h, theta> = ||theta||^2}) as cvxpy constraints, with ties and zeros."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import kktcheck as kc
from kktcheck.subdiff import dist_to_subdifferential, norm_subdifferential_constraints

NORMS = ["l2", "l1", "linf", "lp:3", "spectral", "nuclear"]
EPS = np.finfo(np.float64).eps


def _theta(seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(1, 3, generator=g, dtype=torch.float64)]


def _pair(a, b):
    return sum(float((torch.as_tensor(x) * torch.as_tensor(y)).sum()) for x, y in zip(a, b))


@settings(max_examples=4)
@given(seed=st.integers(0, 2 ** 16), name=st.sampled_from(NORMS))
def test_projection_lies_in_subdifferential(seed, name):
    """The closest h to a random u satisfies ||h||_* = ||theta|| and <h, theta> = ||theta||^2 (Lemma A.4)."""
    theta = _theta(seed)
    nrm = kc.norm(name)
    rho = nrm(theta)
    u = _theta(seed + 1)
    d, h = dist_to_subdifferential(name, theta, u)
    h = [torch.from_numpy(x) for x in h]
    assert nrm.dual(h) == pytest.approx(rho, rel=1e-6)
    assert _pair(h, theta) == pytest.approx(rho ** 2, rel=1e-6)
    assert d == pytest.approx(nrm.dual([a - torch.as_tensor(b) for a, b in zip(h, u)]), rel=1e-6, abs=1e-9)
    assert d > 1e-3  # a random u is not in the set


@pytest.mark.parametrize("name", NORMS)
def test_known_subgradient_has_zero_distance(name):
    theta = _theta(0)
    nrm = kc.norm(name)
    u = [nrm(theta) * v for v in nrm.subgradient(theta)]
    d, _ = dist_to_subdifferential(name, theta, u)
    assert d <= 1e-7 * nrm(theta)


def test_linf_ties_give_convex_hull():
    theta = [torch.tensor([2.0, -2.0 * (1 - 1e-9), 0.5], dtype=torch.float64)]
    u = [2.0 * torch.tensor([0.5, -0.5, 0.0])]  # rho * (e1 - e2) / 2: the midpoint of the two tied vertices
    assert dist_to_subdifferential("linf", theta, u, tol=1e-6)[0] <= 1e-7
    assert dist_to_subdifferential("linf", theta, u, tol=0.0)[0] > 0.5  # exact set: only rho * e1


def test_l1_zeros_are_free():
    theta = [torch.tensor([1.0, 1e-12, -2.0], dtype=torch.float64)]
    u = [3.0 * torch.tensor([1.0, 0.3, -1.0])]
    assert dist_to_subdifferential("l1", theta, u, tol=1e-6)[0] <= 1e-7
    assert dist_to_subdifferential("l1", theta, u, tol=0.0)[0] > 0.5


def test_spectral_repeated_singular_values_and_layer_ties():
    """||.|| = max_l sigma_max(W_l): identity block (all singular values tie) and two layers attaining the max."""
    theta = [torch.eye(2, dtype=torch.float64), torch.tensor([[1.0, 0.0]], dtype=torch.float64)]
    # h = U M V^T with M = diag(0.25, 0.25) in block 0 (weight 1/2) and 1/2 e1^T in block 1: in the set
    u = [torch.eye(2, dtype=torch.float64) * 0.25, torch.tensor([[0.5, 0.0]], dtype=torch.float64)]
    assert dist_to_subdifferential("spectral", theta, u)[0] <= 1e-7
    off = [torch.tensor([[0.0, 0.5], [0.0, 0.0]], dtype=torch.float64), torch.tensor([[0.5, 0.0]])]
    assert dist_to_subdifferential("spectral", theta, off)[0] > 0.1  # M must be PSD: an off-diagonal M is not
    # a non-maximal layer cannot take part
    theta2 = [torch.eye(2, dtype=torch.float64), torch.tensor([[0.5, 0.0]], dtype=torch.float64)]
    assert dist_to_subdifferential("spectral", theta2, u)[0] > 0.1


def test_zero_theta_gives_zero_set():
    import cvxpy as cp
    h = [cp.Variable(3)]
    cons = norm_subdifferential_constraints("l1", [torch.zeros(3, dtype=torch.float64)], h)
    prob = cp.Problem(cp.Maximize(cp.sum(h[0])), cons)
    prob.solve()
    assert abs(prob.value) <= 1e-9


def test_bad_tol():
    with pytest.raises(ValueError, match="tol"):
        norm_subdifferential_constraints("l2", _theta(0), [None, None], tol=1.5)


def test_each_norm_builds_its_own_subdifferential_constraints():
    """The constraints come from ``Norm.subdifferential_cvxpy`` (no dispatch on the norm's type): a norm that
    overrides it is asked, and the base Norm's exact set is what a norm without ties gets."""
    import cvxpy as cp
    from kktcheck.norms.lp import LpNorm
    from kktcheck.subdiff import block_shape

    calls = []

    class Recording(LpNorm):
        def subdifferential_cvxpy(self, theta, h, t, tol):
            calls.append((len(theta), float(t), tol))
            return super().subdifferential_cvxpy(theta, h, t, tol)

    theta = _theta(3)
    h = [cp.Variable(block_shape(b)) for b in theta]
    cons = norm_subdifferential_constraints(Recording(float("inf")), theta, h, tol=1e-6)
    assert calls == [(2, pytest.approx(float(kc.norm("linf")(theta))), 1e-6)] and cons
    generic = kc.norms.base.Norm.subdifferential_cvxpy(kc.norm("l2"), [b.numpy() for b in theta], h, 1.0, 1e-6)
    assert len(generic) == 2                                   # {||h||_* <= t, <h, theta> = t ||theta||}
