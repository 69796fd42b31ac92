"""Theorem checks on approximate KKT points of (MM): Prop. A.13, Prop. B.6 and Theorem 3.4.

Each check takes the snapshots of a steepest-descent run (a ``Trajectory`` from ``proofs_numeric.flow``, or
a list of parameter lists with their log-losses) and returns a ``CheckResult``.

* ``check_a13``: delta <= m / (e L gamma_bar^{2/L} log(1/L)) at every snapshot with L < 1; and, when
  ``kc.residual`` exists, its minimized objective max(eps_rel, delta L/||theta~||^2) is never above the
  construction's value of that objective.
  Negative control (``weights="uniform"``): the same total multiplier mass spread uniformly, which the bound
  does not cover (delta then stays of order sum_i (q_i/q_min - 1) instead of shrinking with log(1/L)).
* ``check_b6``: D(sum lambda_i k_i) = ||theta~||^2 (1 - beta) = gamma_bar^{-2/L} (1 - beta) at every snapshot,
  to a tolerance derived from float64 eps, and D <= gamma_tilde(t0)^{-2/L} (1 - beta). Negative control
  (``bregman_norm`` different from the run's norm): the identity breaks.
* ``check_thm34``: the KKT residual r = P_D / ||theta~||^2 (Bregman proximity, Eq. 74, scale-free, in
  ``residual_norm``) of the normalized iterate is fitted as r ~ C x^p with x = 1/log(1/L) (x -> 0 as
  log L -> -inf); the check passes when the fitted exponent p >= ``min_order`` and r decreased over the run.
  Predicted order 1: near a KKT point the complementarity part of P_D is linear in the direction error,
  the Bregman part quadratic, and the direction error is O(1/log(1/L)).
  Negative control: ``residual_norm`` differs from the algorithm's norm (e.g. the linf residual of a GD run):
  the iterate converges to a KKT direction of the OTHER problem, r tends to a positive constant and p ~ 0.
"""
from __future__ import annotations

import math

import numpy as np
import torch

import kktcheck as kc
from kktcheck.divergence import bregman, bregman_proximity
from kktcheck.certificate import a13_certificate

from ..results import CheckResult, Table

_EPS = float(np.finfo(np.float64).eps)


def _snapshots(traj_or_snaps, log_losses=None):
    """(list of params, array of log L) from a Trajectory or from explicit lists."""
    if hasattr(traj_or_snaps, "snapshots"):
        idx = [i for i, _ in traj_or_snaps.snapshots]
        return [p for _, p in traj_or_snaps.snapshots], np.asarray(traj_or_snaps.log_loss)[idx]
    snaps = list(traj_or_snaps)
    return snaps, (None if log_losses is None else np.asarray(log_losses, dtype=np.float64))


def local_trajectory(model, theta0, data, *, norm="l2", lr=0.05, steps=2000, snapshot_every=100, lr_growth=0.0,
                     snapshot_steps=None):
    """Normalized steepest descent theta <- theta - lr_t * dualize(grad log L) (exp loss, binary labels +-1;
    dualize = the unit-norm steepest direction of ``norm``), lr_t = lr * (1 + t)^lr_growth, t = 0, 1, ...: a
    stand-in for the flow, run by the engine (``flow.integrate`` with ``OptimizerStep`` feeding grad log L).
    Snapshots every ``snapshot_every`` steps, or at the steps listed in ``snapshot_steps``.
    Returns (snapshots, log-losses at the snapshots)."""
    from ..flow import OptimizerStep, integrate
    from ..optim import NormalizedSteepestDescent, power
    at = frozenset(range(0, steps + 1, snapshot_every)) if snapshot_steps is None else \
        frozenset(int(s) for s in snapshot_steps)
    rule = OptimizerStep(lambda ps: NormalizedSteepestDescent(ps, lr, norm, schedule=power(1.0, lr_growth)),
                         gradient="log_loss")
    tr = integrate(model, [p.detach().to(torch.float64) for p in theta0], data, norm=norm, loss="exp", step=rule,
                   max_steps=steps, save_every=at, snapshot_every=at, margin_norms=())
    idx = [i for i, _ in tr.snapshots]
    return [ps for _, ps in tr.snapshots], np.asarray(tr.log_loss)[idx]


def check_a13(traj, data, *, model, norm, log_losses=None, weights="loss", name=None) -> CheckResult:
    """delta <= delta_bound at every separated snapshot; kc.residual's minimized objective
    max(eps_rel, delta L / ||theta~||^2) is <= the construction's value of the same objective."""
    snaps, lls = _snapshots(traj, log_losses)
    ratios, deltas, bounds, obj_c, obj_opt, kept = [], [], [], [], [], []
    resid = _residual_fn() if weights == "loss" else None
    for i, p in _separated(snaps, data, model):
        kept.append(i)
        c = a13_certificate(p, data, model=model, norm=norm, stationarity=weights == "loss")
        d = c.delta
        if weights == "uniform":
            lam = np.full(c.m, c.lambdas.sum() / c.m)
            d = float(lam @ (c.q / c.q_min - 1.0))
        deltas.append(d), bounds.append(c.delta_bound), ratios.append(d / c.delta_bound)
        if weights == "loss":
            obj_c.append(max(c.eps_rel, c.delta * c.degree / c.theta_tilde_norm ** 2))
        if resid is not None:
            r = resid(p, data, model=model, norm=norm)
            obj_opt.append(float(r.objective) if str(r.status).startswith("optimal") else math.inf)
    worst = float(max(ratios, default=math.nan))   # no separated snapshot: verdict "no evidence"
    # the optimized program is solved to interior-point accuracy: allow 1e-6 relative + 1e-9 absolute
    opt_ok = all(o <= e * (1 + 1e-6) + 1e-9 for o, e in zip(obj_opt, obj_c))
    name = name or f"propA13-{kc.norm(norm).name}" + ("-uniform" if weights == "uniform" else "")
    return CheckResult(name,
                       "Prop A.13: delta <= m/(e L gamma_bar^{2/L} log(1/L)) at every snapshot"
                       + ("; optimized residual <= construction" if obj_opt else ""),
                       worst, 1.0, worst <= 1.0 and opt_ok,
                       detail={"delta": deltas, "delta_bound": bounds, "objective_construction": obj_c,
                               "objective_optimized": obj_opt, "optimized_not_worse": opt_ok, "weights": weights,
                               "log_loss": None if lls is None else [float(lls[i]) for i in kept]},
                       negative_control=(weights == "uniform"), evidence=bool(ratios),
                       definition="largest delta / bound over the snapshots with L<1 (delta of the multipliers "
                                  "lambda_i ~ exp(-q_i))",
                       changed="the same multiplier mass spread uniformly over the samples"
                       if weights == "uniform" else "",
                       tables=[_a13_table(name, deltas, bounds, obj_c, obj_opt,
                                          None if lls is None else [lls[i] for i in kept])])


def _a13_table(name, deltas, bounds, obj_c, obj_opt, lls):
    """Per snapshot: log L, delta, the A.13 bound, their ratio, the construction's and the optimized objective."""
    rows = [[i if lls is None else float(lls[i]), d, b, d / b if b else math.nan,
             obj_c[i] if i < len(obj_c) else "-", obj_opt[i] if i < len(obj_opt) else "not computed"]
            for i, (d, b) in enumerate(zip(deltas, bounds))]
    return Table(f"{name}: Prop A.13 bound beside the optimized value, per snapshot with L<1",
                 ["log L" if lls is not None else "snapshot", "delta (construction)", "A.13 bound", "delta / bound",
                  "objective max(eps_rel, delta_rel), construction", "objective, optimized (kc.residual)"], rows)


def check_b6(traj, data, *, model, norm, log_losses=None, bregman_norm=None, name=None) -> CheckResult:
    """Prop. B.6 identities at every separated snapshot (measured = worst error / tolerance) and the bound
    with gamma_tilde at the first separated snapshot (>= gamma_tilde(t0) by monotonicity, so a tighter bound)."""
    snaps, _ = _snapshots(traj, log_losses)
    bn = kc.norm(bregman_norm or norm)
    errs, bound_ok, betas, Ds = [], True, [], []
    soft0 = None
    for _, p in _separated(snaps, data, model):
        c = a13_certificate(p, data, model=model, norm=norm, stationarity=False)
        soft0 = c.soft_margin if soft0 is None else soft0
        D = c.bregman if bn == kc.norm(norm) else bregman(c.u, [c.theta_tilde_norm / c.rho * b for b in
                                                               _params(p)], bn)
        scale = c.theta_tilde_norm ** 2
        tol_i = 64 * _EPS * scale * math.sqrt(c.k.shape[1])
        errs.append(max(abs(D - c.bregman_identity), abs(D - c.bregman_gamma)) / tol_i)
        bound_ok &= D <= soft0 ** (-2.0 / c.degree) * (1.0 - c.beta) + tol_i
        betas.append(c.beta), Ds.append(D)
    worst = float(max(errs, default=math.nan))   # no separated snapshot: verdict "no evidence"
    neg = bregman_norm is not None and kc.norm(bregman_norm) != kc.norm(norm)
    return CheckResult(name or f"propB6-{kc.norm(norm).name}" + (f"-bregman-{bn.name}" if neg else ""),
                       "Prop B.6: D = ||theta~||^2 (1-beta) = gamma_bar^{-2/L}(1-beta) <= gamma_tilde(t0)^{-2/L}(1-beta)",
                       worst, 1.0, worst <= 1.0 and bool(bound_ok),
                       detail={"beta": betas, "bregman": Ds, "bound_holds": bool(bound_ok),
                               "tolerance": "64 eps ||theta~||^2 sqrt(P) per snapshot (measured is err/tol)"},
                       negative_control=neg, evidence=bool(errs),
                       definition="largest error of the two B.6 identities over the snapshots with L<1, in units "
                                  "of 64 eps ||theta~||^2 sqrt(P)",
                       changed=f"Bregman divergence taken in {bn.name}, not the run's {kc.norm(norm).name}"
                       if neg else "")


def _separated(snaps, data, model):
    """(index, params) of the snapshots after separation (A3): every q_i > 0 and L(theta) < 1 (exp loss)."""
    for i, p in enumerate(snaps):
        q = kc.sample_margins(p, data, model=model)
        if bool((q > 0).all()) and float(torch.logsumexp(-q, 0)) < 0:
            yield i, p


def _residual_fn():
    """kc.residual when the teammate's module is present, else None."""
    try:
        return kc.residual
    except (ImportError, AttributeError):
        return None


def _params(p):
    return [torch.as_tensor(b, dtype=torch.float64) for b in p]


def residual_curve(snaps, data, *, model, residual_norm):
    """r_k = sqrt(P_D / ||theta~||^2) of each snapshot (Bregman proximity in ``residual_norm``)."""
    out = []
    for p in snaps:
        r = bregman_proximity(p, data, model=model, norm=residual_norm)
        if not r.ok:
            raise RuntimeError(f"Bregman proximity program failed: {r.status} {r.message}")
        out.append(max(r.value_rel, 0.0))
    return np.asarray(out)


def check_thm34(traj, data, *, model, norm, residual_norm=None, log_losses=None, min_order=0.5,
                burn_in=0.5, name=None, plot_path=None) -> CheckResult:
    """Fit r ~ C (1/log(1/L))^p on the late snapshots; ``plot_path``: also write the curve as a PNG."""
    snaps, lls = _snapshots(traj, log_losses)
    if lls is None:
        raise ValueError("check_thm34 needs the log-loss of every snapshot (pass a Trajectory or log_losses=)")
    rn = kc.norm(residual_norm or norm)
    keep = [i for i, v in enumerate(lls) if v < 0]
    keep = keep[int(burn_in * len(keep)):]
    rn_name = rn.name
    neg = rn != kc.norm(norm)
    name = name or f"thm3.4-{kc.norm(norm).name}" + (f"-residual-{rn_name}" if neg else "")
    claim = (f"Thm 3.4: KKT residual in {rn_name} of the normalized iterate -> 0 as log L -> -inf "
             "(fit r ~ C (1/log(1/L))^p)")
    text = dict(definition="fitted exponent p of the KKT residual r ~ C (1/log(1/L))^p over the snapshots with "
                           "L<1 (and r must decrease)",
                changed=f"residual measured in {rn_name}, not the algorithm's {kc.norm(norm).name}" if neg else "",
                negative_control=neg, comparison=">=")
    if len(keep) < 4:   # too few separated snapshots to fit an exponent
        return CheckResult(name, claim, math.nan, min_order, False, evidence=False,
                           detail={"separated_snapshots": len(keep)}, **text)
    r = residual_curve([snaps[i] for i in keep], data, model=model, residual_norm=rn)
    x = 1.0 / (-lls[keep])
    floor = 1e-7  # solver accuracy of the proximity program: smaller residuals are read as 0
    p, c = np.polyfit(np.log(x), np.log(np.maximum(r, floor)), 1)
    decreased = bool(r[-1] < r[0])
    figs = [] if plot_path is None else [_plot_curve(x, r, p, c, f"{kc.norm(norm).name} run, {rn.name} residual",
                                                      plot_path)]
    return CheckResult(name, claim, float(p), min_order, bool(p >= min_order and decreased),
                       detail={"log_loss": lls[keep].tolist(), "residual": r.tolist(), "order": float(p),
                               "log_C": float(c), "decreased": decreased, "residual_norm": rn_name},
                       figures=figs, **text)


def _plot_curve(x, r, p, c, title, path):
    """log-log plot of the residual against 1/log(1/L) with the fitted power law; returns the path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.loglog(x, r, "o-", label="Bregman proximity / ||theta~||^2")
    ax.loglog(x, np.exp(c) * x ** p, "--", label=f"fit: order {p:.2f}")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("1 / log(1/L)   (log L -> -inf to the left)")
    ax.set_ylabel("KKT residual")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)


__all__ = ["check_a13", "check_b6", "check_thm34", "local_trajectory", "residual_curve"]
