"""integrate runs inside kktcheck.single_threaded by default (threads=1), leaves the pools alone with threads=None,
and refuses other thread counts."""
import pytest
import torch
from threadpoolctl import threadpool_info


def _blas_threads():
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_integrate_runs_single_threaded_and_restores(monkeypatch):
    from proofs_numeric.flow import integrate
    from proofs_numeric.flow.cases import linear_case
    import importlib
    I = importlib.import_module("proofs_numeric.flow.integrate")
    seen = []
    real_run = I._run

    def spy(*args, **kw):
        seen.append((torch.get_num_threads(), _blas_threads()))
        return real_run(*args, **kw)
    monkeypatch.setattr(I, "_run", spy)
    before = torch.get_num_threads()
    m, th, data = linear_case(0)
    integrate(m, th, data, norm="l2", target_log_loss=-10.0, margin_norms=())
    integrate(m, th, data, norm="l2", target_log_loss=-10.0, margin_norms=(), threads=None)
    assert seen[0][0] == 1 and all(n == 1 for n in seen[0][1])
    assert seen[1][0] == before and torch.get_num_threads() == before


@pytest.mark.parametrize("bad", [2, 0, "one"])
def test_integrate_refuses_other_thread_counts(bad):
    from proofs_numeric.flow import integrate
    from proofs_numeric.flow.cases import linear_case
    m, th, data = linear_case(0)
    with pytest.raises(ValueError, match="threads must be 1"):
        integrate(m, th, data, threads=bad)
