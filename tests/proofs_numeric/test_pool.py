"""Runs trained in worker processes (experiments._pool) are the runs a single process trains, byte for byte."""
import pytest

from proofs_numeric.experiments import adam_vs_sign as AV
from proofs_numeric.experiments._pool import PrefilledCache, check_workers, prefill

STEPS = 25


def _entries(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.json"))}


def test_two_processes_write_the_same_cache_bytes_as_one(tmp_path):
    jobs = [j for j in AV.run_jobs([(3, 6)], [0], STEPS) if j[1]["name"] in ("GD", "Adam eps=1e-8", "SD")]
    one = PrefilledCache(tmp_path / "one", "adam_vs_sign", AV.CACHE_VERSION)
    for function, kwargs, _ in jobs:          # in-process, one after another
        assert function(str(one.dir), **kwargs) is True
    two = PrefilledCache(tmp_path / "two", "adam_vs_sign", AV.CACHE_VERSION)
    assert prefill(jobs, two, workers=2) == 3
    assert _entries(one.dir) == _entries(two.dir) and len(_entries(two.dir)) == 3
    # a worker's run counts as trained, not reused, when the experiment reads it
    _, _, cfg = jobs[0]
    assert two.load(cfg) is not None and (two.hits, two.misses) == (0, 1)
    assert prefill(jobs, two, workers=2) == 0          # resumable: nothing missing, nothing started


def test_a_changed_run_gives_different_bytes(tmp_path):
    """The byte comparison above can fail: a run with another step count differs."""
    a = PrefilledCache(tmp_path / "a", "adam_vs_sign", AV.CACHE_VERSION)
    b = PrefilledCache(tmp_path / "b", "adam_vs_sign", AV.CACHE_VERSION)
    AV.train_run(str(a.dir), (3, 6), 0, STEPS, "GD")
    AV.train_run(str(b.dir), (3, 6), 0, STEPS + 1, "GD")
    assert list(_entries(a.dir).values()) != list(_entries(b.dir).values())


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_workers_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        check_workers(bad)
