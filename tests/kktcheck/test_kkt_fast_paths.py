"""The fast measure programs (sparse Clarke band, pivoted-Cholesky Gram split for l2, row generation for l1)
against the textbook P-dimensional program written here from scratch, on small random two-layer ReLU nets with
pairs inside the Clarke band. A perturbed instance must give a different value (the comparison can fail)."""
import cvxpy as cp
import numpy as np
import pytest
import torch

import kktcheck as kc
from kktcheck.testing.cases import kinked_two_layer
from kktcheck.kkt.combination import Combination

RADIUS = 0.05  # wide band so that every instance has several (sample, neuron) pairs in it


def _net(seed, n=8, d=6, m=7):
    return kinked_two_layer(seed, n, d, m)


def _direct_measure(theta_tilde, X, y, norm):
    """min over lambda >= 0, mu of max(FY(x, u) / rho^2, 2 (q - 1) . lambda / rho^2), u = sum_i lambda_i k_i with
    k_i in the band of radius RADIUS (slopes in [clip(2 z / r - 1, 0, 1), clip(2 z / r + 2, 0, 1)], z the normalized
    pre-activation), all P coordinates explicit."""
    W, a = theta_tilde[0], theta_tilde[1][0]
    m, d = W.shape
    Z = X @ W.T
    zeta = Z / np.linalg.norm(X, axis=1)[:, None] / np.linalg.norm(W, axis=1)[None, :]
    lo = np.where(np.abs(zeta) <= RADIUS, np.clip(2 * zeta / RADIUS - 1, 0, 1), (Z > 0).astype(float))
    hi = np.where(np.abs(zeta) <= RADIUS, np.clip(2 * zeta / RADIUS + 2, 0, 1), lo)
    x = np.concatenate([W.reshape(-1), a])
    q = y * (np.maximum(Z, 0) @ a)
    lam, mu = cp.Variable(len(y), nonneg=True), cp.Variable((len(y), m), nonneg=True)
    slopes_lo = y[:, None] * lo * a[None, :]  # (n, m): y_i a_j lo_ij
    rowsW = [X.T @ (cp.multiply(slopes_lo[:, j], lam) + a[j] * cp.multiply(y, mu[:, j])) for j in range(m)]
    ua = np.maximum(Z, 0).T @ np.diag(y) @ lam
    u = cp.hstack(rowsW + [ua])
    dual = {"l2": cp.norm(u, 2), "l1": cp.norm(u, "inf"), "linf": cp.norm(u, 1)}[norm]
    rho = {"l2": np.linalg.norm(x), "l1": np.abs(x).sum(), "linf": np.abs(x).max()}[norm]
    fy = 0.5 * rho ** 2 + 0.5 * cp.square(dual) - x @ u
    cons = [mu <= cp.multiply(hi - lo, cp.reshape(lam, (len(y), 1), order="C") @ np.ones((1, m)))]
    prob = cp.Problem(cp.Minimize(cp.maximum(fy / rho ** 2, 2 * (q - 1) @ lam / rho ** 2)), cons)
    prob.solve(solver="CLARABEL")
    assert prob.status == "optimal", prob.status
    return prob.value


@pytest.mark.parametrize("norm", ["l2", "l1", "linf"])
@pytest.mark.parametrize("seed", [0])
def test_fast_measure_matches_the_direct_program_and_a_perturbed_one_does_not(norm, seed):
    net, (X, y) = _net(seed)
    res = kc.residual(net, (X, y), norm=norm, pair=False, clarke_radius=RADIUS)
    assert res.status == "optimal" and res.clarke == "two-layer-exact" and res.measure_source == "program"
    tt = [np.asarray(b) for b in res.theta_tilde]
    assert res.measure == pytest.approx(_direct_measure(tt, X, y, norm), rel=1e-6, abs=1e-8)
    moved = [tt[0] + 0.05 * np.random.default_rng(seed).standard_normal(tt[0].shape), tt[1]]
    moved = kc.feasible_rescaling(moved, float(np.min(y * (np.maximum(X @ moved[0].T, 0) @ moved[1][0]))), 2)[0]
    assert abs(_direct_measure(moved, X, y, norm) - res.measure) > 1e-4  # the comparison above can fail


def test_sparse_band_combination_equals_the_dense_one():
    rng = np.random.default_rng(0)
    J0, C = rng.standard_normal((5, 30)), rng.standard_normal((30, 4)) * (rng.random((30, 4)) < 0.3)
    G, Gd = Combination(J0, C), np.hstack([J0.T, C])
    z, x = rng.standard_normal(9), rng.standard_normal(30)
    assert np.allclose(G @ z, Gd @ z) and np.allclose(G.rmatvec(x), Gd.T @ x)
    assert np.allclose(G.gram(), Gd.T @ Gd) and np.allclose(G.rows([3, 7]), Gd[[3, 7]])
    assert np.allclose(G.matrix().toarray(), Gd) and np.allclose(G.column(2), C[:, 2])
    assert not np.allclose(Combination(J0, C[:, ::-1]).gram(), Gd.T @ Gd)  # a different band is seen


def test_rank_one_gram_equals_the_plain_product():
    """Two-layer layout: W_j block of J0_i = B_ij x_i; the structured Gram (x_i . x_i') (B B^T) + rest rest^T."""
    rng = np.random.default_rng(1)
    n, m, d = 6, 4, 5
    X, B, rest = rng.standard_normal((n, d)), rng.standard_normal((n, m)), rng.standard_normal((n, m))
    J0 = np.hstack([(B[:, :, None] * X[:, None, :]).reshape(n, m * d), rest])
    C = rng.standard_normal((m * d + m, 3)) * (rng.random((m * d + m, 3)) < 0.3)
    Gd = np.hstack([J0.T, C])
    assert np.allclose(Combination(J0, C, rank_one=(X, m)).gram(), Gd.T @ Gd, rtol=1e-12, atol=1e-12)
    J1 = J0.copy()
    J1[0, 1] += 1.0  # breaks the rank-one form: the plain product must be used
    G1 = np.hstack([J1.T, C])
    assert np.allclose(Combination(J1, C, rank_one=(X, m)).gram(), G1.T @ G1, rtol=1e-12, atol=1e-12)


def test_feasible_rescaling_puts_the_smallest_margin_at_one():
    net, (X, y) = _net(1)
    params = [p.detach() for p in net.parameters()]
    q = y * net(torch.from_numpy(X))[:, 0].detach().numpy()
    tt, c = kc.feasible_rescaling(params, q.min(), 2)
    q_t = y * torch.nn.functional.linear(torch.relu(torch.from_numpy(X) @ tt[0].T), tt[1])[:, 0].numpy()
    assert q_t.min() == pytest.approx(1.0, rel=1e-12) and c == pytest.approx(q.min() ** 0.5)
    assert kc.feasible_rescaling(params, q.min(), 1)[1] != pytest.approx(c)  # the degree matters
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="q_min"):
            kc.feasible_rescaling(params, bad, 2)
    with pytest.raises(ValueError, match="degree"):
        kc.feasible_rescaling(params, 1.0, 0)


def test_psd_entries_count_the_sdp_before_any_work():
    shapes = [(30, 12), (1, 30)]
    assert kc.norm("spectral").dual_norm.psd_entries(shapes) == (30 + 12) ** 2  # nuclear norm of the 30 x 12 layer
    assert kc.norm("nuclear").dual_norm.psd_entries(shapes) == (30 + 12) ** 2  # sigma_max of it
    assert kc.norm("l2").psd_entries(shapes) == 0 and kc.norm("linf").dual_norm.psd_entries(shapes) == 0
    assert kc.norm("muon-signum").psd_entries([(30, 12), (5,)]) == (30 + 12) ** 2
