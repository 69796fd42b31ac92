"""Layering (DESIGN section 1): kktcheck never imports proofs_numeric."""
from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1] / "kktcheck"


def forbidden_imports(path: pathlib.Path, root: pathlib.Path = ROOT) -> list[str]:
    """Lines of ``path`` that import proofs_numeric (import x / from x import y / importlib string)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("proofs_numeric"):
            names = [node.value]                                     # importlib.import_module("proofs_numeric...")
        bad += [f"{path.relative_to(root.parent)}:{node.lineno}: {n}" for n in names
                if n == "proofs_numeric" or n.startswith("proofs_numeric.")]
    return bad


def test_no_static_import_of_proofs_numeric():
    files = sorted(ROOT.rglob("*.py"))
    assert len(files) > 5
    bad = [b for f in files for b in forbidden_imports(f)]
    assert not bad, f"kktcheck imports proofs_numeric: {bad}"


def test_scanner_catches_a_violation(tmp_path):
    """Negative control: the scanner flags both import forms and an importlib string."""
    src = tmp_path / "probe.py"
    src.write_text("import os\nfrom proofs_numeric.models import Linear\nimport proofs_numeric\n"
                   "import importlib\nimportlib.import_module('proofs_numeric.flow')\n")
    assert len(forbidden_imports(src, root=tmp_path)) == 3


def test_importing_kktcheck_does_not_load_proofs_numeric():
    code = ("import sys, kktcheck, kktcheck.linear, kktcheck.testing.strategies\n"
            "for name in ('max_margin_linear', 'residual', 'bregman', 'a13_certificate'):\n"
            "    getattr(kktcheck, name)\n"
            "print(sorted(m for m in sys.modules if m.startswith('proofs_numeric')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


PN = pathlib.Path(__file__).resolve().parents[1] / "proofs_numeric"


def pn_imports(path: pathlib.Path, root: pathlib.Path = PN) -> set:
    """The proofs_numeric subpackages/modules ``path`` imports (absolute or relative), e.g. {"checks", "results"}."""
    tree = ast.parse(path.read_text(), filename=str(path))
    pkg = path.relative_to(root.parent).with_suffix("").parts[:-1]        # ('proofs_numeric', 'report')
    out = set()
    for node in ast.walk(tree):
        mods = []
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(pkg[:len(pkg) - node.level + 1]) if node.level else ""
            mod = ".".join(p for p in (base, node.module or "") if p)
            mods = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
        for m in mods:
            parts = m.split(".")
            if parts[0] == "proofs_numeric" and len(parts) > 1:
                out.add(parts[1])
    return out


# (layer, what it must not import): results and plotting are at the bottom; the report renders results without
# importing checks; checks draw with plotting, never report; optimizers know nothing of checks.
RULES = [("results.py", {"checks", "report", "experiments", "optim", "flow", "plotting", "record", "verify"}),
         ("plotting.py", {"checks", "report", "experiments", "optim", "record", "verify"}),
         ("budget.py", {"checks", "report", "experiments", "optim", "flow", "record", "verify"}),
         ("report", {"checks", "experiments", "verify"}),
         ("checks", {"report", "experiments", "verify"}),
         ("optim", {"checks", "report", "experiments"}),
         ("experiments", {"checks", "report", "verify"})]


def test_proofs_numeric_import_directions():
    bad = []
    for where, banned in RULES:
        files = [PN / where] if where.endswith(".py") else sorted((PN / where).rglob("*.py"))
        assert files and all(f.is_file() for f in files), where
        for f in files:
            hit = pn_imports(f) & banned
            if hit and f.name != "result.py":        # checks/result.py: the old path re-exporting results
                bad.append(f"{f.relative_to(PN.parent)} imports {sorted(hit)}")
    assert not bad, bad


def test_import_scanner_resolves_relative_imports(tmp_path):
    """Negative control: a relative import of ..checks from a report module is seen."""
    probe = tmp_path / "proofs_numeric" / "report" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("from ..checks.result import CheckResult\nfrom . import model\nimport proofs_numeric.flow\n")
    assert pn_imports(probe, root=tmp_path / "proofs_numeric") == {"checks", "report", "flow"}
