"""Property tests (hypothesis): the integrator's step is the norm's steepest step, Prop. A.3 identities
hold at random points, and the loss-time velocity scales as documented."""
import math

import numpy as np
import torch
from hypothesis import given, settings, strategies as st

import kktcheck as kc
from proofs_numeric import models
from proofs_numeric.datasets import linearly_separable
from proofs_numeric.flow import ConstantStep, SteepestField, integrate
from proofs_numeric.losses import grad_log_loss

EPS = float(np.finfo(np.float64).eps)


@settings(max_examples=12)
@given(seed=st.integers(0, 10_000), norm=st.sampled_from(["l2", "l1", "linf", "spectral", "lp:3"]),
       scale=st.floats(0.1, 3.0))
def test_field_identities_and_first_step(seed, norm, scale):
    X, y = linearly_separable(8, 4, seed=seed)
    m = models.TwoLayerReLU(4, 5)
    th = m.init(scale, torch.Generator().manual_seed(seed))
    nrm = kc.norm(norm)
    # spectral dualize keeps singular values > 1e-12 sigma_max (numerical rank), so <G, u> falls short of the
    # nuclear norm by at most (rank <= 4) * 1e-12 sigma_max: the documented cut, not rounding
    rel = max(1e3 * EPS, 4 * 1e-12) if norm == "spectral" else 1e3 * EPS
    for time in ("loss", "flow"):
        ev = SteepestField(m, X, y, nrm, time=time)(th)
        v = ev.velocity
        L = math.exp(ev.log_L) if time == "flow" else 1.0
        pair = float(sum((g * b).sum() for g, b in zip(ev.G, v)))
        assert abs(pair + L * ev.gdual ** 2) <= rel * L * ev.gdual ** 2
        assert abs(nrm(v) - L * ev.gdual) <= 1e3 * EPS * L * ev.gdual
    tr = integrate(m, th, (X, y), norm=nrm, step=ConstantStep(1e-3), max_steps=1, margin_norms=())
    lL, G = grad_log_loss(m, th, X, y)
    assert all(torch.equal(a, t + 1e-3 * d) for a, t, d in zip(tr.params, th, nrm.steepest(G)))
    assert tr.log_loss[1] <= lL  # small step: loss non-increasing


def test_progress_bar_runs():
    X, y = linearly_separable(8, 4, seed=0)
    m = models.Linear(4)
    tr = integrate(m, m.init(0.5, torch.Generator().manual_seed(0)), (X, y), max_steps=5, progress=True)
    assert tr.steps[-1] == 5 and tr.status in ("max_steps", "not_separated")
