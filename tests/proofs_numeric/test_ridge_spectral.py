"""The spectral ridge step (proofs_numeric.flow.ridge_spectral via flow.ridge.ridge_step(..., "spectral")):

    (R)  maximize_{max_b sigma_max(D_b) <= r}  min_i (q_i + J_i D)

checked against its dual min_{w in simplex} <w, q> + r sum_b ||(J^T w)_b||_nuc solved as a separate cvxpy program
(nuclear norms, not the primal's sigma_max constraints), blockwise feasibility, the one-vector-block case (then the
norm is l2 and the l2 solver of flow.ridge_l2 must agree), planted bugs the optimality test catches, and the
integrated path's first-order self-convergence on the tiny teacher-student net."""
import math

import cvxpy as cp
import numpy as np
import pytest
import torch

import kktcheck as kc
from proofs_numeric.checks.thm34_recognize_checks import recognize_case
from proofs_numeric.flow import RidgeStep, integrate
from proofs_numeric.flow.ridge import ridge_step
from proofs_numeric.flow import ridge_spectral
from proofs_numeric.flow.ridge_spectral import block_slices, solve_spectral

pytestmark = pytest.mark.usefixtures("one_thread")
SHAPES = {"net": [(3, 3), (1, 3)], "mixed": [(4, 3), (5,), (2, 3, 2)], "wide": [(2, 6), (6, 2), (3,)]}


def _problem(seed, shapes, n=7):
    rng = np.random.default_rng(seed)
    P = sum(int(np.prod(s)) for s in shapes)
    return rng.random(n) * 0.5, rng.standard_normal((n, P)), float(rng.uniform(0.05, 0.5))


def _dual_optimum(q, J, r, shapes) -> float:
    """min over the simplex of <w, q> + r sum_b ||(J^T w)_b||_nuc (an independent program: the dual)."""
    w = cp.Variable(q.size, nonneg=True)
    g = J.T @ w
    terms = [cp.normNuc(cp.reshape(g[sl], (m, k), order="C")) for sl, (m, k) in block_slices(shapes)]
    prob = cp.Problem(cp.Minimize(q @ w + r * sum(terms)), [cp.sum(w) == 1])
    prob.solve(solver=cp.CLARABEL)
    return float(prob.value)


def _feasible(D, r, shapes) -> bool:
    return all(np.linalg.norm(D[sl].reshape(m, k), 2) <= r * (1 + 1e-9) for sl, (m, k) in block_slices(shapes))


def _optimal(q, J, r, shapes, D) -> bool:
    """D is feasible and its value min_i (q_i + J_i D) equals the dual optimum to 1e-6 (relative to the gain)."""
    value, dual = float((q + J @ D).min()), _dual_optimum(q, J, r, shapes)
    return _feasible(D, r, shapes) and abs(value - dual) <= 1e-6 * max(1.0, abs(dual - q.min()))


@pytest.mark.parametrize("kind", sorted(SHAPES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spectral_ridge_step_is_optimal_against_the_nuclear_norm_dual(kind, seed):
    shapes = SHAPES[kind]
    q, J, r = _problem(seed, shapes)
    sol = ridge_step(q, J, r, "spectral", shapes=shapes)
    assert _optimal(q, J, r, shapes, sol.D)
    assert sol.value == pytest.approx(float((q + J @ sol.D).min()), abs=1e-12)
    assert 0 <= sol.gap <= 1e-6 * (sol.value - q.min())           # its own certificate agrees
    assert sol.w.min() >= 0 and sol.w.sum() == pytest.approx(1.0, abs=1e-9) and sol.rounds == 1
    assert sol.value > q.min()                                    # a real gain: the test is not vacuous


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_bugs_fail_the_optimality_test(seed):
    shapes = SHAPES["net"]
    q, J, r = _problem(seed, shapes)
    flipped = solve_spectral(q, -J, r, shapes)[0]                # the sign of J wrong
    assert _feasible(flipped, r, shapes) and not _optimal(q, J, r, shapes, flipped)
    loose = J.copy()                                            # block 0's radius 10 r: its constraint ignored
    loose[:, block_slices(shapes)[0][0]] *= 10.0
    D = solve_spectral(q, loose, r, shapes)[0]
    D[block_slices(shapes)[0][0]] *= 10.0
    assert float((q + J @ D).min()) > _dual_optimum(q, J, r, shapes) + 1e-3 and not _optimal(q, J, r, shapes, D)
    wrong_shape = [(9,), (1, 3)]                                 # block 0 read as a vector: the l2 (Frobenius) ball
    D = ridge_step(q, J, r, "spectral", shapes=wrong_shape).D
    assert not _optimal(q, J, r, shapes, D)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_vector_block_is_the_l2_ridge_step(seed):
    q, J, r = _problem(seed, [(12,)])
    spec, l2 = (ridge_step(q, J, r, "spectral", shapes=[(12,)]), ridge_step(q, J, r, "l2"))
    assert spec.value == pytest.approx(l2.value, abs=1e-7)
    assert np.abs(spec.D - l2.D).max() <= 1e-4 * r       # the l2 ball is strictly convex: one optimal step
    two = ridge_step(q, J, r, "spectral", shapes=[(6,), (6,)])   # two vector blocks: max of l2 norms, not l2
    assert two.value > l2.value + 1e-3


@pytest.mark.parametrize("seed", [0, 1])
def test_wide_layers_with_rank_one_rows_are_compressed_without_changing_the_optimum(seed):
    """A ReLU layer's rows J_ib = u_i v_i^T (rank one): the (30, 20) block is solved on its spans (at most n x n) and
    its step still matches the full nuclear-norm dual; a block with J_b = 0 gets D_b = 0."""
    rng = np.random.default_rng(seed)
    n, shapes = 5, [(30, 20), (1, 30), (4, 4)]
    rank_one = np.einsum("nm,nk->nmk", rng.standard_normal((n, 30)), rng.standard_normal((n, 20))).reshape(n, -1)
    J = np.hstack([rank_one, rng.standard_normal((n, 30)), np.zeros((n, 16))])
    q, r = rng.random(n) * 0.5, 0.2
    sol = ridge_step(q, J, r, "spectral", shapes=shapes)
    assert _optimal(q, J, r, shapes, sol.D) and sol.gap <= 1e-6 * (sol.value - q.min())
    assert np.abs(sol.D[-16:]).max() == 0.0
    assert np.linalg.matrix_rank(sol.D[:600].reshape(30, 20), tol=1e-9 * r) <= n
    exact = ridge_spectral._spans
    with pytest.MonkeyPatch.context() as patch:     # planted bug: the compression drops one direction of each span
        patch.setattr(ridge_spectral, "_spans", lambda Jb: tuple(B[:, :-1] if B.shape[1] > 1 else B for B in exact(Jb)))
        assert not _optimal(q, J, r, shapes, ridge_step(q, J, r, "spectral", shapes=shapes).D)


def test_programs_beyond_the_size_limit_are_refused_before_they_are_built():
    rng = np.random.default_rng(0)
    n, shapes = 20, [(40, 40)]                      # 20 * 40 * 40 = 32,000 compressed entries > MAX_ENTRIES
    assert n * 1600 > ridge_spectral.MAX_ENTRIES
    with pytest.raises(RuntimeError, match="too large"):
        ridge_step(rng.random(n), rng.standard_normal((n, 1600)), 0.1, "spectral", shapes=shapes)


def test_spectral_ridge_step_needs_matching_shapes():
    q, J, r = _problem(0, SHAPES["net"])
    with pytest.raises(ValueError, match="shapes"):
        ridge_step(q, J, r, "spectral")
    with pytest.raises(ValueError, match="hold 11 parameters"):
        ridge_step(q, J, r, "spectral", shapes=[(3, 3), (2,)])


def _direction(theta):
    scale = float(kc.norm("spectral")(theta))
    return torch.cat([p.reshape(-1) / scale for p in theta])


def _direction_at(tr, log10_loss):
    """theta / ||theta||_spectral at log10 L = log10_loss exactly: linear in log10 L between the two steps around it
    (runs with different h overshoot the target by different amounts, and the direction still moves with depth)."""
    depth = [float(tr.log10_loss[i]) for i, _ in tr.snapshots]
    k = next(i for i, v in enumerate(depth) if v <= log10_loss)
    a = (depth[k - 1] - log10_loss) / (depth[k - 1] - depth[k])
    return (1 - a) * _direction(tr.snapshots[k - 1][1]) + a * _direction(tr.snapshots[k][1])


def test_spectral_ridge_path_self_converges_at_first_order():
    """From the same late state (log10 L = -100) to log10 L = -300: the directions of the runs with h and h/2 differ
    by less than those with 2h and h, for h = 0.02 and 0.01 (measured: 3.2e-5, 9.3e-6, 5.2e-6 for the pairs
    (0.04, 0.02), (0.02, 0.01), (0.01, 0.005)); every step is a ridge step. The explicit relative steps this rule
    used before (chattering across the ridge) gave differences 0.029, 0.021, 0.051 at log10 L = -1e4."""
    model, th0, data = recognize_case("tiny")
    late = integrate(model, th0, data, norm="spectral", step=RidgeStep(0.0125), target_log_loss=-100 * math.log(10),
                     margin_norms=()).params
    dirs = []
    for h in (0.04, 0.02, 0.01, 0.005):
        tr = integrate(model, late, data, norm="spectral", step=RidgeStep(h), target_log_loss=-300 * math.log(10),
                       margin_norms=(), snapshot_every=1)
        assert tr.status == "success" and tr.info["ridge_steps"] == tr.info["steps"]
        dirs.append(_direction_at(tr, -300.0))
    diffs = [float((a - b).abs().max()) for a, b in zip(dirs, dirs[1:])]
    assert 0 < diffs[2] < 0.75 * diffs[1] < 0.75 ** 2 * diffs[0], diffs
