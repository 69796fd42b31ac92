"""The device request (proofs_numeric.device) at every public boundary of the engine: CPU requests change no
number, a CUDA request without CUDA fails before any work, bad requests are refused, and every tensor the
training loops create from scratch is placed on the requested device explicitly."""
import importlib
import math
import traceback

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from proofs_numeric.datasets import teacher_student
from proofs_numeric.device import model_on, resolve_device
from proofs_numeric.experiments import batched
from proofs_numeric.experiments import teacher_student as ts
from proofs_numeric.flow import integrate
from proofs_numeric.flow.cases import separated_case
from proofs_numeric.models import TwoLayerReLU

integrate_module = importlib.import_module("proofs_numeric.flow.integrate")   # the module, not the function
needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: this is the error path")
NO_CUDA = r"device='cuda' but torch\.cuda\.is_available\(\) is False: this torch build is CPU-only; install a CUDA"
CPU_REQUESTS = [None, "cpu", torch.device("cpu")]


class Untouchable:
    """An input that fails the test when anything reads it: proves an error came before any work."""

    def __getattr__(self, name):
        raise AssertionError(f"the input was read ({name}) before the device was checked")


def test_cpu_requests_resolve_to_the_cpu():
    for req in CPU_REQUESTS + ["cpu:0"]:
        assert resolve_device(req) == torch.device("cpu")


@pytest.mark.parametrize("bad, error, message", [
    ("gpu", ValueError, r"device='gpu' is not a device: use 'cpu', 'cuda' or 'cuda:N'"),
    ("cuda:x", ValueError, r"device='cuda:x' is not a device"),
    ("meta", ValueError, r"only 'cpu' and 'cuda' .* device type 'meta'"),
    (3, TypeError, r"device must be None, 'cpu', 'cuda', 'cuda:N' or a torch.device, got int 3"),
    (True, TypeError, r"got bool True"),
])
def test_bad_requests_are_refused_naming_the_argument(bad, error, message):
    with pytest.raises(error, match=message):
        resolve_device(bad)


@needs_no_cuda
def test_cuda_without_cuda_names_the_argument_and_the_fix():
    with pytest.raises(ValueError, match=NO_CUDA):
        resolve_device("cuda")
    with pytest.raises(ValueError, match=r"--device cuda:1 but torch.cuda.is_available\(\) is False.*use --device cpu"):
        resolve_device("cuda:1", argument="--device")


@needs_no_cuda
def test_integrate_checks_the_device_before_any_work(monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("integrate validated the model and data before the device")
    monkeypatch.setattr(integrate_module, "prepare", no_work)
    with pytest.raises(ValueError, match=NO_CUDA):
        integrate(Untouchable(), Untouchable(), Untouchable(), device="cuda")
    with pytest.raises(ValueError, match="'gpu' is not a device"):
        integrate(Untouchable(), Untouchable(), Untouchable(), device="gpu")


@needs_no_cuda
def test_train_batched_checks_the_device_before_any_work():
    u = Untouchable()
    with pytest.raises(ValueError, match=NO_CUDA):
        batched.train_batched(u, u, u, u, ["GD"], lr={"GD": 0.1}, steps=5, device="cuda")
    with pytest.raises(TypeError, match="got int 3"):
        batched.train_batched(u, u, u, u, ["GD"], lr={"GD": 0.1}, steps=5, device=3)


@needs_no_cuda
def test_teacher_student_checks_the_device_before_any_work(tmp_path):
    out = tmp_path / "ts"
    with pytest.raises(ValueError, match=NO_CUDA):
        ts.run(out, seeds=[0], quick=True, progress=False, config={"steps": 5}, device="cuda")
    assert not out.exists()


def _trajectory_arrays(tr):
    return [tr.log_loss, tr.margin, tr.soft_margin, tr.alignment, tr.s, tr.log_t, tr.steps,
            *(p.numpy() for p in tr.params), *(p.numpy() for _, ps in tr.snapshots for p in ps)]


@pytest.mark.parametrize("norm", ["linf", "l1"])
def test_integrate_on_a_cpu_request_is_bit_identical_and_returns_cpu_tensors(norm, one_thread):
    m, th, data = separated_case(0)
    runs = [integrate(m, [p.clone() for p in th], data, norm=norm, target_log_loss=-200.0, max_steps=200,
                      snapshot_every=25, margin_norms=(), device=req) for req in CPU_REQUESTS]
    assert runs[0].info["ridge_steps"] > 0            # the CPU linearization (ridge LP) path ran too
    for tr in runs:
        assert tr.info["device"] == "cpu"
        assert all(p.device.type == "cpu" and p.dtype == torch.float64 for p in tr.params)
        for a, b in zip(_trajectory_arrays(runs[0]), _trajectory_arrays(tr)):
            np.testing.assert_array_equal(a, b)


def _batch(S=2, k=8, d=30):
    data = [teacher_student(seed=s) for s in range(S)]
    inits = [init for s in range(S) for init in [ts.init_params(s, k, d, 0.1)]]
    W0, a0 = torch.stack([w for w, _ in inits]), torch.stack([a for _, a in inits])
    return W0, a0, torch.stack([ds.X for ds in data]), torch.stack([ds.y for ds in data])


def test_train_batched_on_a_cpu_request_is_bit_identical(one_thread):
    W0, a0, X, y = _batch()
    runs = [batched.train_batched(W0, a0, X, y, ["CD", "SD"], switch_to=[None, None], lr={"CD": .1, "SD": .1},
                                  steps=120, n_records=10, device=req) for req in CPU_REQUESTS]
    for br in runs:
        assert br.W.device.type == "cpu" and br.W.dtype == torch.float64
        for a, b in [(runs[0].log_loss, br.log_loss), (runs[0].W, br.W), (runs[0].a, br.a),
                     (runs[0].fit_step, br.fit_step), (runs[0].drop_steps, br.drop_steps),
                     *((runs[0].margins[p], br.margins[p]) for p in batched.NORMS),
                     *((runs[0].worst_drop[p], br.worst_drop[p]) for p in batched.NORMS)]:
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


FACTORIES = {torch.tensor, torch.full, torch.zeros, torch.ones, torch.empty, torch.arange, torch.eye,
             torch.linspace, torch.as_tensor, torch.rand, torch.randn}


class PlacementAudit(TorchFunctionMode):
    """Records every tensor factory call made from ``files`` (paths containing one of the strings) that does
    not place its tensor on ``device`` explicitly (``device=`` missing, None or another device)."""

    def __init__(self, device, files):
        super().__init__()
        self.device, self.files, self.misplaced = torch.device(device), files, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in FACTORIES:
            caller = traceback.extract_stack(limit=2)[0]
            req = kwargs.get("device")
            if any(f in caller.filename for f in self.files) and (req is None or torch.device(req) != self.device):
                self.misplaced.append(f"{caller.filename.split('proofs_numeric')[-1]}:{caller.lineno} {func.__name__}")
        return func(*args, **kwargs)


LOOP_FILES = ("proofs_numeric/experiments/batched.py", "proofs_numeric/flow/", "proofs_numeric/losses.py")


def test_every_tensor_the_batched_loop_creates_is_placed_on_the_device(one_thread):
    W0, a0, X, y = _batch(S=3)
    with PlacementAudit("cpu", LOOP_FILES) as audit:
        batched.train_batched(W0, a0, X, y, ["GD", "CD", "SD"], lr={"GD": .1, "CD": .1, "SD": .1}, steps=40,
                              device="cpu")
    assert audit.misplaced == []
    with PlacementAudit("cpu", LOOP_FILES) as control:     # the audit can fail: a tracker built without a device
        batched.SoftDropTracker(3)
    assert len(control.misplaced) == 3 and "batched.py" in control.misplaced[0]


def test_the_flow_places_its_field_and_creates_no_unplaced_tensor(monkeypatch, one_thread):
    fields = []

    class Spy(integrate_module.SteepestField):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            fields.append(self)
    monkeypatch.setattr(integrate_module, "SteepestField", Spy)
    m, th, data = separated_case(0)
    with PlacementAudit("cpu", LOOP_FILES) as audit:
        tr = integrate(m, th, data, norm="linf", target_log_loss=-100.0, max_steps=100, device=torch.device("cpu"))
    assert audit.misplaced == [] and tr.info["ridge_steps"] > 0
    f = fields[0]
    assert f.device == torch.device("cpu") and f.X.device == f.device and f.y.device == f.device
    assert f.X.dtype == torch.float64 and torch.equal(f.X, data[0].double())
    assert f.X is f.host_X and f.fm is f.host_fm         # on the CPU the ridge LP's inputs are the same objects


def test_model_on_leaves_the_cpu_model_alone_and_never_moves_the_callers_model():
    model = TwoLayerReLU(4, 3, train_output=False)
    assert model_on(model, torch.device("cpu")) is model
    moved = model_on(model, torch.device("meta"))      # meta stands in for a GPU: a device with no values
    assert moved is not model and moved.a_frozen.device.type == "meta"
    assert model.a_frozen.device.type == "cpu" and not math.isnan(float(model.a_frozen.sum()))
