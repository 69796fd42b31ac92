"""The run cache shared by all experiments: keys hold configuration and code version, writes are atomic,
unusable entries are recomputed with a warning."""
import json
import warnings

import pytest

from proofs_numeric.experiments.cache import CacheWarning, RunCache

CFG = {"algo": "GD", "seed": 3, "steps": 10}
PAYLOAD = {"log_loss": [0.5, 0.25], "name": "GD"}


def test_round_trip_counts_hits_and_misses(tmp_path):
    c = RunCache(tmp_path, "exp", 1)
    assert c.load(CFG) is None
    c.save(CFG, PAYLOAD)
    assert c.load(CFG) == PAYLOAD
    assert (c.hits, c.misses) == (1, 1)
    assert "1 of 2 runs reused" in c.summary_line()
    assert [p.name for p in tmp_path.iterdir()] == [c.path(CFG).name]   # no temporary file left behind


def test_code_version_change_invalidates(tmp_path):
    RunCache(tmp_path, "exp", 1).save(CFG, PAYLOAD)
    bumped = RunCache(tmp_path, "exp", 2)
    assert bumped.key(CFG) != RunCache(tmp_path, "exp", 1).key(CFG)
    assert bumped.load(CFG) is None and bumped.misses == 1
    assert RunCache(tmp_path, "other_exp", 1).load(CFG) is None    # experiment name is part of the key too
    assert RunCache(tmp_path, "exp", 1).key(dict(CFG, seed=4)) != RunCache(tmp_path, "exp", 1).key(CFG)


def test_key_includes_package_version(tmp_path, monkeypatch):
    from proofs_numeric.experiments import cache as cache_mod
    c = RunCache(tmp_path, "exp", 1)
    k1 = c.key(CFG)
    monkeypatch.setattr(cache_mod, "package_version", lambda: "9.9.9")
    assert c.key(CFG) != k1


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", json.dumps({"payload": PAYLOAD})])
def test_corrupt_or_foreign_entry_is_recomputed_with_a_warning(tmp_path, text):
    c = RunCache(tmp_path, "exp", 1)
    c.path(CFG).write_text(text)
    with pytest.warns(CacheWarning, match="unusable"):
        assert c.load(CFG) is None
    assert c.misses == 1


def test_entry_with_wrong_content_is_rejected_by_validate(tmp_path):
    c = RunCache(tmp_path, "exp", 1)
    c.save(CFG, {"name": "SD"})

    def validate(p):
        if p.get("name") != "GD":
            raise ValueError("wrong run")
    with pytest.warns(CacheWarning, match="wrong run"):
        assert c.load(CFG, validate) is None
    c.save(CFG, PAYLOAD)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert c.load(CFG, validate) == PAYLOAD
