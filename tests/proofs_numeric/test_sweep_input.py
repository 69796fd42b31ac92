"""Bad sweep input fails with a clear error before any task starts; the CLI turns it into exit code 2."""
import sys

import pytest

from proofs_numeric.cli import main
from proofs_numeric.sweep import parse_spec, run_sweep
from proofs_numeric.sweep.executors import INSTALL_HINT, make_executor
from proofs_numeric.sweep.spec import load_spec, validate


def spec_dict(**grid):
    return {"sweep": {"experiment": "teacher_student", "quick": True, "seeds": 1},
            "fixed": {"steps": 5, "kkt_runs": 0}, "grid": grid or {"width": [4]}}


def test_tasks_are_the_grid_times_seed_groups():
    spec = parse_spec({"sweep": {"experiment": "teacher_student", "seeds": [3, 4, 5], "seeds_per_task": 2},
                       "grid": {"width": [4, 8], "steps": [10, 20]}})
    tasks = spec.tasks()
    assert [(t.config["width"], t.config["steps"], t.seeds) for t in tasks[:4]] == [
        (4, 10, (3, 4)), (4, 10, (5,)), (4, 20, (3, 4)), (4, 20, (5,))]
    assert len(tasks) == 8 and len({t.task_id for t in tasks}) == 8
    again = parse_spec({"sweep": {"experiment": "teacher_student", "seeds": [3, 4, 5], "seeds_per_task": 2},
                        "grid": {"width": [4, 8], "steps": [10, 20]}})
    assert [t.task_id for t in again.tasks()] == [t.task_id for t in tasks]


@pytest.mark.parametrize("data, message", [
    ({"sweep": {"experiment": "teacher-student"}, "grid": {"width": [4]}}, "unknown experiment 'teacher-student'"),
    (spec_dict(widht=[4]), r"unknown field\(s\) \['widht'\].*valid fields: .*width"),
    (spec_dict(width=[]), "width must be a non-empty list"),
    ({"sweep": {"experiment": "teacher_student"}}, "neither a \\[grid\\] nor \\[\\[points\\]\\]"),
    ({"sweep": {"experiment": "teacher_student", "seeds": []}, "grid": {"width": [4]}}, "seeds is empty"),
    ({"sweep": {"experiment": "teacher_student", "seed": 2}, "grid": {"width": [4]}}, r"unknown key\(s\) \['seed'\]"),
])
def test_bad_spec_is_a_value_error_naming_the_problem(data, message):
    with pytest.raises(ValueError, match=message):
        validate(parse_spec(data))


def test_unwritable_out_dir_fails_before_any_task(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="is a file"):
        run_sweep(parse_spec(spec_dict()), blocker / "out", progress=False)
    assert not list(tmp_path.glob("**/records"))


def test_missing_ray_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)          # as if the extra were not installed
    with pytest.raises(ValueError, match=r'pip install -e "\.\[cluster\]"'):
        make_executor("ray")
    assert "cluster" in INSTALL_HINT


def test_unreachable_ray_address_fails_before_ray_starts():
    pytest.importorskip("ray", reason='the cluster extra (ray) is not installed: pip install -e ".[cluster]"')
    with pytest.raises(ValueError, match="cannot reach the Ray head node at 127.0.0.1:9"):
        make_executor("ray", address="127.0.0.1:9")
    with pytest.raises(ValueError, match="expected 'auto', 'HOST:PORT'"):
        make_executor("ray", address="no-port")
    with pytest.raises(ValueError, match="--address is for --executor ray only"):
        make_executor("process", address="127.0.0.1:9")


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the error path is for machines without one")
    with pytest.raises(ValueError, match="torch.cuda.is_available\\(\\) is False"):
        run_sweep(parse_spec(spec_dict()), tmp_path, device="cuda", progress=False)
    assert not (tmp_path / "records").exists()


def test_cli_bad_input_exits_2(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('[sweep]\nexperiment = "teacher_student"\n[grid]\nwidth = [4]\nalpha = [0.1]\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o")]) == 2
    assert "unknown field(s) ['alpha']" in capsys.readouterr().err
    spec.write_text("[sweep\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o")]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert main(["sweep-report", str(tmp_path / "nothing")]) == 2
    assert "holds no sweep" in capsys.readouterr().err


def test_example_sweeps_are_valid():
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "sweeps"
    specs = sorted(root.glob("*.toml"))
    assert len(specs) >= 2
    for p in specs:
        assert load_spec(p).tasks()
