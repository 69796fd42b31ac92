"""Aggregating a per-seed claim over seeds: the fraction of seeds where it holds, with its uncertainty.

Each seed gives one ``CheckResult`` (its own statistic, threshold and verdict). ``aggregate`` turns the n rows of
one claim into one row whose measured value is the fraction k/n of seeds that pass, compared with
``SEED_FRAC``; the claim line also shows the per-seed statistic as mean +- standard error (SE = sample standard
deviation / sqrt(n), 0 for n = 1) and the 95% Wilson score interval of k/n,

    (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n),   p = k/n, z = 1.96.

Threshold rationale (SEED_FRAC = 0.8, the teacher-student bar): these are statements about typical training
runs, so a claim must hold in a large majority of seeds, not in one lucky seed; with few seeds the Wilson
interval shows how little a fraction of 1 then proves. A negative control aggregates the same way and is as
expected when its fraction stays below the bar.
"""
from __future__ import annotations

import math

import numpy as np

from ..results import CheckResult

SEED_FRAC = 0.8
RATIONALE = (f"fraction of seeds in which the per-seed statistic meets its threshold; >= {SEED_FRAC:g} required "
             "(a typical-run claim must hold in a large majority of seeds)")


def wilson(k: int, n: int, z: float = 1.96) -> tuple:
    """95% Wilson score interval of a binomial fraction k/n ((nan, nan) for n = 0)."""
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, c - h), min(1.0, c + h)


def mean_se(values) -> tuple:
    """Mean and standard error (sample sd / sqrt(n); 0 for one value) of the finite values; (nan, nan) if none."""
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0


def fmt_mean_se(values, digits: int = 4) -> str:
    m, se = mean_se(values)
    return f"{m:.{digits}g} +- {se:.2g}" if math.isfinite(m) else "n/a"


def aggregate(rows: list, seeds: list, frac: float = SEED_FRAC) -> CheckResult:
    """One row from the per-seed rows of a claim (same name, one per seed, in ``seeds`` order)."""
    first = rows[0]
    n = len(rows)
    k = sum(bool(r.passed) for r in rows)
    vals = [r.measured for r in rows]
    m, se = mean_se(vals)
    lo, hi = wilson(k, n)
    stat = (f"per-seed statistic {m:.4g} +- {se:.2g} (mean +- SE, n={n}), threshold {first.threshold}; "
            f"holds in {k}/{n} seeds, 95% Wilson interval [{lo:.2f}, {hi:.2f}]")
    return CheckResult(first.name, f"{first.claim} [{stat}]", k / n if n else math.nan, frac,
                       bool(n) and k / n >= frac, ">=",
                       {"seeds": list(seeds), "n": n, "passed_seeds": k, "per_seed": vals, "mean": m, "se": se,
                        "wilson95": [lo, hi], "per_seed_detail": [r.detail for r in rows]},
                       negative_control=first.negative_control, informational=first.informational,
                       definition=first.definition and f"{first.definition}; {RATIONALE}", changed=first.changed,
                       case=first.case)


def aggregate_all(per_seed: list, seeds: list) -> list:
    """``per_seed``: one list of CheckResults per seed (same names); returns one aggregated row per name, in order."""
    names = [c.name for c in per_seed[0]]
    by = {nm: [next(c for c in rows if c.name == nm) for rows in per_seed] for nm in names}
    return [aggregate(by[nm], seeds) for nm in names]


__all__ = ["SEED_FRAC", "RATIONALE", "wilson", "mean_se", "fmt_mean_se", "aggregate", "aggregate_all"]
