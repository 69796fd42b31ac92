"""Batched full-batch steepest descent for S two-layer bias-free ReLU nets at once (no Python loop over seeds).

Model: f(x; W, a) = sum_j a_j relu(<w_j, x>), W: (k, d) in PyTorch (out, in) layout, a: (k,);
degree L = 2. Stacked over S runs: W (S, k, d), a (S, k), X (S, n, d), y (S, n) in {-1, +1}; each run's
parameter vector is theta_s = vec(W_s, a_s) (W row-major, then a: the order of ``kktcheck.params.flatten``
on TwoLayerReLU's [W, a]).

Loss: exponential, SUMMED, L = sum_i exp(-q_i), q_i = y_i f(x_i), kept in log space:
    log L = logsumexp(-q),    g = grad log L = -sum_i p_i grad q_i,   p = exp(-q - log L) = softmax(-q),
with grad_a q_i = y_i relu(W x_i) and grad_{w_j} q_i = y_i a_j 1[<w_j, x_i> > 0] x_i (relu'(0) := 0, as autograd).
p is formed exactly as torch's logsumexp backward does, so nothing underflows and the reference loop
(autograd + proofs_numeric.optim) agrees to rounding.

Step (our choice): normalized steepest descent theta_s <- theta_s - eta_s dualize(g_s) in the run's norm,
    GD: l2,   dualize(g) = g/||g||_2,                 ||g||_* = ||g||_2
    CD: l1,   dualize(g) = sign(g_i*) e_i*, i* the FIRST argmax |g_i| over vec(W, a),  ||g||_* = ||g||_inf
    SD: linf, dualize(g) = sign(g) with sign(0) = 0,  ||g||_* = ||g||_1
with  eta_s = kappa_s * min(c_A / ||g_s||_*,  h max_i |theta_si| / ||dualize(g_s)||_inf):
* c / ||g||_*: log L drops by about c per step (first order): the steepest flow (Eq. 3) sampled at equal steps
  of log L, a time change of the flow, so log(1/L) grows linearly (deep late phase for all three algorithms);
* the cap: no coordinate moves by more than h times the largest |theta_i| (small init; CD's l1 step would
  otherwise move one coordinate by a fraction of the whole l1 norm);
* kappa (bold driver, in [KAPPA_MIN, 1]): halved when log L did not decrease over the last two steps, else
  x GROW; it stops the period-2 cycles of normalized CD around a 1-D minimum.
The plain loss-normalized step -eta ||g||_* dualize(g) on log L was tried first: its relative step tends to a
constant, ||theta|| grows geometrically and each q_i moves by O(log 1/L) per step, so the runs turn chaotic.
Switching: a run with ``switch_to`` uses its first algorithm before the first step t with 100% train accuracy
(``fit_step``) and the second from t on. A run is frozen once log L < ``stop_log_loss`` (overflow guard).

Device (``train_batched(..., device=)``, resolved by ``proofs_numeric.device.resolve_device`` before any work):
every tensor of the loop lives there in float64; the BatchedRun (records, final W and a) is CPU float64.
Recorded at log-spaced steps (and the last): log L, train accuracy, hard margins
gamma_bar_p = min_i q_i / ||theta||_p^2 (equal to kc.margin(..., norm=p)) and soft margins
gamma_tilde_p = -log L / ||theta||_p^2 for p in l1, l2, linf; the hard margins also at each run's fit step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..device import resolve_device

ALGO_NORM = {"GD": "l2", "CD": "l1", "SD": "linf"}
NORMS = ("l1", "l2", "linf")
_IDX = {"GD": 1, "CD": 0, "SD": 2}   # index into NORMS
SHRINK, GROW, KAPPA_MIN = 0.5, 1.25, 1e-2   # bold driver: step multiplier kappa in [KAPPA_MIN, 1]
STALL_TOL = 1e-9   # "no decrease" means log L_t >= log L_{t-2} - STALL_TOL max(1, |log L_t|), robust to rounding


def forward(W, a, X, y):
    """(q, H) with H = X W^T (S, n, k) and q = y * relu(H) a (S, n)."""
    H = torch.bmm(X, W.transpose(1, 2))
    return y * torch.matmul(torch.relu(H), a.unsqueeze(2)).squeeze(2), H


def grad_log_loss(W, a, X, y):
    """(log L (S,), q (S, n), g_W (S, k, d), g_a (S, k)) with g = grad log L (exp loss, summed)."""
    H = torch.bmm(X, W.transpose(1, 2))
    R = torch.relu(H)
    q = y * torch.matmul(R, a.unsqueeze(2)).squeeze(2)
    lL = torch.logsumexp(-q, dim=1)
    c = -torch.exp(-q - lL.unsqueeze(1)) * y                     # d log L / d f_i = -p_i y_i
    gA = torch.matmul(c.unsqueeze(1), R).squeeze(1)
    gH = (c.unsqueeze(2) * a.unsqueeze(1)) * torch.sign(R)       # sign(relu(H)) = 1[H > 0]: relu'(0) := 0
    gW = torch.bmm(gH.transpose(1, 2), X)
    return lL, q, gW, gA


def norms_of(theta):
    """(S, 3) tensor of ||theta_s||_1, ||theta_s||_2, ||theta_s||_inf for flat theta (S, P)."""
    m = theta.abs()
    return torch.stack([m.sum(1), torch.linalg.vector_norm(theta, dim=1), m.amax(1)], 1)


def dual_norms(g):
    """(S, 3) tensor of the dual norms ||g_s||_inf, ||g_s||_2, ||g_s||_1 of l1, l2, linf."""
    m = g.abs()
    return torch.stack([m.amax(1), torch.linalg.vector_norm(g, dim=1), m.sum(1)], 1)


def steepest_direction(g, norm_idx):
    """dualize(g_s) (S, P) in norm NORMS[norm_idx_s]: the unit-norm maximizer of <g, u> (the three maps are
    computed, one selected per run); rows with g = 0 get 0."""
    u = torch.sign(g)                                            # SD rows; sign(0) = 0
    rows = torch.nonzero(norm_idx == 1).squeeze(1)               # GD rows: g / ||g||_2 (0 if g = 0)
    if rows.numel():
        gr = g[rows]
        g2 = torch.linalg.vector_norm(gr, dim=1, keepdim=True)
        u[rows] = gr / torch.where(g2 > 0, g2, torch.ones_like(g2))
    rows = torch.nonzero(norm_idx == 0).squeeze(1)               # CD rows: sign(g_i*) e_i*, i* first argmax
    if rows.numel():
        gr = g[rows]
        i = gr.abs().argmax(1, keepdim=True)
        u[rows] = torch.zeros_like(gr).scatter_(1, i, torch.sign(gr.gather(1, i)))
    return u


class KinkSlide:
    """CD through ReLU kinks: the Filippov sliding rule for the single-coordinate step (state of S runs).

    Without it a CD run can stall where one training point sits on the kink of one neuron: the largest
    |g_i| is the same coordinate on both sides of the kink with opposite signs, so each l1 step crosses the
    kink and the next crosses back (measured: 17 of 20 seeds at init scale 1e-3 stalled with L > 1,
    alternating sign of the same g_i, kappa at its floor, no exactly-zero pre-activation). The l1 flow slides
    along the kink instead, moving with an element of the Clarke subdifferential whose i-th entry is 0.
    Rule: when the argmax coordinate i of the raw gradient g_t equals i_{t-1} and g_t[i] g_{t-1}[i] < 0 (a
    kink was just crossed along i), g_{t-1} is kept as the other side's gradient g_o. While the argmax of the
    raw gradient stays i and g_t[i] g_o[i] < 0, the step uses the convex combination
        g_c = (1 - lam) g_t + lam g_o,   lam = g_t[i] / (g_t[i] - g_o[i]) in (0, 1),   so g_c[i] = 0,
    (a Clarke generalized gradient of the two one-sided pieces) and CD's first argmax of |g_c| picks the
    coordinate j to move, provided g_c[j] g_t[j] > 0 (the step still descends on the current side; else the raw
    g_t is used). The memory is dropped once the raw argmax leaves i. g_o is the gradient one step
    before sliding started (not refreshed while sliding)."""

    def __init__(self, g):
        self.i_prev = torch.full((g.shape[0],), -1, dtype=torch.long, device=g.device)
        self.i_mem = self.i_prev.clone()
        self.g_prev, self.g_mem = torch.zeros_like(g), torch.zeros_like(g)

    def __call__(self, g, cd_rows):
        """The gradient to dualize for each run: g_c on the CD rows (bool mask ``cd_rows``) that slide, else g."""
        i = g.abs().argmax(1, keepdim=True)
        gi = g.gather(1, i).squeeze(1)
        i = i.squeeze(1)
        flip = cd_rows & (i == self.i_prev) & (gi * self.g_prev.gather(1, i.view(-1, 1)).squeeze(1) < 0)
        if bool(flip.any()):
            self.g_mem = torch.where(flip.unsqueeze(1), self.g_prev, self.g_mem)
        self.i_mem = torch.where(flip, i, torch.where(i == self.i_mem, self.i_mem, torch.full_like(i, -1)))
        self.g_prev, self.i_prev = g, i            # g is a fresh tensor each step and never modified in place
        go = self.g_mem.gather(1, i.view(-1, 1)).squeeze(1)
        use = cd_rows & (i == self.i_mem) & (gi * go < 0)
        if not bool(use.any()):
            return g
        lam = torch.where(use, gi / torch.where(use, gi - go, torch.ones_like(gi)), torch.zeros_like(gi))
        gc = (1 - lam).unsqueeze(1) * g + lam.unsqueeze(1) * self.g_mem
        j = gc.abs().argmax(1, keepdim=True)
        use = use & (gc.gather(1, j) * g.gather(1, j) > 0).squeeze(1)   # still a descent step on this side
        return torch.where(use.unsqueeze(1), gc, g)


class SoftDropTracker:
    """Monotonicity at EVERY step: for each run and norm p the largest one-step relative drop
    max_t (s_{t-1} - s_t) / s_{t-1} of the soft margin s_t = -log L_t / ||theta_t||_p^2 over the steps where
    L_{t-1} < 1 and L_t < 1 (0 if it never drops; nan if no such step), and how many steps were checked."""

    def __init__(self, S: int, device=None):
        self.prev = torch.full((S, 3), math.nan, dtype=torch.float64, device=device)
        self.worst = torch.zeros(S, 3, dtype=torch.float64, device=device)
        self.steps_checked = torch.zeros(S, dtype=torch.long, device=device)

    def update(self, t: int, lL, nr2):
        soft = torch.where(lL.unsqueeze(1) < 0, -lL.unsqueeze(1) / nr2, torch.full_like(nr2, math.nan))
        both = torch.isfinite(soft) & torch.isfinite(self.prev)
        rel = torch.where(both, (self.prev - soft) / self.prev, torch.zeros_like(soft))
        self.worst = torch.maximum(self.worst, rel)
        self.steps_checked += both[:, 0].long()
        self.prev = soft

    def worst_by_norm(self) -> dict:
        w = torch.where(self.steps_checked.unsqueeze(1) > 0, self.worst, torch.full_like(self.worst, math.nan))
        return {p: w[:, j].cpu().numpy() for j, p in enumerate(NORMS)}


def record_grid(steps: int, n_records: int) -> set:
    grid = np.unique(np.round(np.logspace(0, math.log10(max(steps, 1)), n_records)).astype(int))
    return set(int(s) for s in grid) | {0, steps}


@dataclass
class BatchedRun:
    """Records of S runs: arrays (S, R) over record steps ``steps`` (R,); final W (S, k, d), a (S, k)."""
    algos: list
    switch_to: list
    lr: dict
    steps: np.ndarray
    log_loss: np.ndarray
    accuracy: np.ndarray
    margins: dict            # norm -> (S, R) hard margins
    soft: dict               # norm -> (S, R) soft margins (nan while L >= 1)
    fit_step: np.ndarray     # (S,) first step with 100% train accuracy, -1 if never
    stop_step: np.ndarray    # (S,) step at which log L < stop_log_loss froze the run, -1 if never
    W: torch.Tensor
    a: torch.Tensor
    margins_at_fit: dict = field(default_factory=dict)   # norm -> (S,) hard margin at fit_step (nan if never)
    worst_drop: dict = field(default_factory=dict)       # norm -> (S,) largest one-step relative soft-margin drop
    drop_steps: np.ndarray = None                        # (S,) steps at which that drop was checked (L < 1)

    def own_norm(self, s: int) -> str:
        """The norm of the algorithm run s ends with."""
        return ALGO_NORM[self.switch_to[s] or self.algos[s]]


def _check_batch(algos, switch_to, lr, S, a0, X, y) -> list:
    """Validate the batch (algorithm names, equal batch sizes, a step size per algorithm); returns switch_to."""
    switch_to = list(switch_to) if switch_to is not None else [None] * S
    for name in list(algos) + [s for s in switch_to if s is not None]:
        if name not in ALGO_NORM:
            raise ValueError(f"unknown algorithm {name!r}; valid: {', '.join(ALGO_NORM)}")
    if not (len(algos) == len(switch_to) == S == a0.shape[0] == X.shape[0] == y.shape[0]):
        raise ValueError(f"batch sizes differ: algos {len(algos)}, switch_to {len(switch_to)}, W0 {S}, "
                         f"a0 {a0.shape[0]}, X {X.shape[0]}, y {y.shape[0]}")
    missing = sorted((set(algos) | {s for s in switch_to if s}) - set(lr))
    if missing:
        raise ValueError(f"lr has no step size for {', '.join(missing)}")
    return switch_to


def _step(theta, g, idx, kappa, c, max_rel_step):
    """theta <- theta - eta dualize(g) in place (W and a are views), eta = kappa min(c / ||g||_*,
    h max|theta| / ||dualize(g)||_inf) per run in norm NORMS[idx] (eta = 0 where kappa = 0 or g = 0)."""
    duals = dual_norms(g)
    dual = duals.gather(1, idx.view(-1, 1)).squeeze(1)
    u_inf = torch.where(idx == 1, duals[:, 0] / duals[:, 1], torch.ones_like(dual))   # ||dualize(g)||_inf
    eta = kappa * torch.minimum(c / dual, max_rel_step * theta.abs().amax(1) / u_inf)
    eta = torch.where((kappa > 0) & (dual > 0), eta, torch.zeros_like(eta))
    theta.sub_(eta.unsqueeze(1) * steepest_direction(g, idx))


def train_batched(W0, a0, X, y, algos, *, lr, steps: int, switch_to=None, max_rel_step: float = 0.05,
                  n_records: int = 60, stop_log_loss: float = -1e12, kink_slide: bool = True,
                  progress=None, device=None) -> BatchedRun:
    """Run S = len(algos) trainings in lockstep; ``lr``: dict algorithm -> eta (e.g. {"GD": .05, ...});
    ``kink_slide``: CD steps use ``KinkSlide`` (False: plain first-argmax CD, which can stall at a kink);
    ``device``: None/"cpu" (tested), "cuda", "cuda:N" (checked first): where the loop runs, in float64."""
    dev, (S, k, d) = resolve_device(device), W0.shape          # the device is checked before any work
    switch_to = _check_batch(algos, switch_to, lr, S, a0, X, y)
    f64 = dict(dtype=torch.float64, device=dev)
    theta = torch.cat([W0.detach().to(**f64).reshape(S, -1), a0.detach().to(**f64)], 1)   # (S, P), one copy
    W, a = theta[:, :k * d].view(S, k, d), theta[:, k * d:]                                 # views into theta
    X, y = X.to(**f64), y.to(**f64)
    before = torch.tensor([_IDX[s] for s in algos], device=dev)
    after = torch.tensor([_IDX[s2] if s2 else _IDX[s1] for s1, s2 in zip(algos, switch_to)], device=dev)
    c_of = torch.tensor([float(lr.get(n, math.nan)) for n in ("CD", "GD", "SD")], **f64)  # NORMS order
    fit, stop = (torch.full((S,), -1, dtype=torch.long, device=dev) for _ in range(2))   # -1: not yet
    m_fit = torch.full((S, 3), math.nan, **f64)
    rec = record_grid(steps, n_records)
    R = {key: [] for key in ("t", "ll", "acc", *(f"m{p}" for p in NORMS), *(f"s{p}" for p in NORMS))}
    kappa, prev, prev2 = torch.ones(S, **f64), torch.full((S,), math.inf, **f64), torch.full((S,), math.inf, **f64)
    slide = KinkSlide(theta) if kink_slide else None
    drop = SoftDropTracker(S, dev)
    for t in range(steps + 1):
        lL, q, gW, gA = grad_log_loss(W, a, X, y)
        stuck = lL >= prev2 - STALL_TOL * torch.clamp(lL.abs(), min=1.0)   # no decrease over two steps
        kappa = torch.where(stuck, torch.clamp(kappa * SHRINK, min=KAPPA_MIN), torch.clamp(kappa * GROW, max=1.0))
        prev, prev2 = lL, prev
        acc = (q > 0).double().mean(1)
        newly = (fit < 0) & (acc == 1.0)
        fit = torch.where(newly, torch.full_like(fit, t), fit)
        live = stop < 0
        stop = torch.where(live & (lL < stop_log_loss), torch.full_like(stop, t), stop)
        nr2 = norms_of(theta) ** 2                                                    # (S, 3)
        drop.update(t, lL, nr2)
        if t in rec or bool(newly.any()):
            hard = q.amin(1, keepdim=True) / nr2
            if bool(newly.any()):
                m_fit = torch.where(newly.unsqueeze(1), hard, m_fit)
            if t in rec:
                R["t"].append(t), R["ll"].append(lL.clone()), R["acc"].append(acc)
                soft = torch.where(lL.unsqueeze(1) < 0, -lL.unsqueeze(1) / nr2, torch.full_like(hard, math.nan))
                for j, p in enumerate(NORMS):
                    R[f"m{p}"].append(hard[:, j])
                    R[f"s{p}"].append(soft[:, j])
        if t == steps:
            break
        idx = torch.where(fit >= 0, after, before)
        g = torch.cat([gW.reshape(S, -1), gA], 1)
        if slide is not None:
            g = slide(g, idx == 0)
        _step(theta, g, idx, kappa * (stop < 0), c_of[idx], max_rel_step)
        if progress is not None:
            progress.update(1)
    st = lambda key: torch.stack(R[key], 1).cpu().numpy()  # noqa: E731
    return BatchedRun(list(algos), switch_to, dict(lr), np.asarray(R["t"]), st("ll"), st("acc"),
                      {p: st(f"m{p}") for p in NORMS}, {p: st(f"s{p}") for p in NORMS},
                      fit.cpu().numpy(), stop.cpu().numpy(), W.cpu().clone(), a.cpu().clone(),
                      {p: m_fit[:, j].cpu().numpy() for j, p in enumerate(NORMS)},
                      drop.worst_by_norm(), drop.steps_checked.cpu().numpy())


__all__ = ["train_batched", "BatchedRun", "KinkSlide", "SoftDropTracker", "grad_log_loss", "forward",
           "steepest_direction", "norms_of", "record_grid", "ALGO_NORM", "NORMS"]
