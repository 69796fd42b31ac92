"""The batched engine equals the per-run loop (TwoLayerReLU + proofs_numeric.optim) and kc.margin."""
import math

import numpy as np
import pytest
import torch

import kktcheck as kc
from proofs_numeric.datasets import teacher_student
from proofs_numeric.experiments.batched import NORMS, steepest_direction, train_batched
from batched_loop_oracle import train_loop
from proofs_numeric.experiments.teacher_student import init_params
from proofs_numeric.models import TwoLayerReLU

RUNS = [("GD", None), ("CD", None), ("SD", None), ("GD", "SD"), ("GD", "CD")]
LR = {"GD": 0.1, "CD": 0.1, "SD": 0.1}
STEPS, K, D = 250, 20, 30


@pytest.fixture(scope="module")
def setup(one_thread):
    data = [teacher_student(seed=s) for s in (0, 1)]
    cfg = [(s, al, sw) for s in (0, 1) for al, sw in RUNS]
    inits = [init_params(s, K, D, 0.1) for s, _, _ in cfg]
    W0, a0 = torch.stack([w for w, _ in inits]), torch.stack([a for _, a in inits])
    X, y = torch.stack([data[s].X for s, _, _ in cfg]), torch.stack([data[s].y for s, _, _ in cfg])
    br = train_batched(W0, a0, X, y, [al for _, al, _ in cfg], switch_to=[sw for _, _, sw in cfg], lr=LR,
                       steps=STEPS, n_records=20)
    return cfg, W0, a0, X, y, br, data


def test_batched_equals_loop_every_norm_and_switch(setup):
    cfg, W0, a0, X, y, br, _ = setup
    assert (br.fit_step >= 0).all()                                 # every run fits, so switches happen
    for i, (s, al, sw) in enumerate(cfg):
        r = train_loop(W0[i], a0[i], X[i], y[i], al, lr=LR, steps=STEPS, switch_to=sw, n_records=20)
        scale = max(1.0, float(br.W[i].abs().max()), float(br.a[i].abs().max()))
        assert float((r["W"] - br.W[i]).abs().max()) <= 1e-12 * scale, (al, sw)
        assert float((r["a"] - br.a[i]).abs().max()) <= 1e-12 * scale, (al, sw)
        assert r["fit_step"] == br.fit_step[i]
        np.testing.assert_array_equal(r["steps"], br.steps)
        np.testing.assert_allclose(r["log_loss"], br.log_loss[i], rtol=1e-12, atol=1e-12)
        for p in NORMS:
            np.testing.assert_allclose(r["margins"][p], br.margins[p][i], rtol=1e-11, atol=1e-15)
            assert math.isclose(r["margins_at_fit"][p], br.margins_at_fit[p][i], rel_tol=1e-11)


def test_recorded_margins_are_kc_margin(setup):
    cfg, _, _, X, y, br, _ = setup
    model = TwoLayerReLU(D, K)
    for i in (0, 1, 2, 3):
        theta = [br.W[i], br.a[i].reshape(1, -1)]
        for p in NORMS:
            ref = kc.margin(theta, (X[i], y[i]), model=model, norm=p)
            assert math.isclose(br.margins[p][i, -1], ref, rel_tol=1e-12), (i, p)
            lL = float(torch.logsumexp(-(y[i] * model.apply_params(theta, X[i])), 0))
            assert math.isclose(br.soft[p][i, -1], -lL / float(kc.norm(p)(theta)) ** 2, rel_tol=1e-12)


def test_algorithm_changes_the_numbers(setup):
    cfg, _, _, _, _, br, _ = setup
    gd, sd, gd_sd = 0, 2, 3                                      # same seed, data and init
    assert float((br.W[gd] - br.W[sd]).abs().max()) > 1e-3
    assert float((br.W[gd] - br.W[gd_sd]).abs().max()) > 1e-3
    assert br.margins["linf"][sd, -1] > br.margins["linf"][gd, -1]


@pytest.mark.parametrize("k, name", [(0, "l1"), (1, "l2"), (2, "linf")])
def test_direction_is_the_norms_dualize(k, name):
    g = torch.randn(3, 17, dtype=torch.float64, generator=torch.Generator().manual_seed(k))
    g[1, 5] = 0.0
    g[2] = 0.0
    u = steepest_direction(g, torch.full((3,), k))
    nrm = kc.norm(name)
    for s in range(2):
        torch.testing.assert_close(u[s], nrm.dualize([g[s]])[0], rtol=0, atol=1e-15)
        assert math.isclose(float(g[s] @ u[s]), float(nrm.dual([g[s]])), rel_tol=1e-13)
    assert not u[2].any()                                         # g = 0 -> no move


def test_bad_arguments():
    W0, a0 = torch.zeros(1, 2, 3, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64)
    X, y = torch.zeros(1, 4, 3, dtype=torch.float64), torch.ones(1, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="unknown algorithm 'Adam'"):
        train_batched(W0, a0, X, y, ["Adam"], lr=LR, steps=1)
    with pytest.raises(ValueError, match="no step size for SD"):
        train_batched(W0, a0, X, y, ["GD"], switch_to=["SD"], lr={"GD": 0.1}, steps=1)
    with pytest.raises(ValueError, match="batch sizes differ"):
        train_batched(W0, a0, X, y, ["GD", "SD"], lr=LR, steps=1)


def test_kink_slide_unsticks_cd_and_matches_the_loop(one_thread):
    """Seed 7 at init scale 1e-3 (width 20): plain first-argmax CD stalls at a ReLU kink (log L frozen near 3),
    the sliding rule reaches L < 1; the per-run reference with the same rule gives the same iterate."""
    ds, (W0, a0) = teacher_student(seed=7), init_params(7, K, D, 1e-3)
    args = (W0[None], a0[None], ds.X[None], ds.y[None], ["CD"])
    plain = train_batched(*args, lr=LR, steps=400, n_records=60, kink_slide=False)
    slide = train_batched(*args, lr=LR, steps=400, n_records=10)
    assert plain.log_loss[0, -1] > 2.5 and abs(plain.log_loss[0, -1] - plain.log_loss[0, -2]) < 0.05
    assert slide.log_loss[0, -1] < 1.0
    r = train_loop(W0, a0, ds.X, ds.y, "CD", lr=LR, steps=400, n_records=10)
    assert float((r["W"] - slide.W[0]).abs().max()) <= 1e-12 * max(1.0, float(slide.W[0].abs().max()))


def test_soft_drop_tracker_sees_a_drop_between_records():
    from proofs_numeric.experiments.batched import SoftDropTracker
    tr = SoftDropTracker(2)
    nr2 = torch.ones(2, 3, dtype=torch.float64)
    for t, lL in enumerate([[2.0, 2.0], [-1.0, -1.0], [-2.0, -2.0], [-1.5, -3.0], [-4.0, -4.0]]):
        tr.update(t, torch.tensor(lL, dtype=torch.float64), nr2)
    w = tr.worst_by_norm()
    assert math.isclose(w["l2"][0], 0.25) and w["l2"][1] == 0.0     # -2 -> -1.5 is a 25% drop; run 1 never drops
    assert tr.steps_checked.tolist() == [3, 3]
