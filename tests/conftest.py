"""Hypothesis profiles for the whole suite, in one place (issue 12, item 6).

* ``ci`` (default): deadline=None (shared 2-core machines make per-example timing meaningless),
  max_examples=30 for tests without their own cost cap, derandomize=False.
* ``dev``: deadline=None, max_examples=300: a longer local hunt (``HYPOTHESIS_PROFILE=dev pytest``).

Tests never repeat ``deadline=None``; a test whose examples are expensive (a convex program, a trajectory)
states only its cost cap, ``@settings(max_examples=N)``, which inherits the loaded profile's other settings.
"""
from __future__ import annotations

import contextlib
import io
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def run_cli():
    """``run_cli(main, argv) -> (exit code, stderr text)``: a command line's ``main`` called in-process with
    stdout discarded; argparse's SystemExit becomes its code. Session-scoped, so hypothesis tests can use it
    (capsys is reset per test, not per example)."""
    def run(main, argv):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code
        return code, err.getvalue()
    return run
