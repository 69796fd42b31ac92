"""The import surface: every advertised name resolves, and star-imports work (issue 12, item 4)."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["kktcheck", "proofs_numeric"])
def test_every_name_in_all_resolves(package):
    mod = importlib.import_module(package)
    missing = [name for name in mod.__all__ if getattr(mod, name, None) is None]
    assert missing == []


@pytest.mark.parametrize("package", ["kktcheck", "proofs_numeric"])
def test_star_import(package):
    """A fresh interpreter, so no earlier import hides a broken lazy name."""
    code = (f"from {package} import *\nimport {package} as m\nnames = set(dir())\n"
            "missing = [n for n in m.__all__ if n not in names]\nassert not missing, missing")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_data_alias_is_the_datasets_package():
    import proofs_numeric as pn
    from proofs_numeric import datasets
    assert pn.data is datasets
    assert callable(pn.data.linearly_separable)
