"""Where the cells run: a pool of local processes (the default) or a Ray cluster.

Both are context managers with a `description` and `outcomes(cells)`, which
yields each cell's Outcome as soon as the cell finishes (finishing order). A
worker runs one cell at a time on one core: the pool's processes start with
one BLAS / OpenMP thread each (unless the user set those variables), and a Ray
task asks for one CPU (Ray then sets OMP_NUM_THREADS=1 itself).
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from types import ModuleType
from typing import Any

from superpose.errors import UserError
from superpose.sweep.cells import Cell, Outcome, run_cell

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
RAY_MISSING = ("--ray needs Ray, which is not installed: pip install 'superpose[ray]' (or pip install ray); "
               "without --ray the sweep runs on this machine's cores")
LOOPBACK = "127.0.0.1"  # a cluster this sweep starts listens here only


@contextlib.contextmanager
def _one_thread_each() -> Iterator[None]:
    """Set THREAD_VARIABLES to 1 where unset while worker processes start (they
    inherit the environment), so that n workers use n cores, not n x cores."""
    unset = [name for name in THREAD_VARIABLES if name not in os.environ]
    os.environ.update({name: "1" for name in unset})
    try:
        yield
    finally:
        for name in unset:
            del os.environ[name]


class LocalExecutor:
    """`jobs` worker processes on this machine. They are spawned, not forked: the
    parent runs a progress bar's thread, and a fork copies locks that thread may hold."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.description = f"{jobs} local process{'es' if jobs > 1 else ''}"
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=multiprocessing.get_context("spawn"))
        return self

    def __exit__(self, *exc: Any) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def outcomes(self, cells: list[Cell]) -> Iterator[Outcome]:
        with _one_thread_each():  # the workers start during these submits
            futures = [self._pool.submit(run_cell, cell) for cell in cells]
        for future in as_completed(futures):
            yield future.result()


def import_ray() -> ModuleType:
    """The ray module, or a UserError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(RAY_MISSING) from None
    return ray


class RayExecutor:
    """One Ray task per cell. `address`: "local" starts a Ray instance on this
    machine with `jobs` CPUs for this sweep (and stops it after); "auto"
    connects to a running cluster (`ray start --head`, or RAY_ADDRESS) and
    starts a local instance when there is none; anything else is a cluster's
    address. When this process is already connected (ray.init called by the
    caller), that connection is used and left open. A remote cluster's workers
    need the same version of superpose installed (run_cell checks the code version)."""

    def __init__(self, address: str, jobs: int):
        self.address, self.jobs = address, jobs
        self.description = ""
        self._ray = import_ray()
        self._connected_here = False

    def __enter__(self) -> RayExecutor:
        ray = self._ray
        if not ray.is_initialized():
            self._connect()
            self._connected_here = True
        cpus = int(ray.cluster_resources().get("CPU", 0))
        self.description = f"Ray, {cpus} CPU{'s' if cpus != 1 else ''}"
        return self

    def _connect(self) -> None:
        quiet = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": False}
        local = {"address": "local", "num_cpus": self.jobs, "_node_ip_address": LOOPBACK, **quiet}
        if self.address == "local":
            self._ray.init(**local)
            return
        try:
            self._ray.init(address=self.address, **quiet)
        except ConnectionError as error:
            if self.address != "auto":
                raise UserError(f"--ray {self.address}: cannot connect to a Ray cluster there: {error}") from None
            self._ray.init(**local)

    def __exit__(self, *exc: Any) -> None:
        if self._connected_here:
            self._ray.shutdown()

    def outcomes(self, cells: list[Cell]) -> Iterator[Outcome]:
        ray = self._ray
        task = ray.remote(num_cpus=1, max_retries=0)(run_cell)
        pending = [task.remote(cell) for cell in cells]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield ray.get(done[0])
        finally:
            for ref in pending:  # stopped early (an error, Ctrl-C): do not leave cells running on the cluster
                ray.cancel(ref)
