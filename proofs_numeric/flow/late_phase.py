"""``RidgeStep``: the default step rule for the exponential loss in l1, l2, linf and the layer-wise spectral norm. It
follows the flow into the late phase without chattering across the ridge where several margins tie.

Two regimes, chosen each step from s = L q_min (L the homogeneity degree, q_min = min_i q_i): an explicit
step of relative size h moves every q_i by about h s, while the loss weights softmax(-q) have temperature 1,
and for l1/linf the sign or argmax pattern of the gradient flips (a second sliding mode, in coordinates)
on a scale that explicit steps resolve only when they are tiny. The switch does not depend on h, so that
runs with different h share the same explicit stretch and converge as h shrinks.

* Not stiff (before separation, or s < ``stiffness``): explicit steepest (Euler) steps of relative size
  min(h, 1/(L q_min)) once the data are separated, so that no q_i moves by much more than the temperature,
  with the usual safeguard (a step that raises log L is halved). log(1/L) grows by O(1) per step here.
* Stiff (or separated while the explicit safeguard has cut the step below 1e-3 of its size, as coordinate
  descent's single-coordinate steps do at ReLU kinks): the ridge step of ``flow.ridge`` (the linearized implicit steepest step in the sharp limit,
  maximize min_i q_i + J_i D over ||D|| <= h ||theta||), solved exactly in normalized units (q / ||theta||^L,
  J / ||theta||^(L-1)). A trust-region test accepts it: the achieved gain of min_i q_i must be at least
  10% of the predicted one and log L must not rise; otherwise h is halved and the step retried. After a
  gain above 75% of the prediction h doubles back towards its initial value, below 25% it halves. Each
  accepted step multiplies log(1/L) by about (1 + L h), so depth grows geometrically in the step count.

The time increment of a ridge step is ||D|| / ||G_+||_* (loss time; divided by L_+ in flow time), the
implicit-Euler relation theta_+ = theta - ds ||G_+||_* dualize(G_+) with G_+ at the end of the step.
Kinks (cutting planes): a ReLU unit j with c_ij = y_i a_j < 0 contributes min(0, c_ij z_ij) to q_i, a CONCAVE
piece, so the current side's linearization over-predicts q_i once the step moves z_ij across 0 (convex pieces need
nothing: either side's linearization is a lower bound). After each trial step whose achieved gain is below
``cut_below`` (75% of the predicted one in l1 and l2, 50% in linf, whose re-solve is the costly one), the
model's ``kink_rows`` gives, for every point whose concave units the
trial moved across 0, one extra row of the program: q_i and grad q_i at theta with those units on their trial side.
q_i's concave part is the min over such pieces, so the rows are cutting planes; the program is re-solved with the
same h (at most ``max_cut_rounds`` = 8 rounds per step; a piece is added once), and only then is h halved. Without
cuts, coordinate descent's l1 steps (a few coordinates of the largest units moved by h ||theta||_1) cross the kinks
of points sitting at a unit's hyperplane on almost every step: on the benchmark net (teacher-student d = 50,
n = 64, width 100) the trust region then halved h to 1e-5 and 200 steps reached log10 L = -65; with the cuts the
same run reaches -1.1e5 in 143 steps with no rejected step. ReLUNet's ``kink_rows`` (depth >= 3) cuts the units
whose coefficient dq_i/dh is negative and that change side (a lower bound only for first-layer moves with no unit
above changing side: docs/flow.md). Models without ``kink_rows`` (autograd models) rely on the trust-region test alone (the achieved gain catches the shortfall; after ``max_rejections``
halvings the rule takes ``cooldown`` explicit steps and then tries the ridge again). Norms other than l1, l2,
linf and spectral (``flow.ridge_spectral``), other losses and multi-class labels use the explicit regime only (a
relative step with the safeguard).
Depth beyond float64 (``frame=True``, the default): the loop keeps theta = 2^e P and moves ||P|| into e by an exact
power of two once it passes 2^64 (``flow.scaled``); the program's rows are normalized, so they are the same in the
frame, the regime test uses min_i q_i(theta) = e^(L kappa) min_i q_i(P) and the acceptance compares log log(1/L). A
run then continues past ||theta|| = 1e308 and log(1/L) = 1e308. ``frame=False`` keeps theta in plain float64 (the
run stalls where log L leaves float64).
Warm starts: the l1/linf LPs start from the previous step's weights and working set of coordinates (the linf
coordinates strictly inside the box, the l1 support); they change how fast the LP is solved, not its optimum
(where the optimum is not unique, which optimal vertex is returned).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from kktcheck.params import unflatten

from .ridge import NORMS, ridge_step
from .steps import StepContext, StepOutcome, StepRule


class _Cuts:
    """The rows of the ridge program: the n margins (q, J) and the kink cuts added so far (each a piece of one
    point's margin with some concave units on the other side; identical pieces are added once)."""

    def __init__(self, q, J):
        self.q, self.J, self.seen, self.rounds = q, J, set(), 0

    def add(self, rows) -> bool:
        """Add the pieces not seen yet; True when at least one was new (then the program changed)."""
        if rows is None or rows[0].size == 0:
            return False
        qa, Ja = rows
        keys = [hash((float(qa[r]), Ja[r].tobytes())) for r in range(qa.size)]
        fresh = [r for r, key in enumerate(keys) if key not in self.seen]
        if not fresh:
            return False
        self.seen.update(keys)
        self.q, self.J = np.concatenate([self.q, qa[fresh]]), np.vstack([self.J, Ja[fresh]])
        self.rounds += 1
        return True


class RidgeStep(StepRule):
    backtrack = True
    # achieved/predicted gain below which the crossed kinks are cut and the step re-solved. linf is cut only below
    # 0.5: its re-solve (a larger LP, ~9 column-generation rounds) made sign descent 6x slower at 0.75 (teacher-student
    # continuation to -1e4: 6-11 s against 1.4-2 s) for a drawdown of 2e-4 instead of 7e-3-1e-2; l1 and l2 need 0.75
    # (coordinate descent's late-phase drawdown on kinked_case: 0 at every h at 0.75, up to 0.016 at 0.5)
    cut_below = {"l1": 0.75, "l2": 0.75, "linf": 0.5, "spectral": 0.75}

    def __init__(self, h: float = 0.05, stiffness: float = 10.0, max_rejections: int = 12, cooldown: int = 50,
                 max_cut_rounds: int = 8, frame: bool = True):
        super().__init__()
        self.frame_ok = bool(frame)     # False: theta stays plain float64 (the run ends near ||theta|| = 1e308)
        if not (0 < h < 1 and math.isfinite(h)):
            raise ValueError(f"RidgeStep: the relative step h must lie in (0, 1), got {h!r}")
        if not (stiffness > 0 and math.isfinite(stiffness)):
            raise ValueError(f"RidgeStep: stiffness must be a positive finite number, got {stiffness!r}")
        self.h, self.stiffness, self.max_rejections = float(h), float(stiffness), int(max_rejections)
        if not (isinstance(max_cut_rounds, int) and max_cut_rounds >= 0):
            raise ValueError(f"RidgeStep: max_cut_rounds must be an integer >= 0, got {max_cut_rounds!r}")
        self.cooldown, self.max_cut_rounds = int(cooldown), max_cut_rounds
        self.reset()

    def reset(self) -> None:
        self.fac, self.h_cur, self.h_explicit, self.w, self.cols = 1.0, self.h, self.h, None, None
        self.n_ridge, self.n_rejected, self.n_fallback, self.explicit_left, self.n_cuts = 0, 0, 0, 0, 0

    def __call__(self, ev, theta_norm):
        speed = ev.speed
        if not speed > 0:
            return 0.0
        return self.h_explicit * (theta_norm if theta_norm > 0 else 1.0) / speed  # theta = 0: a step of length h

    def advance(self, ctx: StepContext) -> StepOutcome:
        qmin = _true_qmin(ctx)
        ridge_ok = ctx.field.ridge_norm in NORMS
        stiff = ctx.degree * qmin >= self.stiffness
        self.explicit_left = max(self.explicit_left - 1, 0)
        if ridge_ok and qmin > 0 and (stiff or self.fac < 1e-3) and not self.explicit_left:
            out = self._ridge(ctx)
            if not out.why:
                return out
            self.n_fallback += 1                       # kinks defeat the linearization here: explicit steps
            self.fac, self.h_cur, self.explicit_left = 1.0, self.h, self.cooldown
        self.h_explicit = min(self.h, 1.0 / (ctx.degree * qmin)) if ridge_ok and qmin > 0 else self.h
        return super().advance(ctx)

    def _ridge(self, ctx: StepContext) -> StepOutcome:
        """One ridge step: solve (R) for the rows (margins and kink cuts), try it, and either accept it, add the
        cuts of the concave kinks it crossed and re-solve (same h), or halve h."""
        rho, L = ctx.theta_norm, ctx.degree
        try:
            rho_L, rho_L1 = rho ** L, rho ** (L - 1)
        except OverflowError:                    # plain float64 (frame=False) at ||theta|| ~ 1e154 and beyond
            return StepOutcome(ctx.params, None, 0.0, "||theta||^L left float64's range (frame=False keeps theta in "
                               "plain float64; the default frame=True goes on)", "stalled")
        q, J = ctx.field.margins_jacobian(ctx.params)
        start = float(q.min()) / rho_L
        cuts = _Cuts(q, J)
        halvings = 0
        blocks = {"shapes": [tuple(p.shape) for p in ctx.params]} if ctx.field.ridge_norm == "spectral" else {}
        while True:
            try:
                sol = ridge_step(cuts.q / rho_L, cuts.J / rho_L1, self.h_cur, ctx.field.ridge_norm,
                                 None if self.w is None else np.r_[self.w, np.zeros(cuts.q.size - q.size)], self.cols,
                                 **blocks)
            except RuntimeError as err:          # the LP solver gave up: explicit steps take over for a while
                return StepOutcome(ctx.params, None, 0.0, f"ridge solver failed ({err})", "stalled")
            D = unflatten(torch.from_numpy(rho * sol.D).to(ctx.field.device), ctx.params)   # LP on the CPU
            with torch.no_grad():
                new = [p + d for p, d in zip(ctx.params, D)]
                ev_new = ctx.field(new, ctx.log_scale)
            predicted = sol.value - start
            ratio = (float(ev_new.q.min()) / rho_L - start) / predicted if predicted > 0 else -math.inf
            good = ev_new.finite and ev_new.deeper_or_level(ctx.ev) and ratio >= 0.1
            short_of_prediction = ratio < self.cut_below[ctx.field.ridge_norm] and cuts.rounds < self.max_cut_rounds
            if short_of_prediction and cuts.add(ctx.field.kink_rows(ctx.params, new, q, J)):
                self.n_cuts += 1                 # the step crossed concave kinks: re-solve with their pieces
                continue
            if good:
                self.w, self.cols, self.n_ridge = sol.w[:q.size], sol.columns, self.n_ridge + 1
                self.h_cur = min(self.h, 2 * self.h_cur) if ratio > 0.75 else (
                    0.5 * self.h_cur if ratio < 0.25 else self.h_cur)
                return _accepted(ctx, new, ev_new, float(ctx.field.norm(D)))
            self.n_rejected += 1
            halvings += 1
            if halvings >= self.max_rejections:
                return StepOutcome(ctx.params, None, 0.0, f"the ridge step was rejected {self.max_rejections} "
                                   f"times (relative step now {self.h_cur:.2e}): the linearized margins do not "
                                   "predict the model's (kinks everywhere near theta?)", "stalled")
            self.h_cur *= 0.5

    def __repr__(self):
        return f"RidgeStep({self.h:g}, stiffness={self.stiffness:g})"


def _true_qmin(ctx) -> float:
    """min_i q_i(theta) = e^(L kappa) min_i q_i(P) in the frame theta = e^kappa P (inf beyond float64)."""
    qmin = float(ctx.ev.q.min())
    if not (ctx.log_scale and qmin > 0):
        return qmin
    log_q = ctx.degree * ctx.log_scale + math.log(qmin)
    return math.exp(log_q) if log_q < 709.0 else math.inf


def _accepted(ctx, new, ev_new, size) -> StepOutcome:
    """The accepted ridge step with its loss-time increment ds = ||D|| / ||G_+||_* (true units: in the frame
    theta = e^kappa P, log ds = log ||D_P|| + kappa - log ||G_+||_*, so ds may exceed float64 while log ds is finite)."""
    if not ctx.log_scale:
        return StepOutcome(new, ev_new, size / ev_new.speed if ev_new.speed > 0 else 0.0)
    log_h = math.log(size) + ctx.log_scale - ev_new.log_gdual if size > 0 and ev_new.gdual > 0 else -math.inf
    return StepOutcome(new, ev_new, math.exp(log_h) if log_h < 709.0 else math.inf, log_h=log_h)


def ridge_stats(rule) -> dict:
    """Counts for Trajectory.info: accepted ridge steps and rejected tries (0 for other rules)."""
    return {"ridge_steps": getattr(rule, "n_ridge", 0), "ridge_rejections": getattr(rule, "n_rejected", 0),
            "ridge_fallbacks": getattr(rule, "n_fallback", 0), "kink_cut_rounds": getattr(rule, "n_cuts", 0)}


__all__ = ["RidgeStep", "ridge_stats"]
