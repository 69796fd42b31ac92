"""KKT points of (MM) that are not local optima (Vardi, Shamir & Srebro 2022; cases C1 and C3).

(MM) is min 1/2 ||theta||_2^2 s.t. q_i(theta) = y_i f(x_i; theta) >= 1, for an L-homogeneous f. Rescaling
theta' = v / q_min(v)^{1/L} maps any direction v onto a feasible point with 1/2 ||theta'||^2 = 1/2 gamma_bar(v)^{-2/L},
where gamma_bar(v) = min_i q_i(v) / ||v||_2^L (the normalized l2 margin). So theta_tilde is a local optimum of (MM)
iff its direction is a local maximum of gamma_bar.

``ascent_probe`` maximizes gamma_bar(u + r d / ||d||) over directions d for radii r (u = theta / ||theta||_2;
Nelder-Mead from ``starts`` seeded random directions). A gain > 0 at a radius r is a certificate that theta_tilde
is not a local optimum: the rescaled point is feasible, has a smaller norm, and tends to theta_tilde as r -> 0. The
certificate is re-checked directly: q_min(theta') >= 1 and the norm decrease, both in float64. When no gain is
found, the probe gives evidence of local optimality, not a proof. This is why the negative controls evaluate the
probe at known global optima.

Cases (the paper's own counterexample data were not recovered, these constructions were):
* C1: depth-2 diagonal net f = sum_j u_j v_j x_j on one point x = (1, 2), y = +1. From the anti-balanced init
  u = (.1, .1), v = (.1, -.1), gradient flow reaches gamma_bar = 1/2, a KKT point. The global optimum is
  (0, 1, 0, 1)/sqrt(2) with gamma_bar = 1. The balanced init u = v = (.1, .1) reaches the global optimum.
* C3: two-layer ReLU, width 3, x_1 = e_1, x_2 = e_2, y = (+1, +1); neuron 3 starts exactly at zero. The flow
  (relu'(0) := 0) reaches a = (1, 1, 0), w_1 = e_1, w_2 = e_2 with gamma_bar = 1/4. It is KKT with the Clarke choice
  sigma'(0) = 0, but the single neuron w = (1, 1)/sqrt(2), a = 1 has gamma_bar = sqrt(2)/4.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

import kktcheck as kc

from ..results import CheckResult, describe_case

RADII = (0.1, 0.05, 0.02)
GAIN_TOL = 1e-9      # relative gain of gamma_bar that counts as an ascent (rounding is ~1e-15 here)
KKT_TOL = 1e-5       # max(eps_rel, delta_rel) of kc.residual at the final iterate (log L = -200)
MARGIN_RTOL = 1e-6   # |gamma_bar - predicted| / predicted for the flow's limit
TARGET_LOG_LOSS = -200.0


def _t(a):
    return torch.tensor(a, dtype=torch.float64)


@dataclass
class VSSCase:
    """A (MM) instance with a flow init, the gamma_bar the flow reaches, and a known global optimum."""
    name: str
    model: object
    X: torch.Tensor
    y: torch.Tensor
    init: list
    predicted: float          # gamma_bar of the KKT point the flow reaches
    global_opt: list          # a global optimum of (MM) (direction)
    global_gamma: float
    non_kkt: list             # a feasible direction that is not KKT (negative control of check_kkt)
    q_flat: object = None     # numpy q(theta_flat), the same function as y * model(X), for the probe's inner loop
    balanced: bool = False    # C1 only: the balanced init


def vss_case(name: str, *, balanced: bool = False) -> VSSCase:
    """'C1' (``balanced=True``: the init that reaches the global optimum) or 'C3'."""
    from ..models import DiagonalNet, TwoLayerReLU
    s = 2 ** -0.5
    if name == "C1":
        v2 = 0.1 if balanced else -0.1
        x1 = np.array([1.0, 2.0])
        return VSSCase("C1", DiagonalNet(2, 2), _t([[1.0, 2.0]]), _t([1.0]), [_t([0.1, 0.1]), _t([0.1, v2])],
                       1.0 if balanced else 0.5, [_t([0.0, s]), _t([0.0, s])], 1.0,
                       [_t([0.1, 0.1]), _t([0.1, 0.1])],   # not KKT: theta is not parallel to grad q
                       lambda th: np.array([th[:2] * th[2:] @ x1]), balanced)
    if name == "C3":
        al = 0.1
        return VSSCase("C3", TwoLayerReLU(2, 3), _t([[1.0, 0.0], [0.0, 1.0]]), _t([1.0, 1.0]),
                       [_t([[al, 0.0], [0.0, al], [0.0, 0.0]]), _t([[al, al, 0.0]])], 0.25,
                       [_t([[s, s], [0.0, 0.0], [0.0, 0.0]]), _t([[1.0, 0.0, 0.0]])], math.sqrt(2) / 4,
                       [_t([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), _t([[2.0, 2.0, 0.0]])],  # unbalanced layers
                       lambda th: np.maximum(th[:6].reshape(3, 2).T, 0.0) @ th[6:])   # X = I, y = (1, 1)
    raise ValueError(f"unknown case {name!r}; valid: 'C1', 'C3'")


def _unflatten(flat, shapes):
    out, i = [], 0
    for sh in shapes:
        k = int(np.prod(sh))
        out.append(torch.as_tensor(flat[i:i + k], dtype=torch.float64).reshape(sh))
        i += k
    return out


def _q(case, params):
    with torch.no_grad():
        return case.y * case.model.apply_params(params, case.X)


def gamma_bar(case, params) -> float:
    """min_i q_i / ||theta||_2^L."""
    nrm = math.sqrt(sum(float((p ** 2).sum()) for p in params))
    return float(_q(case, params).min()) / nrm ** case.model.degree


def _feasible(case, flat, shapes):
    """theta~ = theta / q_min^(1/L) for the flat vector ``flat`` (kc.feasible_rescaling)."""
    ps = _unflatten(flat, shapes)
    return kc.feasible_rescaling(ps, float(_q(case, ps).min()), case.model.degree)[0]


def ascent_probe(case, params, radii=RADII, starts: int = 20, seed: int = 0) -> dict:
    """Largest relative gain of gamma_bar within distance r of the unit direction of ``params``, per r, and the
    certificate at the largest gain of the smallest radius (feasible rescaled point, norm decrease, distance)."""
    from scipy.optimize import minimize
    shapes = [tuple(p.shape) for p in params]
    u = np.concatenate([p.reshape(-1).numpy() for p in params])
    u = u / np.linalg.norm(u)
    g0 = gamma_bar(case, _unflatten(u, shapes))
    rng = np.random.default_rng(seed)
    gains, best_v = [], None
    gb = lambda v: case.q_flat(v).min() / np.linalg.norm(v) ** case.model.degree  # noqa: E731
    for r in radii:
        best, arg = -math.inf, None
        f = lambda d, r=r: -gb(u + r * d / np.linalg.norm(d))  # noqa: E731
        for _ in range(starts):
            res = minimize(f, rng.standard_normal(u.size), method="Nelder-Mead",
                           options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000})
            if -res.fun > best:
                best, arg = -res.fun, u + r * res.x / np.linalg.norm(res.x)
        gains.append(best / g0 - 1.0)
        best_v = arg
    tilde, cand = _feasible(case, u, shapes), _feasible(case, best_v, shapes)
    half_sq = lambda ps: 0.5 * sum(float((p ** 2).sum()) for p in ps)  # noqa: E731
    dist = math.sqrt(sum(float(((a - b) ** 2).sum()) for a, b in zip(cand, tilde)))
    return {"gamma_bar": g0, "radii": list(radii), "gains": gains,
            "certificate": {"q_min": float(_q(case, cand).min()), "norm_decrease": half_sq(tilde) - half_sq(cand),
                            "distance": dist}}


def train(case):
    """Gradient flow (l2) from the case's init to log L <= TARGET_LOG_LOSS; the final parameters (computed once
    per case and init, then reused by the three checks)."""
    return [p.clone() for p in _trained(case.name, case.balanced)]


@functools.lru_cache(maxsize=None)
def _trained(name: str, balanced: bool):
    from ..flow import integrate
    case = vss_case(name, balanced=balanced)
    tr = integrate(case.model, [p.clone() for p in case.init], (case.X, case.y), norm="l2",
                   target_log_loss=TARGET_LOG_LOSS, max_steps=100_000, margin_norms=())
    if tr.status != "success":
        raise RuntimeError(f"VSS case {case.name}: the flow did not reach log L = {TARGET_LOG_LOSS}: {tr.message}")
    return tuple(tr.params)


def _case(case, what="l2 gradient flow from the case's init"):
    data = {"C1": "one point x = (1, 2), y = +1", "C3": "x_1 = e_1, x_2 = e_2, y = (+1, +1)"}[case.name]
    return describe_case(case.model, (case.X, case.y), data_name=f"VSS case {case.name}: {data}", algorithm=what,
                         norm="l2", step="adaptive flow solver (default step)" if "flow" in what else "",
                         reached=f"log L <= {TARGET_LOG_LOSS:g}" if "flow" in what else "")


def check_flow_limit(name="C1", *, negative=False) -> CheckResult:
    """The flow from the case's init reaches the predicted KKT margin. Negative control (C1): the balanced init,
    checked against the same predicted value 1/2, reaches the global optimum 1 instead."""
    target = vss_case(name)
    case = vss_case(name, balanced=negative) if name == "C1" else target
    g = gamma_bar(case, train(case))
    err = abs(g - target.predicted) / target.predicted
    tag = "(negative control: balanced init) " if negative else ""
    return CheckResult(f"vss-flow-limit-{name}" + ("-balanced" if negative else ""),
                       f"{tag}{name}: gradient flow reaches the KKT point with gamma_bar = {target.predicted:g}",
                       err, MARGIN_RTOL, err <= MARGIN_RTOL, "<=", {"gamma_bar": g, "predicted": target.predicted},
                       negative_control=negative, case=_case(case),
                       definition="|gamma_bar of the flow's final iterate - predicted| / predicted",
                       changed="the balanced init u = v = (.1, .1)" if negative else "")


def check_kkt(name="C1", *, negative=False) -> CheckResult:
    """kc.residual (l2, Clarke sets) at the rescaled final iterate is ~0. Negative control: the case's
    ``non_kkt`` point (C1: u = v = (.1, .1); C3: the flow's structure with unbalanced layers), feasible, not KKT."""
    import kktcheck as kc
    case = vss_case(name)
    params = case.non_kkt if negative else train(case)
    L = case.model.degree
    tilde = [p / float(_q(case, params).min()) ** (1 / L) for p in params]
    res = kc.residual(tilde, (case.X, case.y), model=case.model, norm="l2")
    val = max(res.stationarity_rel, res.complementarity_rel)
    tag = "(negative control: a feasible point that is not KKT) " if negative else ""
    return CheckResult(f"vss-kkt-{name}" + ("-non-kkt" if negative else ""),
                       f"{tag}{name}: the flow's limit is a KKT point of (MM) (approximate-KKT residual ~ 0)", val,
                       KKT_TOL, res.status == "optimal" and val <= KKT_TOL, "<=",
                       {"stationarity_rel": res.stationarity_rel, "complementarity_rel": res.complementarity_rel,
                        "status": res.status}, negative_control=negative,
                       case=_case(case, "kc.residual (l2, Clarke sets) at the rescaled point"
                                  if negative else "l2 gradient flow from the case's init, then kc.residual"),
                       definition="max(stationarity_rel, complementarity_rel) of kc.residual at the rescaled point",
                       changed="a feasible point that is not KKT instead of the flow's limit" if negative else "")


def check_not_local(name="C1", *, negative=False, starts: int = 20) -> CheckResult:
    """The flow's KKT point is not a local optimum: gamma_bar rises within every probed radius (smallest gain is
    measured), with a re-checked certificate. Negative control: the probe at the known global optimum."""
    case = vss_case(name)
    params = case.global_opt if negative else train(case)
    pr = ascent_probe(case, params, starts=starts)
    gains = pr["gains"]
    order = float(np.polyfit(np.log(pr["radii"]), np.log(gains), 1)[0]) if min(gains) > 0 else math.nan
    cert = pr["certificate"]
    ok = min(gains) > GAIN_TOL and cert["q_min"] >= 1 - 1e-12 and cert["norm_decrease"] > 0
    tag = "(negative control: a global optimum) " if negative else ""
    return CheckResult(f"vss-not-local-{name}" + ("-global" if negative else ""),
                       f"{tag}{name}: a feasible point with smaller norm exists arbitrarily close to the KKT point "
                       f"(gamma_bar gain > {GAIN_TOL:g} at r = {', '.join(map(str, pr['radii']))})",
                       min(gains), GAIN_TOL, ok, ">",
                       {"radii": pr["radii"], "gains": gains, "gain_order_in_r": order, "gamma_bar": pr["gamma_bar"], **cert},
                       negative_control=negative,
                       case=_case(case, f"Nelder-Mead ascent probe ({starts} starts) at the "
                                  + ("known global optimum" if negative else "flow's limit")),
                       definition="smallest (over the radii) best relative gain of gamma_bar within radius r",
                       changed="the probe runs at a known global optimum" if negative else "")


__all__ = ["vss_case", "VSSCase", "gamma_bar", "ascent_probe", "train", "check_flow_limit", "check_kkt",
           "check_not_local"]
