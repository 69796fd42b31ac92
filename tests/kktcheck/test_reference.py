"""The reference problems' claimed answers, checked by hand (numpy), independent of kc.residual."""
import numpy as np
import pytest
import torch

import kktcheck as kc
from kktcheck import reference as R
from kktcheck.subdiff import dist_to_subdifferential


@pytest.mark.parametrize("name", ["l2", "l1", "linf"])
def test_linear_answer_satisfies_kkt(name):
    p = R.linear_max_margin(name)
    X, y = p.data
    w = p.theta_star[0].numpy().reshape(-1)
    lam = p.lambda_star
    q = y * (X @ w)
    assert q.min() == pytest.approx(1.0, abs=1e-7)
    assert lam.min() >= 0 and np.abs(lam * (q - 1)).max() <= 1e-7 * lam.max()
    u = (lam * y) @ X  # sum_i lambda_i grad q_i
    d, _ = dist_to_subdifferential(name, [torch.from_numpy(w)], [torch.from_numpy(u)])
    assert d <= 1e-6 * kc.norm(name)([torch.from_numpy(w)])


def test_c3_hand_kkt():
    p = R.two_layer_dead_neuron()
    W, a = p.theta[0].numpy(), p.theta[1].numpy().reshape(-1)
    X, y = p.data
    q = y * (np.maximum(X @ W.T, 0) @ a)
    np.testing.assert_array_equal(q, [1.0, 1.0])
    # grad of q_i: W_j-block a_j 1[z_ij > 0] x_i (relu'(0) = 0), a_j: relu(z_ij)
    Z = X @ W.T
    gW = sum(p.lambda_star[i] * y[i] * (a * (Z[i] > 0))[:, None] * X[i][None, :] for i in range(2))
    ga = sum(p.lambda_star[i] * y[i] * np.maximum(Z[i], 0) for i in range(2))
    np.testing.assert_array_equal(gW, W)
    np.testing.assert_array_equal(ga, a)


def test_clarke_needed_hand_kkt():
    p = R.two_layer_clarke_needed()
    W, a = p.theta[0].numpy(), p.theta[1].numpy().reshape(-1)
    X, y = p.data
    Z = X @ W.T
    assert Z[0, 1] == 0.0
    np.testing.assert_allclose(y * (np.maximum(Z, 0) @ a), [1.0, 1.0], rtol=1e-15)
    lam = p.lambda_star
    for s, ok in ((1.0, True), (0.0, False)):
        D = (Z > 0).astype(float)
        D[0, 1] = s
        gW = sum(lam[i] * y[i] * (a * D[i])[:, None] * X[i][None, :] for i in range(2))
        ga = sum(lam[i] * y[i] * np.maximum(Z[i], 0) for i in range(2))
        close = np.allclose(gW, W, atol=1e-12) and np.allclose(ga, a, atol=1e-12)
        assert close == ok


def test_perturbed_point_is_feasible_after_rescaling():
    p = R.linear_max_margin("l2", perturbed=True)
    X, y = p.data
    w = p.theta[0].numpy().reshape(-1)
    assert (y * (X @ w)).min() > 0 and not p.is_kkt
