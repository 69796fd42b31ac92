"""kc.residual: how far a trained homogeneous model is from a KKT point of (MM).

    (MM)  min 1/2||theta||^2  s.t.  q_i(theta) = y_i f(x_i; theta) >= 1.

theta is rescaled to theta_tilde = theta / q_min^{1/L} (feasible: min_i q_i = 1). Headline (kkt/fy.py): the
Fenchel-Young measure, continuous in theta and zero exactly at KKT points,

    measure = min_{lambda >= 0, k_i} max( FY(theta~, sum_i lambda_i k_i) / rho^2, L (q - 1) . lambda / rho^2 ),
    FY(theta~, u) = 1/2||theta~||^2 + 1/2||u||_*^2 - <theta~, u>,  rho = ||theta~||,

with k_i in the Clarke set of q_i enlarged by the continuous band of relative radius ``clarke_radius``
(clarke.py for two-layer ReLU nets, clarke_deep.py for deeper bias-free ReLU MLPs), and its closed-form upper
bound along lambda ~ e^{-q_i} (Prop. A.13 of the paper). Beside it,
the (eps, delta) pair of a second program (kkt/solve.py: h in d(1/2||theta~||^2) with near-tie tolerance
``tol``, minimizing max(eps_rel, delta_rel)):

    eps   = ||h - sum_i lambda_i k_i||_*   (dual norm),  eps_rel   = eps / ||theta_tilde||
    delta = sum_i lambda_i (q_i - 1),                    delta_rel = L * delta / ||theta_tilde||^2.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..clarke import detect_two_layer, two_layer_clarke_band
from ..clarke_deep import deep_band_pairs, deep_clarke_band, detect_deep_relu
from ..jacobian import margins_and_jacobian
from ..margins import _prepare, sample_margins_from_outputs
from ..params import blocks, feasible_rescaling
from ..subdiff import block_shape
from ..subdiff import DEFAULT_TOL
from ..threads import single_threaded
from . import combination, compress, fy, fy_working, solve, spectral_fo
from .checks import DEFAULT_MAX_SIZE, DEFAULT_RADIUS, family, validate
from .result import KKTResidual, split

METHODS = ("auto", "generic", "l2-reduced", "active-set", "compressed", "first-order")


NEEDS = {"l2-reduced": ("l2",), "active-set": ("l1", "linf"), "compressed": ("spectral",), "first-order": ("spectral",)}
AUTO = {"l2": "l2-reduced", "l1": "active-set", "linf": "active-set", "spectral": "compressed?"}


def _pick_method(nrm, method):
    """The formulation of the programs: ``method`` checked against the norm's family, or the fast one for it."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    fam = family(nrm)
    if method in NEEDS and fam not in NEEDS[method]:
        raise ValueError(f"method {method!r} needs norm={' or '.join(map(repr, NEEDS[method]))}, got {nrm.name!r}")
    return AUTO.get(fam, "generic") if method == "auto" else method


def _sdp_size(nrm, info, theta) -> int:
    """Entries of the PSD cones of the dual-norm residual (sum over layers of (rows + cols)^2 for Schatten
    norms; 0 for the others), on the compressed layers when ``info`` is given."""
    if info is not None:
        dims = [(Qc.shape[1], Qr.shape[1]) for Qc, Qr, _, _ in info]
    else:
        dims = [block_shape(b) for b in theta]
    return nrm.dual_norm.psd_entries(dims)


def _sdp_estimate(nrm, theta, n) -> int:
    """PSD-cone entries of the dual-norm residual after compression, estimated from shapes alone: an a x b layer
    keeps at most min(a, n + 1) x min(b, n + 1) directions when the constraint blocks are rank one (two-layer
    nets: K_il = y_i (a * s_i) x_i^T) and the top singular value is simple; deeper nets can keep more (the exact
    count after compression is checked again later)."""
    dims = [tuple(min(e, n + 1) for e in block_shape(b)) if b.ndim >= 2 else block_shape(b) for b in theta]
    return nrm.dual_norm.psd_entries(dims)


def residual(theta, data, *, norm="l2", model=None, tol: float = DEFAULT_TOL, clarke: str = "auto",
             method: str = "auto", solver: str | None = None, active_tol: float = 1e-6,
             max_sdp: int = 20_000, clarke_radius: float = DEFAULT_RADIUS, time_limit: float | None = None,
             max_size: int = DEFAULT_MAX_SIZE, pair: bool = True) -> KKTResidual:
    """KKT measure of (MM) at theta / q_min^{1/L} and the (eps, delta) pair; see the module docstring.

    theta: a bias-free nn.Module (or proofs_numeric model), or parameters with ``model=``.
    data: (X, y), y in {-1, +1} (or integer classes for multi-output models).
    norm: the algorithm norm (its dual measures u and eps); tol: relative near-tie tolerance of the norm's
    subdifferential in the (eps, delta) program only (the measure needs none); clarke: "auto" (two-layer
    or deep ReLU Clarke band when detected) or "autodiff"; clarke_radius: relative radius r of the band (pairs with
    |<w_j, x_i>| <= r ||w_j|| ||x_i|| get both activation slopes, continuously); method: formulation of the
    (eps, delta) program; active_tol: q_i <= 1 + active_tol puts sample i in ``active_set``; max_sdp: refuse
    spectral/nuclear programs whose PSD cones exceed this many entries; max_size: refuse (status
    "too_large", before forming the n x P Jacobian) when n * P exceeds it; time_limit: seconds for all
    solves together (status "time_limit" on expiry); pair=False skips the (eps, delta) program (skipped anyway,
    pair_status "too_large" with the reason, when it would hold more than 1e7 dense entries, solve.pair_entries).
    In every refused or failed case the closed-form A.13 upper bound of the measure is still reported.
    """
    nrm = validate(norm, method, clarke, tol, active_tol, max_sdp, clarke_radius, time_limit, max_size)
    meth = _pick_method(nrm, method)
    token = solve.DEADLINE.set(None if time_limit is None else time.perf_counter() + time_limit)
    try:
        return _run(theta, data, model, nrm, meth, tol, clarke, solver, active_tol, max_sdp, clarke_radius,
                    max_size, pair)
    finally:
        solve.DEADLINE.reset(token)


def _feasible_point(theta, data, model):
    if all(not bool(b.any()) for b in blocks(theta.parameters() if isinstance(theta, torch.nn.Module) else theta)):
        raise ValueError("theta = 0: every parameter is zero, so no sample is classified and (MM) has no "
                         "feasible rescaling; pass trained parameters")
    fm, params, L, X, y = _prepare(theta, data, model)  # the one conversion and finiteness check of theta
    with torch.no_grad():
        q0 = sample_margins_from_outputs(fm.apply_params(params, X), y)
    bad = int((q0 <= 0).sum())
    if bad:
        raise ValueError(f"{bad} of {len(q0)} points are misclassified or on the decision boundary "
                         "(q_i <= 0), so theta cannot be rescaled to a feasible point of (MM); train until "
                         "the data are separated")
    tt, c = feasible_rescaling(params, float(q0.min()), L)
    # once more from theta~, whose margins are near 1: at tiny scales q0 is subnormal (outputs ~ 1e-319 keep only
    # a few digits), so the first pass leaves min_i q_i(theta~) off 1 by up to 1e-4
    with torch.no_grad():
        q1 = sample_margins_from_outputs(fm.apply_params(tt, X), y)
    tt, c1 = feasible_rescaling(tt, float(q1.min()), L)
    return fm, tt, L, X, y, q0, c * c1


def _weighted_gradient(fm, tt, X, y, w) -> np.ndarray:
    """v = sum_i w_i grad q_i(theta~) (autodiff element, relu'(0) = 0) by one backward pass, flat."""
    ps = [p.detach().clone().requires_grad_(True) for p in tt]
    qv = sample_margins_from_outputs(fm.apply_params(ps, X), y)
    grads = torch.autograd.grad(qv @ w, ps, allow_unused=True)
    return np.concatenate([(torch.zeros_like(p) if g is None else g).detach().numpy().reshape(-1)
                           for p, g in zip(ps, grads)])


def _run(theta, data, model, nrm, meth, tol, clarke, solver, active_tol, max_sdp, radius, max_size, pair):
    fm, tt, L, X, y, q0, c = _feasible_point(theta, data, model)
    theta_np = [b.detach().numpy().copy() for b in tt]
    n, P = len(q0), sum(b.size for b in theta_np)
    w = torch.softmax(-q0.detach(), 0)  # Prop. A.13 weights e^{-q_i(theta)} at the original scale
    with torch.no_grad():
        q = np.asarray(sample_margins_from_outputs(fm.apply_params(tt, X), y).numpy(), dtype=np.float64)
    bound = fy.a13_bound(nrm, theta_np, q, L, _weighted_gradient(fm, tt, X, y, w), w.numpy())
    res = KKTResidual(norm=nrm.name, degree=L, status="not_run", q=q, theta_tilde=theta_np, scale=c,
                      method=meth, tol=tol, clarke_radius=radius, _norm_obj=nrm,
                      active_set=np.flatnonzero(q - 1.0 <= active_tol),
                      theta_norm=nrm(theta_np))
    res.set_bound(bound)
    if n * P > max_size:
        res.refuse("too_large", f"the programs would need the dense n x P = {n} x {P} Jacobian "
                   f"({n * P} > max_size = {max_size} entries); reporting the closed-form A.13 upper bound")
        return res
    est = _sdp_estimate(nrm, theta_np, n)
    fo = family(nrm) == "spectral" and (meth == "first-order" or est > max_sdp)  # kkt/spectral_fo.py, no SDP
    if est > max_sdp and not fo:
        res.refuse("too_large", f"the nuclear-norm SDP would have about {est} PSD-cone entries (estimate before "
                   f"any work; > max_sdp = {max_sdp}); the solver would run out of memory. Use fewer samples or "
                   "smaller layers, or raise max_sdp")
        return res
    q_t, J_t = margins_and_jacobian(fm, tt, X, y)
    J = np.asarray(J_t.numpy(), dtype=np.float64)
    J0, cols, owner, width, how, rank_one = _constraint_sets(fm, tt, X, y, J, radius, clarke, max_size)
    if how == "too_large":
        res.refuse("too_large", rank_one)
        return res
    res.clarke = how
    G = combination.Combination(J0, cols, width, rank_one)
    if fo:
        return _first_order(res, nrm, theta_np, q, L, G, owner, bound["lam"], pair, est if est > max_sdp else 0,
                            tol, solver)
    meth, info = _compression(nrm, meth, theta_np, G, tol)
    res.method = meth
    sdp = _sdp_size(nrm, info, theta_np) if meth in ("compressed", "generic") else 0
    if sdp > max_sdp:
        res.refuse("too_large", f"the nuclear-norm SDP would have {sdp} PSD-cone entries (> max_sdp = "
                   f"{max_sdp}); the solver would run out of memory. Use fewer samples or smaller layers "
                   "(the compressed formulation shrinks layers to n + r dimensions), or raise max_sdp")
        return res
    t0 = time.perf_counter()
    out = _measure_program(meth, nrm, theta_np, q, L, G, owner, solver, info, res.measure_multipliers)
    res.set_measure(out, time.perf_counter() - t0)
    if pair and not _pair_refused(res, meth, G):
        t0 = time.perf_counter()
        out = _pair(nrm, meth, theta_np, q, L, G, owner, tol, solver, info)
        _fill_pair(res, out, G, owner, theta_np, time.perf_counter() - t0)
    return res


def _measure_program(meth, nrm, theta_np, q, L, G, owner, solver, info, start):
    """The measure's program: the working set (kkt/fy_working.py, certified gap) for "l2-reduced" / "active-set",
    else the cvxpy program (generic or compressed). When the working set ends in a solver error (HiGHS can stop on
    a relaxation with few rows: unbounded, or excessive dual values from a crash basis) and the generic program
    holds at most solve.PAIR_MAX_ENTRIES dense entries, the generic program answers instead (the message says so)."""
    if meth not in ("l2-reduced", "active-set"):
        return fy.program(nrm, theta_np, q, L, G, owner, solver, info if meth == "compressed" else None)
    out = fy_working.program(nrm, theta_np, q, L, G, owner, solver, start=start)
    n, (P, k) = len(q), (G.J0.shape[1], G.k)
    if out["status"] != "solver_error" or solve.pair_entries("generic", n, k, P)[0] > solve.PAIR_MAX_ENTRIES:
        return out
    fallback = fy.program(nrm, theta_np, q, L, G, owner, solver, None)
    fallback["message"] = (f"the working set failed ({out.get('message', '')}); answered by the generic program "
                           f"(status {fallback.get('status')}) {fallback.get('message', '')}").rstrip()
    return fallback


def _constraint_sets(fm, tt, X, y, J, radius, clarke, max_size):
    """(J0, cols, owner, width, how, rank_one) of the constraint sets
    K_i = {J0_i + sum_c t_c cols_c, 0 <= t_c <= width_c}: the two-layer band (clarke.py, "two-layer-exact"), the
    deep ReLU band (clarke_deep.py, "deep-relu-band") or the autodiff element alone; how = "too_large" (with the
    reason in place of rank_one) when the deep band's columns would hold more than ``max_size`` entries."""
    n, P = J.shape
    none = (J, np.zeros((P, 0)), np.zeros(0, dtype=int), np.zeros(0), "autodiff", None)
    if clarke != "auto" or not (y.dim() == 1 and y.dtype == torch.float64):
        return none
    tl = detect_two_layer(fm, tt)
    if tl is not None:
        J0, cols, owner, width = two_layer_clarke_band(tl, X.numpy(), y.numpy(), J, radius)
        # W block of k_i: sum_j y_i a_j s_ij e_j (x) x_i
        return J0, cols, owner, width, "two-layer-exact", (X.numpy().reshape(n, -1), tl.W.shape[0])
    deep = detect_deep_relu(fm, tt, X)
    if deep is None:
        return none
    band = deep_band_pairs(deep, X.numpy(), radius)
    entries = band.entries([W.size for W in deep.weights])
    if entries > max_size:
        return (*none[:4], "too_large", f"the deep ReLU band has {band.k} pairs whose columns would hold {entries} "
                f"entries (> max_size = {max_size}); use a smaller clarke_radius or raise max_size")
    return (*deep_clarke_band(deep, band, y.numpy()), "deep-relu-band", None)


def _pair_refused(res, meth, G) -> bool:
    """Skip the (eps, delta) program when its dense matrices would exceed ``solve.PAIR_MAX_ENTRIES`` entries
    (``solve.pair_entries``, from the sizes alone, before any of its work): pair_status "too_large" and a message
    saying why. The measure is not affected."""
    P = G.J0.shape[1]
    entries, what = solve.pair_entries(meth, G.n, G.k, P, G.cols.nnz)
    if entries <= solve.PAIR_MAX_ENTRIES:
        return False
    res.pair_status = "too_large"
    res.pair_message = (f"the (eps, delta) program was skipped before any of its work: it would hold {what} "
                        f"({entries:.3g} entries > {solve.PAIR_MAX_ENTRIES:.0e}; cvxpy and Clarabel keep about a "
                        "dozen copies, which took the call over 2 GB at n = 1000). The KKT measure above is "
                        "unaffected; pass pair=False to skip the pair explicitly")
    return True


def _first_order(res, nrm, theta_np, q, L, G, owner, warm_lam, pair, too_big, tol, solver):
    """Spectral norm without an SDP (kkt/spectral_fo.py). The (eps, delta) pair is still an SDP: run when
    ``pair``, refused (status too_large) when ``too_big`` (its estimated PSD-cone entries, 0 when it fits)."""
    t0 = time.perf_counter()
    res.method = "first-order"
    with single_threaded():  # the certificate's SVDs too (threads made them 600 times slower)
        out = spectral_fo.program(nrm, theta_np, q, L, G, owner, warm_lam)
        res.set_measure(out, time.perf_counter() - t0)
    res.measure_lower = float(out.get("lower", math.nan))  # certified (weak duality, recomputed in numpy)
    if pair and too_big:
        res.pair_status = "too_large"
        res.pair_message = f"the (eps, delta) SDP would have about {too_big} PSD-cone entries (> max_sdp)"
    elif pair and not _pair_refused(res, "generic", G):
        _fill_pair(res, _pair(nrm, "generic", theta_np, q, L, G, owner, tol, solver, None), G, owner, theta_np,
                   math.nan)
    return res


def _compression(nrm, meth, theta_np, G, tol):
    info = None
    if meth == "compressed?" and not any(max(b.shape[0], b.size // b.shape[0]) > G.n + G.k + 1
                                         for b in theta_np if b.ndim >= 2):
        meth = "generic"  # compression keeps >= n + k directions per layer: cannot pay off, skip the SVDs
    if meth in ("compressed?", "compressed"):
        info = compress.bases(theta_np, G.dense(), tol)
        meth = "compressed" if meth == "compressed" or compress.worthwhile(info, theta_np) else "generic"
    return meth, info


def _pair(nrm, meth, theta_np, q, L, G, owner, tol, solver, info):
    if meth == "compressed":
        return compress.compressed(nrm, theta_np, q, L, G, owner, tol, solver, info=info)
    if meth == "l2-reduced":
        return solve.l2_reduced(theta_np, q, L, G, owner, solver)
    if meth == "active-set":
        return solve.active_set(nrm, theta_np, q, L, G, owner, tol, solver)
    return solve.generic(nrm, theta_np, q, L, G, owner, tol, solver)


def _fill_pair(res, out, G, owner, theta_np, elapsed):
    """The (eps, delta) fields of ``res`` from the pair program's certificate (recomputed by res.verify())."""
    res.pair_status, res.solve_time = out["status"], elapsed
    res.pair_message = out.get("message", "")
    if "lam" not in out:
        res.pair_message = res.pair_message or f"cvxpy status {out['status']}"
        return
    lam, mu = out["lam"], out["mu"]
    k = G.J0.copy() if len(owner) else G.J0
    for cidx, i in enumerate(owner):
        if lam[i] > 0:
            k[i] += min(mu[cidx] / lam[i], G.width[cidx]) * G.column(cidx)
    res.multipliers, res.k, res.h = lam, k, split(out["h"], [b.shape for b in theta_np])
    v = res.verify()
    res.stationarity, res.complementarity = v["stationarity"], v["complementarity"]
    res.stationarity_rel, res.complementarity_rel = v["stationarity_rel"], v["complementarity_rel"]
    res.primal_feasibility, res.dual_feasibility = v["primal_feasibility"], v["dual_feasibility"]
    res.objective = max(res.stationarity_rel, res.complementarity_rel)
