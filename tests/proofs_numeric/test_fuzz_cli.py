"""Fuzzing the ``proofs-numeric`` command line in-process (issue 12, fuzzing): experiment and verify with good
or bad names, output paths, --seeds, --max-seconds and run-cache files give exit code 0 when all are good, else
exit code 2 with one last line ``proofs-numeric...: error: ...`` naming one of the bad arguments; never a
traceback. A run-cache entry holding valid JSON with the wrong content is recomputed with a warning, never
trusted. Suites and experiments are small fakes (the real ones are tested elsewhere)."""
from __future__ import annotations

import itertools
import json
import warnings

import pytest
from hypothesis import example, given, strategies as st

from proofs_numeric import cli
from proofs_numeric.checks.registry import Suite
from proofs_numeric.experiments import base, run_experiment
from proofs_numeric.experiments.cache import CacheWarning, RunCache
from proofs_numeric.results import CheckResult

STEPS = 3          # what the fake experiment's one run "trains" to; a cache entry must hold exactly this

NAMES = {"probe": None, "nope": "unknown experiment 'nope'", "": "unknown experiment ''"}
OUTS = {"new": None, "afile": "exists and is not a directory", "afile/sub": "is a file", "": "no output directory",
        "nul": "NUL byte", "/proc/x": "cannot create output directory"}
SEEDS = {None: None, "2": None, "0": "--seeds expects a positive integer", "-1": "--seeds expects",
         "nan": "--seeds expects", "1e3": "--seeds expects"}
MAX_SECONDS = {None: None, "60": None, "0": "--max-seconds expects", "-2": "--max-seconds expects",
               "nan": "--max-seconds expects", "inf": "--max-seconds expects", "x": "--max-seconds expects"}
SUITES = {None: None, "fast": None, "nope": "unknown suite 'nope'"}
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=5),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                           max_leaves=8)


def _probe(out, *, seeds=None, quick=False, progress=True):
    """One cached run of STEPS steps; the claim holds only with the right payload."""
    cache = RunCache(out / "cache", "cli_probe", 1)

    def validate(payload):
        if payload != STEPS:
            raise ValueError(f"payload {payload!r} is not a finished run of {STEPS} steps")
    steps = cache.load({"run": 0}, validate)
    if steps is None:
        steps = STEPS
        cache.save({"run": 0}, steps)
    return base.ExperimentResult("probe", [CheckResult("probe-claim", "the run finished", steps, STEPS, True, ">=")])


def _fast_suite(quick, figdir):
    return [CheckResult("fast-check", "holds", 0.0, 1.0, True)]


@pytest.fixture(scope="module")
def fakes(tmp_path_factory):
    """The fake experiment 'probe' and suite 'fast' in place of the real registries, for this module."""
    mp = pytest.MonkeyPatch()
    base.EXPERIMENTS["probe"] = base.Experiment("probe", _probe, "probe")
    mp.setattr("proofs_numeric.verify.load_experiments", lambda: ({"probe": None}, run_experiment))
    mp.setattr("proofs_numeric.verify.load_suites", lambda: {"fast": Suite("fast", "Fast", _fast_suite)})
    d = tmp_path_factory.mktemp("pn_cli_fuzz")
    (d / "afile").write_text("a file, not a directory")
    yield d
    mp.undo()
    del base.EXPERIMENTS["probe"]


_FRESH = itertools.count()


def _out(d, key):
    return {"new": str(d / f"out{next(_FRESH)}"), "afile": str(d / "afile"), "afile/sub": str(d / "afile" / "sub"),
            "": "", "nul": str(d / "a\x00b"), "/proc/x": "/proc/x"}[key]


@given(command=st.sampled_from(["experiment", "verify"]), name=st.sampled_from(list(NAMES)),
       out=st.sampled_from(list(OUTS)), seeds=st.sampled_from(list(SEEDS)),
       max_seconds=st.sampled_from(list(MAX_SECONDS)), suite=st.sampled_from(list(SUITES)))
@example(command="experiment", name="probe", out="new", seeds="2", max_seconds="60", suite=None)
@example(command="verify", name="probe", out="new", seeds=None, max_seconds=None, suite="fast")
@example(command="experiment", name="probe", out="", seeds=None, max_seconds=None, suite=None)
@example(command="experiment", name="probe", out="nul", seeds=None, max_seconds=None, suite=None)
def test_proofs_numeric_cli_fuzz(fakes, run_cli, command, name, out, seeds, max_seconds, suite):
    argv = [command] + ([name] if command == "experiment" else []) + ["--out", _out(fakes, out), "--no-progress"]
    argv += [] if max_seconds is None else ["--max-seconds", max_seconds]
    bad = [OUTS[out], MAX_SECONDS[max_seconds]]
    if command == "experiment":
        argv += [] if seeds is None else ["--seeds", seeds]
        bad += [NAMES[name], SEEDS[seeds]]
    else:
        argv += [] if suite is None else ["--suite", suite]
        bad += [SUITES[suite]]
    expected = [e for e in bad if e is not None]
    code, err = run_cli(cli.main, argv)
    assert "Traceback" not in err
    if not expected:
        assert code == 0, err
        return
    assert code == 2, f"{argv}: exit code {code}, expected 2 naming one of {expected}"
    last = [line for line in err.splitlines() if line.strip()][-1]
    assert last.startswith("proofs-numeric") and ": error: " in last and any(e in last for e in expected), last


@given(content=JSON_VALUES, with_key=st.booleans())
@example(content=STEPS + 1, with_key=True)          # the right key, a payload of the wrong run
@example(content={"payload": STEPS}, with_key=False)  # the right payload, no key: not trusted either
def test_a_cache_entry_with_valid_json_but_wrong_content_is_recomputed(fakes, run_cli, content, with_key):
    out = fakes / f"cache_fuzz_{abs(hash(json.dumps(content))) % 10**9}_{with_key}"
    cache = RunCache(out / "cache", "cli_probe", 1)
    entry = {"key": cache.material({"run": 0}), "payload": content} if with_key else content
    if with_key and content == STEPS:
        return                                          # that is a valid entry
    cache.path({"run": 0}).parent.mkdir(parents=True, exist_ok=True)
    cache.path({"run": 0}).write_text(json.dumps(entry))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, err = run_cli(cli.main, ["experiment", "probe", "--out", str(out), "--no-progress"])
    assert code == 0 and "Traceback" not in err
    assert any(issubclass(w.category, CacheWarning) and "unusable" in str(w.message) for w in caught)
    assert json.loads(cache.path({"run": 0}).read_text())["payload"] == STEPS       # overwritten by the rerun
