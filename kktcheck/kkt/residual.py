"""kc.residual: how far a trained homogeneous model is from a KKT point of (MM) (SPEC Def. A.12).

    (MM)  min 1/2||theta||^2  s.t.  q_i(theta) = y_i f(x_i; theta) >= 1.

theta is rescaled to theta_tilde = theta / q_min^{1/L} (feasible, SPEC Lemma A.9); then a convex program
(kkt/solve.py) picks lambda >= 0, h in d(1/2||theta_tilde||^2) (subdiff.py, near-tie tolerance ``tol``) and
k_i in the Clarke set of q_i (clarke.py) minimizing max(eps_rel, delta_rel), the Dutta-style proximity:

    eps   = ||h - sum_i lambda_i k_i||_*   (dual norm),  eps_rel   = eps / ||theta_tilde||
    delta = sum_i lambda_i (q_i - 1),                    delta_rel = L * delta / ||theta_tilde||^2.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..clarke import detect_two_layer, two_layer_clarke
from ..jacobian import margins_and_jacobian
from ..margins import _prepare, sample_margins_from_outputs
from ..norms import BlockNorm, LpNorm, norm as make_norm
from ..norms.matrix import SpectralMatrix
from ..params import as_params
from ..subdiff import DEFAULT_TOL
from . import compress, solve
from .result import KKTResidual, split

METHODS = ("auto", "generic", "l2-reduced", "active-set", "compressed")


def _pick_method(nrm, method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method != "auto":
        if method == "l2-reduced" and not (isinstance(nrm, LpNorm) and nrm.p == 2):
            raise ValueError("method 'l2-reduced' needs norm='l2'")
        if method == "active-set" and not (isinstance(nrm, LpNorm) and nrm.p in (1.0, math.inf)):
            raise ValueError("method 'active-set' needs norm='l1' or 'linf'")
        if method == "compressed" and not _is_spectral(nrm):
            raise ValueError("method 'compressed' needs norm='spectral' (max over layers of sigma_max)")
        return method
    if isinstance(nrm, LpNorm) and nrm.p == 2:
        return "l2-reduced"
    if isinstance(nrm, LpNorm) and nrm.p in (1.0, math.inf):
        return "active-set"
    return "compressed?" if _is_spectral(nrm) else "generic"


def _is_spectral(nrm) -> bool:
    return (isinstance(nrm, BlockNorm) and nrm.combine == "max" and isinstance(nrm.norms, SpectralMatrix))


def _sdp_size(nrm, info, theta) -> int:
    """Entries of the PSD cones of the nuclear-norm residual (sum over layers of (rows + cols)^2), 0 if none."""
    if not (isinstance(nrm, BlockNorm) and isinstance(nrm.norms, SpectralMatrix) or _is_nuclear(nrm)):
        return 0
    if info is not None:
        dims = [(Qc.shape[1], Qr.shape[1]) for Qc, Qr, _, _ in info]
    else:
        dims = [(1, b.size) if b.ndim <= 1 else (b.shape[0], b.size // b.shape[0]) for b in theta]
    return sum((a + b) ** 2 for a, b in dims if min(a, b) > 1)


def _is_nuclear(nrm) -> bool:
    from ..norms.matrix import NuclearMatrix
    return isinstance(nrm, BlockNorm) and isinstance(nrm.norms, NuclearMatrix)


def _check_theta(theta):
    p = as_params(theta)  # NaN / inf -> ValueError naming the layer
    if all(not bool(b.any()) for b in p):
        raise ValueError("theta = 0: every parameter is zero, so no sample is classified and (MM) has no "
                         "feasible rescaling; pass trained parameters")


def residual(theta, data, *, norm="l2", model=None, tol: float = DEFAULT_TOL, clarke: str = "auto",
             method: str = "auto", solver: str | None = None, active_tol: float = 1e-6,
             max_sdp: int = 20_000) -> KKTResidual:
    """Approximate-KKT residuals of (MM) at theta / q_min^{1/L}; see the module docstring.

    theta: a bias-free nn.Module (or proofs_numeric model), or parameters with ``model=``.
    data: (X, y), y in {-1, +1} (or integer classes for multi-output models).
    norm: the algorithm norm (its dual measures eps); tol: relative near-tie tolerance for the norm's
    subdifferential and the ReLU pre-activations; clarke: "auto" (exact two-layer sets when detected)
    or "autodiff"; method: "auto", "generic", "l2-reduced" or "active-set"; active_tol: q_i <= 1 + active_tol
    puts sample i in ``active_set``; max_sdp: refuse (status "too_large") spectral/nuclear programs whose
    PSD cones would exceed this many entries (the conic solver aborts the process when out of memory).
    """
    nrm = make_norm(norm)
    meth = _pick_method(nrm, method)
    if clarke not in ("auto", "autodiff"):
        raise ValueError(f"clarke must be 'auto' or 'autodiff', got {clarke!r}")
    if not 0 <= tol < 1:
        raise ValueError(f"tol must lie in [0, 1), got {tol}")
    _check_theta(theta)
    fm, params, L, X, y = _prepare(theta, data, model)
    with torch.no_grad():
        q0 = sample_margins_from_outputs(fm.apply_params(params, X), y)
    bad = int((q0 <= 0).sum())
    if bad:
        raise ValueError(f"{bad} of {len(q0)} points are misclassified or on the decision boundary "
                         "(q_i <= 0), so theta cannot be rescaled to a feasible point of (MM); train until "
                         "the data are separated")
    c = float(q0.min()) ** (1.0 / L)
    tt = [p / c for p in params]
    q_t, J_t = margins_and_jacobian(fm, tt, X, y)
    q = np.asarray(q_t.numpy(), dtype=np.float64)
    J = np.asarray(J_t.numpy(), dtype=np.float64)
    theta_np = [b.numpy().copy() for b in tt]
    owner, cols, J0, how = np.zeros(0, dtype=int), np.zeros((J.shape[1], 0)), J, "autodiff"
    tl = detect_two_layer(fm, tt) if clarke == "auto" else None
    if tl is not None and (y.dim() == 1 and y.dtype == torch.float64):
        J0, cols, owner = two_layer_clarke(tl, X.numpy(), y.numpy(), J, tol)
        how = "two-layer-exact"
    G = solve.Combination(J0, cols)
    t0 = time.perf_counter()
    info = None
    if meth == "compressed?" and not any(max(b.shape[0], b.size // b.shape[0]) > G.n + G.k + 1
                                         for b in theta_np if b.ndim >= 2):
        meth = "generic"  # compression keeps >= n + k directions per layer: cannot pay off, skip the SVDs
    if meth in ("compressed?", "compressed"):
        info = compress.bases(theta_np, G.dense(), tol)
        meth = "compressed" if meth == "compressed" or compress.worthwhile(info, theta_np) else "generic"
    sdp = _sdp_size(nrm, info, theta_np) if meth in ("compressed", "generic") else 0
    if sdp > max_sdp:
        out = {"status": "too_large", "message": f"the nuclear-norm SDP would have {sdp} PSD-cone entries "
               f"(> max_sdp = {max_sdp}); the solver would run out of memory. Use fewer samples or smaller "
               "layers (the compressed formulation shrinks layers to n + r dimensions), or raise max_sdp"}
    elif meth == "compressed":
        out = compress.compressed(nrm, theta_np, q, L, G, owner, tol, solver, info=info)
    elif meth == "l2-reduced":
        out = solve.l2_reduced(theta_np, q, L, G, owner, solver)
    elif meth == "active-set":
        out = solve.active_set(nrm, theta_np, q, L, G, owner, tol, solver)
    else:
        out = solve.generic(nrm, theta_np, q, L, G, owner, tol, solver)
    elapsed = time.perf_counter() - t0
    res = KKTResidual(norm=nrm.name, degree=L, status=out["status"], message=out.get("message", ""), q=q,
                      theta_tilde=theta_np, scale=c, clarke=how, method=meth, tol=tol, solve_time=elapsed,
                      _norm_obj=nrm, active_set=np.flatnonzero(q - 1.0 <= active_tol))
    if "lam" not in out:
        return res
    lam, mu = out["lam"], out["mu"]
    k = J0.copy() if len(owner) else J0
    for cidx, i in enumerate(owner):
        if lam[i] > 0:
            k[i] += min(mu[cidx] / lam[i], 1.0) * cols[:, cidx]
    shapes = [b.shape for b in theta_np]
    res.multipliers, res.k, res.h = lam, k, split(out["h"], shapes)
    v = res.verify()
    res.stationarity, res.complementarity = v["stationarity"], v["complementarity"]
    res.stationarity_rel, res.complementarity_rel = v["stationarity_rel"], v["complementarity_rel"]
    res.primal_feasibility, res.dual_feasibility = v["primal_feasibility"], v["dual_feasibility"]
    res.objective = max(res.stationarity_rel, res.complementarity_rel)
    res.theta_norm = float(nrm([torch.from_numpy(b) for b in theta_np]))
    if not res.status.startswith("optimal"):
        res.message = res.message or f"cvxpy status {res.status}"
    return res
