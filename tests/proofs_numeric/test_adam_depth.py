"""Adam at depth (experiments._adam_depth): the schedule continues the constant-step run, the claim can fail."""
import math

import numpy as np
import pytest
import torch

from proofs_numeric.experiments import _adam_depth as D
from proofs_numeric.experiments import adam_vs_sign as AV
from kktcheck import single_threaded
from proofs_numeric.experiments.digits_training import Run, train


def test_schedule_is_one_up_to_t0_then_grows_exponentially():
    s = D.ExponentialAfter(10, 0.5)
    assert [s(t) for t in (1, 5, 10)] == [1.0, 1.0, 1.0]
    assert s(12) == pytest.approx(math.exp(1.0)) and s(14) / s(12) == pytest.approx(math.exp(1.0))
    for bad in [(-1, 0.1), (10, 0.0), (10, math.inf), (1.5, 0.1)]:
        with pytest.raises(ValueError, match="ExponentialAfter needs"):
            D.ExponentialAfter(*bad)


@pytest.mark.parametrize("algo", ["Adam eps=1e-8", "GD"])
def test_the_scheduled_run_is_the_constant_step_run_up_to_t0(algo):
    """Same numbers: the first t0 steps of the continuation equal the constant-step run (to the bit), and the
    schedule changes what comes after (so the comparison can fail)."""
    ds, model, p0 = AV._setup((3, 6), 0)
    t0 = 20
    with single_threaded():
        const = train(model, p0, ds.train, AV.make_optimizer(algo), t0, name=algo, n_records=5)
        sched = train(model, p0, ds.train, AV.make_optimizer(algo, schedule=D.ExponentialAfter(t0, 0.2)), 2 * t0,
                      name=algo, snapshot_steps=(t0, 2 * t0), n_records=5)
        flat = train(model, p0, ds.train, AV.make_optimizer(algo), 2 * t0, name=algo, n_records=5)
    for a, b in zip(const.params, sched.detail["snapshots"][t0]):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(flat.params, sched.detail["snapshots"][2 * t0]))


def _run(name, log10_levels, g2, ginf):
    lv = np.asarray(log10_levels, dtype=float) * math.log(10)
    n = len(lv)
    return Run(name, np.arange(n), lv, np.ones(n), {"l2": np.asarray(g2, float), "linf": np.asarray(ginf, float)},
               [])


def _pair(adam_g2, gd_g2, adam_inf=(20.0, 20.0), gd_inf=(2.0, 2.0), deepest=(-5, -30)):
    return {D.depth_name("Adam eps=1e-8"): _run("a", deepest, adam_g2, adam_inf),
            D.depth_name("GD"): _run("g", deepest, gd_g2, gd_inf)}


def test_claim_reads_the_deepest_common_level_and_can_fail():
    close = D.depth_claim(_pair((0.02, 0.09), (0.08, 0.1)))
    assert close.passed and close.measured == pytest.approx(0.9) and close.detail["log10_loss_level"] == -30
    far = D.depth_claim(_pair((0.02, 0.04), (0.08, 0.1)))
    assert not far.passed and far.measured == pytest.approx(0.4)
    ctl = D.depth_claim(_pair((0.02, 0.09), (0.08, 0.1)), control=True)      # gamma_inf(GD) / gamma_inf(Adam)
    assert ctl.negative_control and not ctl.passed and ctl.measured == pytest.approx(0.1)
    swapped = D.depth_claim(_pair((0.02, 0.09), (0.08, 0.1), adam_inf=(2.0, 2.0), gd_inf=(20.0, 20.0)), control=True)
    assert swapped.passed                                                     # the control's check can pass


def test_no_common_level_is_no_evidence():
    runs = _pair((0.02, 0.03), (0.08, 0.1), deepest=(-1, -2))               # never reaches 1e-5
    c = D.depth_claim(runs)
    assert math.isnan(c.measured) and not c.passed and math.isnan(D.deepest_common(*runs.values()))
    rows = D.level_rows([_pair((0.02, 0.09), (0.08, 0.1), deepest=(-5, -7))])
    assert [r["log10 L"] for r in rows] == list(D.LEVELS) and rows[0]["n"] == 1 and rows[1]["n"] == 0
