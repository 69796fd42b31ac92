"""The device of a sweep and of `proofs-numeric experiment`: asked for in the spec or on the command line,
refused before any task when CUDA is absent, recorded in every record, and never mixed on resume."""
import json

import pytest
import torch

from proofs_numeric.cli import main
from proofs_numeric.sweep import parse_spec, run_sweep
from proofs_numeric.sweep import runner
from proofs_numeric.sweep.adapters import Adapter, adapter_for
from proofs_numeric.sweep.records import record_path, write_json_atomic

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: this is the error path")
TINY = {"steps": 20, "n_test": 50, "kkt_runs": 0, "d": 6, "n": 10, "n_records": 5, "width": 4}


def spec_data(**sweep):
    return {"sweep": {"experiment": "teacher_student", "quick": True, "seeds": 1, **sweep}, "fixed": dict(TINY),
            "grid": {"steps": [20]}}


def write_spec(tmp_path, **sweep):
    lines = [f"{k} = {json.dumps(v)}" for k, v in spec_data(**sweep)["sweep"].items()]
    text = "[sweep]\n" + "\n".join(lines) + "\n[fixed]\n" + "\n".join(f"{k} = {v}" for k, v in TINY.items())
    path = tmp_path / "spec.toml"
    path.write_text(text + "\n[grid]\nsteps = [20]\n")
    return path


@needs_no_cuda
@pytest.mark.parametrize("args, sweep, message", [
    (["--device", "cuda"], {}, "--device cuda but torch.cuda.is_available() is False"),
    (["--device", "gpu"], {}, "--device gpu is not a device"),
    ([], {"device": "cuda"}, "[sweep] device='cuda' but torch.cuda.is_available() is False"),
])
def test_sweep_cli_refuses_cuda_without_cuda_before_any_task(tmp_path, capsys, args, sweep, message):
    out = tmp_path / "out"
    assert main(["sweep", str(write_spec(tmp_path, **sweep)), "--out", str(out), "--no-progress", *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_spec_device_must_be_a_string():
    with pytest.raises(ValueError, match=r'\[sweep\] device must be a string: "cpu", "cuda" or "cuda:N", got 0'):
        parse_spec(spec_data(device=0))


@needs_no_cuda
def test_experiment_cli_refuses_cuda_before_any_work(tmp_path, capsys):
    out = tmp_path / "exp"
    assert main(["experiment", "teacher_student", "--quick", "--device", "cuda", "--out", str(out)]) == 2
    assert "--device cuda but torch.cuda.is_available() is False" in capsys.readouterr().err
    assert not out.exists()


def test_a_cpu_sweep_records_its_device_and_a_cuda_record_blocks_its_resume(tmp_path, one_thread):
    spec = parse_spec(spec_data(device="cpu"))
    summary = run_sweep(spec, tmp_path, progress=False)
    assert summary.ok and summary.ran == 1
    (task,) = spec.tasks()
    rec = json.loads(record_path(tmp_path, task.task_id).read_text())
    assert rec["device"] == "cpu" and "device" not in rec["config"]
    assert json.loads((tmp_path / runner.SPEC_COPY).read_text())["device"] == "cpu"
    assert run_sweep(spec, tmp_path, progress=False).skipped == 1         # same device: resumes
    write_json_atomic(record_path(tmp_path, task.task_id), [dict(rec, device="cuda:0")])
    with pytest.raises(ValueError, match=r"already holds finished tasks run on another device \(1 on cuda\); this "
                                         r"run asks for cpu\. Mixing devices in one sweep is refused"):
        run_sweep(spec, tmp_path, progress=False)
    write_json_atomic(record_path(tmp_path, task.task_id), [dict(rec, device="cuda:0", status="error")])
    assert run_sweep(spec, tmp_path, progress=False).ran == 1             # a failed task is simply rerun


def test_the_device_is_not_a_field_and_reaches_run_only_when_it_takes_one(monkeypatch, tmp_path):
    ts, other = adapter_for("teacher_student"), adapter_for("adam_vs_sign")
    assert ts.accepts_device and not other.accepts_device and "device" not in ts.fields
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['device'\]"):
        run_sweep(parse_spec(dict(spec_data(), fixed={"device": "cpu"})), tmp_path, progress=False)
    monkeypatch.setattr(runner, "resolve_device", lambda device, argument: torch.device("cuda", 0))
    assert runner.check_device("cuda", ts) == "cuda:0"
    with pytest.raises(ValueError, match="experiment 'adam_vs_sign' takes no device argument"):
        runner.check_device("cuda", other)
    seen = {}
    fake = Adapter("fake", lambda out, **kw: seen.update(kw), (), (), False, True)
    fake.call("out", {}, [0], True, device="cuda:0")
    assert seen["device"] == "cuda:0"
