"""Where the tasks run: in this process, in a local process pool, or on Ray.

Each executor's ``map(tasks, work_root, version, device)`` yields one record per task as tasks finish
(in completion order); the driver writes each record as soon as it arrives (``records.save_record``).
* ``local``: one task after the other in this process (small grids, debugging).
* ``process``: ``concurrent.futures.ProcessPoolExecutor`` with ``workers`` processes started by "spawn"
  (a fresh interpreter per worker: no torch state inherited through fork).
* ``ray``: ``ray.init(address=...)``: None starts a local Ray instance with ``workers`` CPUs; "auto" joins
  the cluster this machine belongs to (``ray start --head`` / ``ray start --address``); "HOST:PORT" or
  "ray://HOST:PORT" a given head node. One Ray task per sweep task (num_cpus=1; num_gpus=1 when the sweep
  trains on CUDA). Ray is imported only here, only when chosen; without it the error says
  ``pip install -e ".[cluster]"``.
A worker that dies (process pool broken, Ray worker lost after Ray's own retries) gives an "error" record
for its task; the other tasks go on.
"""
from __future__ import annotations

import os
import socket
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

from .records import execute_task

EXECUTORS = ("local", "process", "ray")
INSTALL_HINT = 'the Ray executor needs the optional "cluster" extra: pip install -e ".[cluster]"'


def lost_record(task, version: str, exc: BaseException, device: str | None = None) -> dict:
    """The record of a task whose worker died before returning (status "error")."""
    return dict(task.identity, task_id=task.task_id, code_version=version, device=device or "cpu", claims=[],
                finals={}, series=[], status="error", error=f"worker lost: {type(exc).__name__}: {exc}",
                traceback=None, wall_time_s=None, host=None,
                finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


class LocalExecutor:
    name = "local"

    def map(self, tasks, work_root, version, device=None):
        for t in tasks:
            yield execute_task(t, work_root, version, device)

    def close(self):
        pass


class ProcessExecutor:
    name = "process"

    def __init__(self, workers: int):
        import multiprocessing
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

    def map(self, tasks, work_root, version, device=None):
        futures = {self.pool.submit(execute_task, t, work_root, version, device): t for t in tasks}
        for f in as_completed(futures):
            try:
                yield f.result()
            except Exception as exc:  # noqa: BLE001 - BrokenProcessPool: the worker died
                yield lost_record(futures[f], version, exc, device)

    def close(self):
        self.pool.shutdown(wait=False, cancel_futures=True)


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """For "HOST:PORT" or "ray://HOST:PORT": a TCP connection within ``timeout`` s, else ValueError."""
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--address {address!r}: expected 'auto', 'HOST:PORT' or 'ray://HOST:PORT'")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ValueError(f"cannot reach the Ray head node at {address} ({exc.strerror or exc}); start it with "
                         "`ray start --head` or pass the address `ray status` prints") from None


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None, workers: int, gpu: bool = False):
        try:
            import ray
        except ImportError:
            raise ValueError(INSTALL_HINT) from None
        self.ray = ray
        if address not in (None, "auto"):
            check_reachable(address)
        kwargs = dict(include_dashboard=False, log_to_driver=False)
        try:
            if address is None:
                ray.init(num_cpus=workers, **kwargs)
            else:
                ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError) as exc:
            raise ValueError(f"cannot connect to Ray at {address or 'a new local instance'}: {exc}") from None
        self.remote = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0)(execute_task)

    def map(self, tasks, work_root, version, device=None):
        refs = {self.remote.remote(t, work_root, version, device): t for t in tasks}
        pending = list(refs)
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            try:
                yield self.ray.get(done[0])
            except Exception as exc:  # noqa: BLE001 - a lost worker or node after Ray's retries
                yield lost_record(refs[done[0]], version, exc, device)

    def close(self):
        self.ray.shutdown()


def make_executor(kind: str, address: str | None = None, workers: int | None = None, gpu: bool = False):
    """The executor ``kind`` ("local", "process", "ray"); ValueError for an unknown kind, a missing Ray, an
    unreachable Ray address, or ``address`` given without ``ray``. ``gpu``: the tasks train on CUDA (Ray then
    reserves one GPU per task, so tasks share no GPU; the other executors use the device they are given)."""
    if kind not in EXECUTORS:
        raise ValueError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTORS)}")
    if address is not None and kind != "ray":
        raise ValueError("--address is for --executor ray only")
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if kind == "local":
        return LocalExecutor()
    if kind == "process":
        return ProcessExecutor(workers)
    return RayExecutor(address, workers, gpu)


__all__ = ["EXECUTORS", "INSTALL_HINT", "make_executor", "check_reachable", "LocalExecutor", "ProcessExecutor",
           "RayExecutor", "lost_record"]
