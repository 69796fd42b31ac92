"""No solver banner on stdout: HiGHS prints its copyright from the constructor of the first Highs() of a
process (before options can be set); kktcheck absorbs it. Run in a fresh process, where the banner appeared."""
from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import numpy as np, kktcheck as kc
X = np.array([[1.0, 0.2], [0.5, 1.0], [-1.0, -0.3], [-0.2, -1.0]]); y = np.array([1.0, 1.0, -1.0, -1.0])
for nm in ("l1", "linf", "l2", "l1"):
    print(nm, round(kc.max_margin_linear(X, y, norm=nm).margin, 6))
"""


def test_linear_max_margin_prints_no_solver_banner():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True)
    lines = out.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == ["l1", "linf", "l2", "l1"], out.stdout
    assert "HiGHS" not in out.stdout + out.stderr and "Copyright" not in out.stdout + out.stderr
