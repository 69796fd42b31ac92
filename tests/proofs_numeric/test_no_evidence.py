"""Checks that had nothing to measure return verdict "no evidence", which is never as expected (also for a
negative control and for an informational paper claim). Each case here passed before the fix."""
from __future__ import annotations

import math

import numpy as np

from proofs_numeric.checks import flow_checks as fc
from proofs_numeric.checks import kkt_checks as kk
from proofs_numeric.flow.cases import kkt_case, linear_case
from proofs_numeric.results import CheckResult


def test_thm31_inequality_on_a_run_that_never_separates():
    # linear_case starts at log L = log 12 > 0; one step does not reach L < 1, so no point is checked
    r = fc.check_thm31_inequality("l2", case=linear_case(), n_steps=1)
    assert r.detail["points"] == 0
    assert r.verdict == "no evidence" and not r.passed and not r.as_expected


def test_prop_a3_with_no_step():
    r = fc.check_prop_a3("l2", n_steps=0)
    assert r.verdict == "no evidence" and not r.as_expected


def test_lemma_a7_without_separated_records():
    r = fc.check_lemma_a7("l2", case=linear_case(), n_steps=1)
    assert r.detail["records"] == 0 and r.verdict == "no evidence"


def test_kkt_checks_on_unseparated_snapshots():
    data, model, th0 = kkt_case("l2")
    snaps = [th0, [p * 0.5 for p in th0]]                  # small init: q_i mixed in sign, L > 1
    for r in (kk.check_a13(snaps, data, model=model, norm="l2"), kk.check_b6(snaps, data, model=model, norm="l2"),
              kk.check_thm34(snaps, data, model=model, norm="l2", log_losses=[1.0, 1.0])):
        assert r.verdict == "no evidence" and not r.as_expected, r.name
    ctrl = kk.check_a13(snaps, data, model=model, norm="l2", weights="uniform")
    assert ctrl.negative_control and ctrl.verdict == "no evidence" and not ctrl.as_expected


def test_non_finite_measured_value_is_no_evidence_for_every_kind():
    for kw in ({}, {"negative_control": True}, {"informational": True}):
        for bad in (math.inf, -math.inf, math.nan):
            r = CheckResult("x", "c", bad, 1.0, True, **kw)
            assert r.verdict == "no evidence" and not r.passed and not r.as_expected
    assert CheckResult("x", "c", 0.5, 1.0, True).verdict == "pass"
    assert CheckResult("x", "c", 2.0, 1.0, False, negative_control=True).as_expected


def test_monotone_check_reports_a_finite_measured_value():
    r = fc.check_thm31_monotone("linf", hs=(0.08, 0.04, 0.02))
    assert r.passed and np.isfinite(r.measured) and r.definition
