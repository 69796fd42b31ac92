"""The KKT section of the verification report (SPEC section 4), built from the KKT checks' ``detail``.

* Theorem 3.4 checks (``detail`` has ``log_loss`` and ``residual``): the scale-free KKT residual r of the
  normalized iterate against log(1/L), log-log, one line per (algorithm norm, residual norm); the theory
  says r -> 0 in the algorithm's own norm (a line falling to the right) and not in another norm (the
  negative control, a flat line).
* Prop A.13 checks (``detail`` has ``delta`` and ``delta_bound``): per snapshot, the construction's delta
  beside the bound m/(e L gamma_bar^{2/L} log(1/L)), and the construction's objective max(eps_rel, delta_rel)
  beside the optimized objective of ``kc.residual`` (the optimized value must never be larger).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .model import Section, Table, fmt_num
from .plots import plot_curves


def _is_thm34(r) -> bool:
    return "residual" in r.detail and "log_loss" in r.detail


def _is_a13(r) -> bool:
    return "delta" in r.detail and "delta_bound" in r.detail


def kkt_section(results, figdir, title="KKT residuals (Thm 3.4) and Prop A.13 certificates") -> Section | None:
    """A Section with the residual-vs-log-loss figures and the A.13 tables, or None if no KKT results."""
    th = [r for r in results if _is_thm34(r)]
    a13 = [r for r in results if _is_a13(r)]
    if not th and not a13:
        return None
    figdir = Path(figdir)
    sec = Section(title, kind="kkt",
                  text="Residual r = sqrt(P_D/||theta~||^2) of the normalized iterate against log(1/L): it must "
                       "fall toward 0 in the algorithm's own norm; the negative controls (residual measured in "
                       "another norm) stay bounded away from 0. Prop A.13 tables: delta of the explicit "
                       "certificate lambda_i ~ exp(-q_i) beside its bound, and the construction's objective "
                       "beside the optimized one (kc.residual).")
    by_norm: dict = {}
    for r in th:
        algo = r.name.split("-")[1] if "-" in r.name else r.name
        by_norm.setdefault(algo, {})[r.name + (" (negative control)" if r.negative_control else "")] = (
            -np.asarray(r.detail["log_loss"], float), np.asarray(r.detail["residual"], float))
    for algo, curves in by_norm.items():
        p = plot_curves(curves, figdir / f"kkt_residual_{algo}.png", xlabel="log(1/L)",
                        ylabel="KKT residual r (scale-free)", logx=True, logy=True,
                        title=f"Thm 3.4: residual vs loss, {algo} runs")
        sec.figures.append(p)
    for r in a13:
        d = r.detail
        n = len(d["delta"])
        oc, oo = list(d.get("objective_construction", [])), list(d.get("objective_optimized", []))
        lls = d.get("log_loss")
        rows = []
        for i in range(n):
            rows.append([i if lls is None else fmt_num(lls[i]), d["delta"][i], d["delta_bound"][i],
                         d["delta"][i] / d["delta_bound"][i] if d["delta_bound"][i] else float("nan"),
                         oc[i] if i < len(oc) else "-", oo[i] if i < len(oo) else "not computed"])
        if lls is not None and not r.negative_control:
            x = -np.asarray(lls, float)
            curves = {"delta (construction)": (x, d["delta"]), "Prop A.13 bound on delta": (x, d["delta_bound"]),
                      "objective max(eps_rel, delta_rel), construction": (x, oc)}
            if oo:
                curves["objective, optimized (kc.residual)"] = (x, oo)
            sec.figures.append(plot_curves(curves, figdir / f"kkt_a13_{r.name}.png", xlabel="log(1/L)",
                                           ylabel="value", logx=True, logy=True, title=f"{r.name}: bound vs values"))
        sec.tables.append(Table(f"{r.name}" + (" (negative control)" if r.negative_control else "")
                                + ": Prop A.13 bound beside the optimized value",
                                ["log L" if lls is not None else "snapshot", "delta (construction)",
                                 "A.13 bound", "delta / bound", "objective (construction)",
                                 "objective (optimized)"], rows))
    return sec


__all__ = ["kkt_section"]
