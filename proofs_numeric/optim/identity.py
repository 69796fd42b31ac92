"""The step identity every steepest-type optimizer must satisfy (<g, Delta> = -||g||_* ||Delta||), as a CheckResult.

For one step Delta = theta_new - theta_old from gradient g, in the declared norm ||.|| with dual ||.||_*:
* normalized:    ||Delta|| = eta              and  <g, Delta> = -eta ||g||_*
* un-normalized: ||Delta|| = eta ||g||_*      and  <g, Delta> = -eta ||g||_*^2       (un-normalized)
eta = lr * schedule(t) (``opt.step_size()``). Momentum methods satisfy it on the first step (m_1 is a
positive multiple of g) and the norm part on every step (``check_inner=False``).

Tolerance: the float64 error bound of forming Delta by subtraction and of the two sums, with
u_err = eps (||theta_old||_1 + ||Delta||_1):
  |  ||Delta|| - target | <= C (u_err + P eps target),
  | <g,Delta> - target | <= C (||g||_inf u_err + P eps sum|g Delta|),
C = 8 * tol_factor (tol_factor > 1 only for routes that lose accuracy, e.g. kappa^2 for Gram-matrix powers).
``measured`` is the larger residual in units of its bound; the check passes when it is <= 1.
"""
from __future__ import annotations

import torch

import kktcheck as kc
from proofs_numeric.results import CheckResult

_EPS = torch.finfo(torch.float64).eps


def step_identity(opt, grads, norm=None, *, normalized=None, eta=None, check_inner: bool = True,
                  tol_factor: float = 1.0, group: int = 0, negative_control: bool = False) -> CheckResult:
    params = opt.param_groups[group]["params"]
    grads = [torch.as_tensor(g, dtype=torch.float64) for g in grads]
    if len(grads) != len(params):
        raise ValueError(f"got {len(grads)} gradient blocks for {len(params)} parameters")
    nrm = kc.norm(norm) if norm is not None else opt.implicit_norm(group)
    normalized = opt.normalized if normalized is None else normalized
    eta = opt.step_size(group) if eta is None else float(eta)
    old = [p.detach().clone() for p in params]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    opt.step()
    u = [p.detach() - o for p, o in zip(params, old)]
    dual = nrm.dual(grads)
    t_norm = eta if normalized else eta * dual
    t_inner = -eta * dual if normalized else -eta * dual ** 2
    P = sum(g.numel() for g in grads)
    C = 8.0 * tol_factor
    u_err = _EPS * float(sum(o.abs().sum() + d.abs().sum() for o, d in zip(old, u)))
    g_inf = float(max(g.abs().max() for g in grads))
    gu = float(sum((g * d).abs().sum() for g, d in zip(grads, u)))
    r_norm = abs(nrm(u) - t_norm)
    r_inner = abs(sum(float((g * d).sum()) for g, d in zip(grads, u)) - t_inner)
    b_norm = C * (u_err + P * _EPS * t_norm)
    b_inner = C * (g_inf * u_err + P * _EPS * gu)
    measured = max(r_norm / b_norm, r_inner / b_inner if check_inner else 0.0)
    kind = "normalized" if normalized else "un-normalized"
    return CheckResult(
        name=f"step-identity-{type(opt).__name__}-{nrm.name}",
        claim=f"{kind} steepest step in {nrm.name}: ||Delta|| = {'eta' if normalized else 'eta ||g||_*'}"
              + (", <g, Delta> = -eta ||g||_*" + ("" if normalized else "^2") if check_inner else ""),
        measured=measured, tolerance=1.0, passed=bool(measured <= 1.0), comparison="<=",
        detail=dict(norm_residual=r_norm, norm_bound=b_norm, inner_residual=r_inner, inner_bound=b_inner,
                    eta=eta, dual=dual, step_norm=nrm(u)),
        negative_control=negative_control)


__all__ = ["step_identity"]
