"""The ridge step's linear program with columns added incrementally and HiGHS warm-started between rounds.

    maximize t   subject to   t <= b_i + A_i x   (i = 1..k),   lo_j <= x_j <= hi_j,   [sum_j x_j <= budget]

Column generation (``flow.ridge``) solves this over a growing set of columns. Each round adds columns and
changes b (for l-infinity, a column that joins the program stops contributing its fixed bound to b); the
previous optimal basis stays primal feasible when a new column starts at the value it had while fixed, so
HiGHS's simplex restarts from that basis instead of from scratch (3-4x fewer seconds per step than one
``scipy.optimize.linprog`` call per round, measured in docs/flow.md).

Returned duals: w_i = dt/db_i >= 0 (sum_i w_i = 1: the end-of-step softmax weights of the ridge step) and the
budget's price dt/d budget >= 0, both read from HiGHS's row duals (minimizing -t, a binding <= row has a
non-positive dual).
"""
from __future__ import annotations

import numpy as np

from kktcheck import silence_highs_banner


class ColumnLP:
    def __init__(self, b, budget=None):
        import highspy
        silence_highs_banner()
        self.hs = highspy.Highs()
        self.hs.setOptionValue("output_flag", False)
        self.hs.setOptionValue("presolve", "off")      # tiny dense LPs re-solved from a warm basis: presolve costs 25%
        # the ridge programs are scaled to entries <= 1 (flow.ridge.ridge_step); 1e-9 keeps the optimum to ~1e-9 of the gain
        self.hs.setOptionValue("primal_feasibility_tolerance", 1e-9)
        self.hs.setOptionValue("dual_feasibility_tolerance", 1e-9)
        self.inf = highspy.kHighsInf
        self.optimal = highspy.HighsModelStatus.kOptimal
        self.k = int(np.asarray(b).size)
        self.has_budget = budget is not None
        self.hs.addVar(-self.inf, self.inf)                     # column 0: t
        self.hs.changeColCost(0, -1.0)                          # minimize -t
        k = self.k                                              # rows t <= b_i, added in one call
        self.hs.addRows(k, np.full(k, -self.inf), np.asarray(b, dtype=np.float64).reshape(-1), k,
                        np.arange(k, dtype=np.int32), np.zeros(k, dtype=np.int32), np.ones(k))
        if self.has_budget:
            self.hs.addRow(-self.inf, float(budget), 0, np.array([], dtype=np.int32), np.array([]))
        self.n_cols = 0

    def add(self, A, lo, hi) -> None:
        """Add the columns of A (k x m): entries -A in the k rows (t - A x <= b), 1 in the budget row."""
        A = np.asarray(A, dtype=np.float64)
        m = A.shape[1]
        if m == 0:
            return
        rows = self.k + (1 if self.has_budget else 0)
        block = np.vstack([-A, np.ones((1, m))]) if self.has_budget else -A
        starts = np.arange(0, rows * m, rows, dtype=np.int32)
        index = np.tile(np.arange(rows, dtype=np.int32), m)
        self.hs.addCols(m, np.zeros(m), np.full(m, float(lo)), np.full(m, float(hi) if hi is not None else self.inf),
                        rows * m, starts, index, np.ascontiguousarray(block.T).reshape(-1))
        self.n_cols += m

    def set_rhs(self, b) -> None:
        idx = np.arange(self.k, dtype=np.int32)
        self.hs.changeRowsBounds(self.k, idx, np.full(self.k, -self.inf), np.asarray(b, dtype=np.float64))

    def solve(self):
        """(x, t, w, price): the columns' values in the order added, the optimum, the weights, the budget price."""
        self.hs.run()
        status = self.hs.getModelStatus()
        if status != self.optimal:
            raise RuntimeError(f"ridge LP failed: {self.hs.modelStatusToString(status)}")
        sol = self.hs.getSolution()
        x = np.asarray(sol.col_value, dtype=np.float64)
        duals = -np.asarray(sol.row_dual, dtype=np.float64)
        price = float(duals[self.k]) if self.has_budget else 0.0
        return x[1:], float(x[0]), np.maximum(duals[:self.k], 0.0), max(price, 0.0)


__all__ = ["ColumnLP"]
