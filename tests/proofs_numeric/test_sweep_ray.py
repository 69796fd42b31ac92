"""The Ray executor on a local Ray instance with 2 CPUs: same merged results as the in-process run, and a
resume after a partial run. Skipped only when the optional "cluster" extra (ray) is not installed."""
import pytest

ray = pytest.importorskip("ray", reason='the optional "cluster" extra is not installed '
                                        '(pip install -e ".[test,cluster]" installs ray; .ci/run does)')

from proofs_numeric.sweep import parse_spec, run_sweep  # noqa: E402

TINY = {"steps": 80, "n_test": 200, "kkt_runs": 0, "d": 8, "n": 16, "n_records": 10}


def tiny_spec():
    return parse_spec({"sweep": {"experiment": "teacher_student", "quick": True, "seeds": 2},
                       "fixed": dict(TINY), "grid": {"width": [6]}})


def test_ray_executor_resumes_an_in_process_sweep_with_the_same_results(tmp_path):
    reference = run_sweep(tiny_spec(), tmp_path / "local", progress=False)
    assert reference.ran == 2
    part = run_sweep(tiny_spec(), tmp_path / "ray", progress=False, only=1)     # interrupted after one task
    assert part.ran == 1
    rest = run_sweep(tiny_spec(), tmp_path / "ray", executor="ray", workers=2, progress=False)
    assert (rest.ran, rest.skipped, rest.failures) == (1, 1, [])
    assert not ray.is_initialized()                        # the executor shut its local instance down
    assert (tmp_path / "ray" / "results.jsonl").read_bytes() == (tmp_path / "local" / "results.jsonl").read_bytes()
    hosts = (tmp_path / "ray" / "timing.jsonl").read_text()
    assert hosts.count('"wall_time_s": ') == 2
