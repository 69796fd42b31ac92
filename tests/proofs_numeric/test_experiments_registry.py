"""The experiment registry, run_experiment's argument checks, and informational claim rows."""
import pytest

from proofs_numeric.checks.result import CheckResult
from proofs_numeric.experiments import EXPERIMENTS, get, register, run_experiment
from proofs_numeric.report.model import Report, Section


def test_digits_experiments_are_registered():
    assert {"adam_vs_sign", "shampoo_spectral"} <= set(EXPERIMENTS)
    assert all(e.description for e in EXPERIMENTS.values())


def test_unknown_name_lists_valid_names(tmp_path):
    with pytest.raises(ValueError, match="valid names: .*adam_vs_sign"):
        run_experiment("no_such_experiment", tmp_path)


def test_empty_seed_list_is_refused(tmp_path):
    with pytest.raises(ValueError, match="non-empty"):
        run_experiment("adam_vs_sign", tmp_path, seeds=[])


def test_taken_name_with_another_function_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register("adam_vs_sign")(lambda out, **kw: None)
    assert get("adam_vs_sign").run.__module__.endswith("adam_vs_sign")


def _row(passed, **kw):
    return CheckResult("x", "claim", 0.5, 1.0, passed, ">", **kw)


@pytest.mark.parametrize("informational, ok", [(True, True), (False, False)])
def test_failed_row_fails_the_report_unless_informational(informational, ok):
    rep = Report("t", [Section("s", results=[_row(True), _row(False, informational=informational)])])
    assert rep.ok is ok
    assert _row(False, informational=True).row()["verdict"] == "FAIL (informational)"
