"""Claims of the momentum_margins experiment (Gronich & Vardi 2026), each an informational CheckResult with a control.

``per_seed``: {seed: {algorithm: Run}}; ``owners``: {algorithm: its implicit-norm name, or None}. gamma_N(run) is
the run's final hard normalized margin min_i y_i f(x_i) / ||theta||_N^3 in norm N (recorded by training).

* own-norm-largest:A  fraction over seeds of "gamma_N(A) > gamma_N(B) for every compared B whose implicit norm
  is not N" (N = A's implicit norm; runs sharing N, e.g. NGD and MomentumGD, are not compared with each other,
  and Adam eps=1e-8, which the theory assigns no norm before its gradients fall below eps, is no rival);
  passes at >= 2/3. Control: the same statistic in a norm that is not A's (l2 for the non-l2 methods, linf for
  the l2 methods), where the theory's winner is another method.
* adam-like-signum: median over seeds of s = log(gamma_inf(Adam eps=0) / gamma_inf(NGD)) /
  log(gamma_inf(Signum) / gamma_inf(NGD)) (1: Adam's l_inf margin equals Signum's, 0: NGD's; a seed where Adam
  did not separate the data counts as s = -1, as far below NGD as Signum is above); passes at >= 0.8.
  Control: MomentumGD (an l2 method) in Adam's place.
* muon-adam-balance: at a KKT point of min max{r ||W||_msp, ||a||_inf} s.t. q >= 1 the two parts are equal
  (otherwise rescaling W -> cW, a -> a / c^2 keeps f and lowers the norm), so b = ||a||_inf / ||W||_2 = r.
  Measured: median over seeds of max_r |log10(b_r / r)|; passes at <= log10(2). Control: each ratio's
  prediction held against the run of the reversed ratio list. Diagnostic row ``:adam-betas-0``: the same with
  Adam betas (0, 0) on a (then exactly sign descent there), isolating Adam's moment averaging.
* momentum-on-off: median over seeds of |gamma_2(MomentumGD) / gamma_2(NGD) - 1|; passes at <= 0.1. Control:
  Signum in MomentumGD's place.
* kkt-own-norm-lower:A (NGD, Signum, Adam eps=0): fraction of seeds where the KKT measure (kc.residual, docs/kkt.md)
  of the final iterate is lower in A's implicit norm than in the other of l2 / linf; passes at >= 2/3.
  Control: the two norms swapped.
* directional-convergence:A: median over seeds of cos(theta_t, theta_end) at the last snapshot with
  t <= end/2; passes at >= 0.99. Control: cos(theta_0, theta_end) (the init instead of theta_t).
"""
from __future__ import annotations

import math

import numpy as np

from ..results import CheckResult
from .base import describe

OWN_FRACTION = 2.0 / 3.0
ADAM_S = 0.8
BALANCE_TOL = math.log10(2.0)
MOMENTUM_TOL = 0.1
COS_TOL = 0.99
NOT_SEPARATED = -1.0   # s of a seed where Adam's final margin is <= 0 (adam-like-signum)

DEFINITIONS = {
    "own-norm-largest": ("fraction of seeds where the algorithm's final normalized margin in its implicit norm N "
                         "exceeds that of every compared algorithm with another implicit norm",
                         "the comparison made in a norm that is not the algorithm's implicit norm"),
    "adam-like-signum": ("median over seeds of log(g_inf(Adam eps=0)/g_inf(NGD)) / log(g_inf(Signum)/g_inf(NGD))",
                         "MomentumGD (an l2 method) in Adam's place"),
    "muon-adam-balance": ("median over seeds of max over ratios r of |log10(||a||_inf / (r ||W||_2))| at the end",
                          "each ratio's prediction held against the run of the reversed ratio list"),
    "momentum-on-off": ("median over seeds of |g_2(MomentumGD) / g_2(NGD) - 1|", "Signum in MomentumGD's place"),
    "kkt-own-norm-lower": ("fraction of seeds where kc.residual(...).measure at the final iterate is lower in the "
                           "algorithm's implicit norm than in the other norm", "the two norms swapped"),
    "directional-convergence": ("median over seeds of cos(theta_t, theta_end), t = last snapshot <= end/2",
                                "the init theta_0 in place of theta_t"),
}


def final(run, norm: str) -> float:
    return float(run.margins[norm][-1])


def own_norm_largest(per_seed, owners, algo, norm=None, control=False) -> CheckResult:
    """Fraction of seeds where ``algo`` has the largest final margin in ``norm`` (default: its own)."""
    own = owners[algo]
    norm = norm or own
    wins, gaps = [], []
    for runs in per_seed.values():
        rivals = [b for b in runs if owners.get(b) is not None and owners[b] != own]
        best = max(final(runs[b], norm) for b in rivals)
        gaps.append(final(runs[algo], norm) / best if best > 0 else math.nan)
        wins.append(all(final(runs[algo], norm) > final(runs[b], norm) for b in rivals))
    frac, n = float(np.mean(wins)), len(wins)
    tag = "control " if control else ""
    return CheckResult(
        f"own-norm-largest{':control' if control else ''}:{algo}",
        f"{algo} ends with the largest normalized margin in {norm}"
        + (f" (its implicit norm is {own})" if control else " (its implicit norm)") + f" among the compared "
        f"algorithms with another implicit norm ({tag}n = {n} seeds)", frac, OWN_FRACTION,
        bool(frac >= OWN_FRACTION), ">=", {"wins": wins, "ratio_to_best_rival": gaps, "norm": norm, "n": n},
        negative_control=control, informational=True)


def control_norm(own: str) -> str:
    return "linf" if own == "l2" else "l2"


def adam_like_signum(per_seed, adam="Adam eps=0", control=False) -> CheckResult:
    s = []
    for runs in per_seed.values():
        ga, gs, gn = (final(runs[k], "linf") for k in (adam, "Signum", "NGD"))
        if ga <= 0:                      # Adam did not separate the data: not Signum-like on this seed
            s.append(NOT_SEPARATED)
        else:
            s.append(math.log(ga / gn) / math.log(gs / gn) if min(gs, gn) > 0 and gs != gn else math.nan)
    med = float(np.median(s))
    return CheckResult(
        f"adam-like-signum{':control' if control else ''}:{adam}",
        f"{adam} (beta1 <= beta2) behaves like Signum in l_inf: its l_inf margin is close to Signum's, above NGD's "
        f"(log-scale position s between NGD = 0 and Signum = 1, n = {len(s)} seeds)", med, ADAM_S,
        bool(med >= ADAM_S), ">=", {"s": s}, negative_control=control, informational=True)


def balance(run) -> float:
    """||a||_inf / ||W||_2 of the final iterate (params = [W, a])."""
    import torch
    W, a = run.params
    return float(a.abs().max() / torch.linalg.matrix_norm(W, ord=2))


def muon_adam_balance(per_seed, ratios, names, control=False, tag="") -> CheckResult:
    """``names[i]``: the Muon-Adam run of ratio ratios[i]; the control pairs ratio i with the run of ratio n-1-i.
    ``tag``: a suffix naming the variant (e.g. Adam betas (0, 0) on the vectors)."""
    runs_of = list(reversed(names)) if control else list(names)
    errs, bs = [], []
    for runs in per_seed.values():
        b = [balance(runs[nm]) for nm in runs_of]
        bs.append(b)
        errs.append(max(abs(math.log10(bi / r)) for bi, r in zip(b, ratios)))
    med = float(np.median(errs))
    return CheckResult(
        f"muon-adam-balance{':control' if control else ''}{tag}",
        f"the Muon-Adam{tag.replace(':', ' ')} ratio r moves the maximized hybrid margin as "
        f"max{{r ||W||_msp, ||a||_inf}} predicts: "
        f"||a||_inf = r ||W||_2 at the end (r in {list(ratios)}, n = {len(errs)} seeds)", med, BALANCE_TOL,
        bool(med <= BALANCE_TOL), "<=", {"balance": bs, "ratios": list(ratios)}, negative_control=control,
        informational=True)


def momentum_on_off(per_seed, other="MomentumGD", control=False) -> CheckResult:
    d = [abs(final(runs[other], "l2") / final(runs["NGD"], "l2") - 1.0) for runs in per_seed.values()]
    med = float(np.median(d))
    return CheckResult(
        f"momentum-on-off{':control' if control else ''}:{other}",
        f"momentum on vs off: {other} and NGD (MomentumGD beta = 0) end with nearly the same l2 margin "
        f"(n = {len(d)} seeds)", med, MOMENTUM_TOL, bool(med <= MOMENTUM_TOL), "<=", {"rel_diff": d},
        negative_control=control, informational=True)


def directional_convergence(per_seed, algo, control=False) -> CheckResult:
    cs = []
    for runs in per_seed.values():
        det = runs[algo].detail
        steps, cos = det["cos_steps"], det["cos_to_end"]
        half = det["end_step"] / 2
        k = 0 if control else max(i for i, t in enumerate(steps) if t <= half)
        cs.append(float(cos[k]))
    med = float(np.median(cs))
    return CheckResult(
        f"directional-convergence{':control' if control else ''}:{algo}",
        f"{algo} converges in direction: cos(theta_t, theta_end) close to 1 for t = "
        + ("0 (the init)" if control else "half the run") + f" (n = {len(cs)} seeds)", med, COS_TOL,
        bool(med >= COS_TOL), ">=", {"cos": cs}, negative_control=control, informational=True)


KKT_PAIRS = (("NGD", "l2", "linf"), ("Signum", "linf", "l2"), ("Adam eps=0", "linf", "l2"))


def kkt_lower_in_own_norm(measures, algo, own, other, control=False) -> CheckResult:
    """``measures[(seed, algo, norm)]`` = kc.residual(...).measure of the final iterate (0 exactly at KKT points of
    (MM) in that norm). Fraction of seeds where the own-norm measure is below the other norm's (control: swapped)."""
    a, b = (other, own) if control else (own, other)
    seeds = sorted({s for (s, al, _) in measures if al == algo})
    lower = [measures[(s, algo, a)] < measures[(s, algo, b)] for s in seeds]
    frac = float(np.mean(lower)) if lower else math.nan
    return CheckResult(
        f"kkt-own-norm-lower{':control' if control else ''}:{algo}",
        f"{algo}: the KKT measure of (MM) at the final iterate is lower in {a} than in {b}"
        + (" (control: norms swapped)" if control else " (its implicit norm)") + f" (n = {len(lower)} seeds)",
        frac, OWN_FRACTION, bool(frac >= OWN_FRACTION), ">=",
        {"measures": {str(s): (measures[(s, algo, a)], measures[(s, algo, b)]) for s in seeds}},
        negative_control=control, informational=True)


def all_claims(per_seed, owners, ratios, measures=None) -> list:
    from .momentum_margins import NO_MOMENTUM, muon_adam_name
    claims = []
    for algo, own in owners.items():
        if own is None:
            continue
        claims.append(own_norm_largest(per_seed, owners, algo))
        claims.append(own_norm_largest(per_seed, owners, algo, norm=control_norm(own), control=True))
    claims += [adam_like_signum(per_seed), adam_like_signum(per_seed, adam="MomentumGD", control=True)]
    names = [muon_adam_name(r) for r in ratios]
    claims += [muon_adam_balance(per_seed, ratios, names), muon_adam_balance(per_seed, ratios, names, True)]
    names0 = [muon_adam_name(r) + NO_MOMENTUM for r in ratios]
    if all(n in next(iter(per_seed.values())) for n in names0):     # diagnostic: Adam = sign descent on a
        claims += [muon_adam_balance(per_seed, ratios, names0, tag=":adam-betas-0"),
                   muon_adam_balance(per_seed, ratios, names0, True, tag=":adam-betas-0")]
    claims += [momentum_on_off(per_seed), momentum_on_off(per_seed, other="Signum", control=True)]
    for algo, own in owners.items():
        if own is not None:       # the theorem's algorithms (not Adam eps=1e-8 nor beta1 > beta2)
            claims.append(directional_convergence(per_seed, algo))
    claims.append(directional_convergence(per_seed, "NGD", control=True))
    for algo, own, other in (KKT_PAIRS if measures else ()):
        claims += [kkt_lower_in_own_norm(measures, algo, own, other),
                   kkt_lower_in_own_norm(measures, algo, own, other, control=True)]
    return describe(claims, DEFINITIONS)


def _role(name: str) -> str:
    if "beta1>beta2" in name:
        return "(outside the theorem)"
    if "betas=0" in name:
        return "(diagnostic: Adam = sign descent on a)"
    return "(l2 asymptotically; practical)"


def summary_rows(per_seed, owners, norms) -> dict:
    """Tables: median over seeds of the final margin in every norm (own norm marked *), and stop status."""
    names = list(next(iter(per_seed.values())))
    rows = []
    for a in names:
        row = {"algorithm": a, "implicit norm": owners[a] or _role(a)}
        for nm in norms:
            v = float(np.median([final(runs[a], nm) for runs in per_seed.values()]))
            row[nm] = f"{v:.4g}" + (" *" if nm == owners[a] else "")
        row["||a||_inf/||W||_2"] = f"{np.median([balance(runs[a]) for runs in per_seed.values()]):.3g}"
        row["steps to end (median)"] = int(np.median([runs[a].steps[-1] for runs in per_seed.values()]))
        rs = [r[a] for r in per_seed.values()]
        row["log10 L end (median)"] = f"{np.median([r.log_loss[-1] for r in rs]) / math.log(10):.3g}"
        row["max |theta| end (median)"] = f"{np.median([max(float(p.abs().max()) for p in r.params) for r in rs]):.3g}"
        row["reached L<=1e-8"] = f"{sum(r[a].status == 'stopped' for r in per_seed.values())}/{len(per_seed)}"
        rows.append(row)
    return {"final normalized margins, median over seeds (* = implicit norm)": rows}


def kkt_table(measures) -> dict:
    """Median over seeds of the KKT measure (kc.residual(...).measure) per algorithm and norm."""
    if not measures:
        return {}
    rows = []
    for algo, own, other in KKT_PAIRS:
        row = {"algorithm": algo, "implicit norm": own}
        for nm in (own, other):
            vals = [v for (s, a, n), v in measures.items() if a == algo and n == nm]
            row[f"measure in {nm}"] = f"{np.median(vals):.3g}" + (" *" if nm == own else "")
        rows.append(row)
    return {"KKT measure of (MM) at the final iterate, median over seeds (* = implicit norm)": rows}


__all__ = ["all_claims", "summary_rows", "kkt_table", "own_norm_largest", "adam_like_signum", "muon_adam_balance",
           "momentum_on_off", "directional_convergence", "kkt_lower_in_own_norm", "KKT_PAIRS", "balance",
           "control_norm"]
