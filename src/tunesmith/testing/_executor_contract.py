"""Conformance checks every ``Executor`` should pass; usable from any pytest suite.

Each ``check_*`` function takes an *executor factory*: a callable with no arguments that
returns a new, not yet started executor. The checks drive it the way the controller does
(a real ``TrialServer``, real trial processes) through :class:`ExecutorHarness`, and raise
AssertionError saying what the contract expected. The executor needs at least 2 CPUs in
all; the GPU checks run when it declares GPUs (fake ones will do).

The contract:

- ``launch`` returns a handle only when the resources are free, and the attempt then runs
  at once (its HELLO arrives), however many run; resources are never over-committed.
- ``finished`` and ``kill`` give the resources back; ``kill`` ends the process (the
  driver sees EOF) and is idempotent.
- A process that exits by itself is reported by ``poll`` or ``exit_code`` with its exit
  code.
- Every attempt sees ``CUDA_VISIBLE_DEVICES``: empty without GPUs, one device per whole
  GPU, never shared beyond a device's capacity.
- ``infeasible_reason`` explains, at once, a request no node could ever meet.

Example (in a plug-in's test file)::

    from tunesmith.testing import check_executor

    def test_my_executor_contract(tmp_path):
        check_executor(lambda: MyExecutor(num_cpus=2, num_gpus=2), tmp_path)
"""

from __future__ import annotations

import collections
import hashlib
import os
import time
from typing import Any, Callable

from tunesmith import _protocol, _settings
from tunesmith.execution import _pickling
from tunesmith.execution._executor import AttemptHandle, Executor
from tunesmith.execution._server import TrialEvent, TrialServer

__all__ = [
    "ExecutorFactory",
    "ExecutorHarness",
    "check_executor",
    "check_executor_exit_codes",
    "check_executor_gpu_ids",
    "check_executor_infeasible",
    "check_executor_kill",
    "check_executor_no_overcommit",
    "check_executor_runs_attempt",
]

#: ``factory() -> Executor``, not yet started.
ExecutorFactory = Callable[[], Executor]

_TIMEOUT_S = 60.0


# -- trainables the checks run (module level: trial processes import this module) -----------------
def report_environment(config: dict[str, Any]) -> None:
    """Report what the trial process sees, then wait for ``hold_s`` and end."""
    from tunesmith.trainable import report

    report({"cuda": _settings.cuda_visible_devices_raw(), "pid": os.getpid(), "ppid": os.getppid()})
    time.sleep(config.get("hold_s", 0.0))


def report_then_sleep(config: dict[str, Any]) -> None:
    """Report once, then sleep until killed."""
    from tunesmith.trainable import report

    report({"pid": os.getpid()})
    time.sleep(3600)


def exit_with(config: dict[str, Any]) -> None:
    """End the process at once with ``config["code"]``."""
    os._exit(config["code"])


class ExecutorHarness:
    """Drives an executor as the controller does: a TrialServer, HELLOs, decisions.

    Args:
        executor: A new executor; the harness starts it (and closes it on ``close``).
        folder: Where trials may write (each gets a subfolder).

    Example::

        harness = ExecutorHarness(LocalExecutor(num_cpus=2), tmp_path)
        handle = harness.launch(report_environment, {"cpu": 1})
        started = harness.wait(handle, "started")
        harness.close()
    """

    def __init__(self, executor: Executor, folder: str | os.PathLike) -> None:
        self.executor = executor
        self.folder = str(folder)
        self.server = TrialServer(executor.driver_host(), tls=executor.trial_tls())
        self.events: dict[tuple[str, int], list[TrialEvent]] = collections.defaultdict(list)
        self.exits: dict[tuple[str, int], int | None] = {}
        self._count = 0
        executor.start(self.server.address, self.server.token, certificate=self.server.certificate)

    def launch(self, trainable: Callable, resources: dict[str, float], config: dict[str, Any] | None = None,
               trial_id: str | None = None, attempt: int = 0) -> AttemptHandle | None:
        """Expect and launch one attempt of ``trainable``; None when the resources are busy."""
        blob = _pickling.dumps(trainable)
        key = hashlib.sha1(blob).hexdigest()[:16]
        self.server.add_trainable(key, blob)
        if trial_id is None:
            self._count += 1
            trial_id = f"contract_{self._count:05d}"
        trial_dir = os.path.join(self.folder, trial_id)
        os.makedirs(trial_dir, exist_ok=True)
        assignment = _protocol.Assignment(trial_id=trial_id, trial_name=trial_id, trial_dir=trial_dir,
                                          local_dir=trial_dir, experiment_name="contract", resources=resources,
                                          config=dict(config or {}), attempt=attempt, trainable_key=key)
        self.server.expect(trial_id, attempt, assignment)
        handle = self.executor.launch(trial_id, attempt, resources)
        if handle is None:
            self.server.fence(trial_id)
        return handle

    def pump(self, timeout: float = 0.05) -> None:
        """Read what trials said (answering results with CONTINUE) and what the executor saw."""
        for event in self.server.poll(timeout):
            self.events[(event.trial_id, event.attempt)].append(event)
            if event.kind == "result":
                self.server.send_decision(event.trial_id, event.payload[0], "CONTINUE")
        for handle, code in self.executor.poll():
            self.exits[(handle.trial_id, handle.attempt)] = code

    def wait(self, handle: AttemptHandle, kind: str, timeout: float = _TIMEOUT_S) -> TrialEvent:
        """The first ``kind`` event of ``handle``'s attempt; AssertionError if none comes in time."""
        deadline = time.monotonic() + timeout
        key = (handle.trial_id, handle.attempt)
        while time.monotonic() < deadline:
            found = [e for e in self.events[key] if e.kind == kind]
            if found:
                return found[0]
            self.pump()
        raise AssertionError(f"{type(self.executor).__name__}: no {kind!r} event from attempt {key} "
                             f"within {timeout:g} s; got {[e.kind for e in self.events[key]]}")

    def wait_exit(self, handle: AttemptHandle, timeout: float = _TIMEOUT_S) -> int | None:
        """The attempt's exit code, from ``poll`` or ``exit_code``, once its process ended."""
        deadline = time.monotonic() + timeout
        key = (handle.trial_id, handle.attempt)
        while time.monotonic() < deadline:
            self.pump()
            if key in self.exits:
                return self.exits[key]
            if any(e.kind == "lost" for e in self.events[key]):
                code = self.executor.exit_code(handle, timeout=1.0)
                if code is not None:
                    return code
        raise AssertionError(f"{type(self.executor).__name__}: the exit of attempt {key} was not seen "
                             f"within {timeout:g} s")

    def finish(self, handle: AttemptHandle) -> None:
        """Wait for DONE and tell the executor, as the controller does."""
        self.wait(handle, "done")
        self.executor.finished(handle)

    def close(self) -> None:
        """Close the executor (and what it started) and the server."""
        try:
            self.executor.close()
        finally:
            self.server.close()


def _harness(factory: ExecutorFactory, folder: Any) -> ExecutorHarness:
    executor = factory()
    assert isinstance(executor, Executor), f"the factory must return an Executor, got {type(executor).__name__}"
    return ExecutorHarness(executor, folder)


def _free_equals_total(executor: Executor, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while executor.free_resources() != executor.total_resources() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert executor.free_resources() == executor.total_resources(), (
        f"{type(executor).__name__}: resources were not all given back: free {executor.free_resources()}, "
        f"total {executor.total_resources()}"
    )


# -- the checks ------------------------------------------------------------------------------------
def check_executor_runs_attempt(factory: ExecutorFactory, folder: Any) -> None:
    """An attempt starts, reports, ends; ``finished`` gives its resources back."""
    harness = _harness(factory, folder)
    try:
        handle = harness.launch(report_environment, {"cpu": 1})
        assert handle is not None, "launch returned None with every resource free"
        assert handle.trial_id == "contract_00001" and handle.attempt == 0
        assert harness.executor.free_resources()["cpu"] == harness.executor.total_resources()["cpu"] - 1
        info = harness.wait(handle, "started").payload
        assert {"pid", "ppid", "cuda"} <= set(info), f"the HELLO info lacks fields: {info}"
        result = harness.wait(handle, "result").payload[1]
        assert result["pid"] == info["pid"], "the attempt reported from another process than its HELLO"
        harness.finish(handle)
        _free_equals_total(harness.executor)
        assert not harness.executor.poll(), "a finished attempt must not be reported again by poll"
    finally:
        harness.close()


def check_executor_kill(factory: ExecutorFactory, folder: Any) -> None:
    """``kill`` ends the process (EOF at the driver), frees its resources, and is idempotent."""
    harness = _harness(factory, folder)
    try:
        handle = harness.launch(report_then_sleep, {"cpu": 1})
        assert handle is not None
        harness.wait(handle, "result")
        harness.executor.kill(handle)
        assert harness.executor.free_resources()["cpu"] == harness.executor.total_resources()["cpu"], (
            "kill must give the attempt's resources back at once")
        harness.wait(handle, "lost", timeout=30)
        assert harness.executor.kill(handle) is None, "a second kill must do nothing and return None"
        again = harness.launch(report_environment, {"cpu": 1}, trial_id=handle.trial_id, attempt=1)
        assert again is not None, "the resources of a killed attempt must be usable again"
        harness.finish(again)
        _free_equals_total(harness.executor)
    finally:
        harness.close()


def check_executor_exit_codes(factory: ExecutorFactory, folder: Any) -> None:
    """A process that exits by itself is seen with its exit code, and its resources come back."""
    harness = _harness(factory, folder)
    try:
        handle = harness.launch(exit_with, {"cpu": 1}, {"code": 3})
        assert handle is not None
        code = harness.wait_exit(handle)
        assert code == 3, f"{type(harness.executor).__name__}: the attempt exited with 3, the executor says {code}"
        harness.executor.kill(handle)  # the controller fences a lost attempt; must be harmless
        _free_equals_total(harness.executor)
    finally:
        harness.close()


def check_executor_no_overcommit(factory: ExecutorFactory, folder: Any) -> None:
    """Launch until ``launch`` says no: all those attempts run at once, within the CPUs there are."""
    harness = _harness(factory, folder)
    try:
        total = harness.executor.total_resources()["cpu"]
        handles = []
        while len(handles) <= total:
            handle = harness.launch(report_environment, {"cpu": 1}, {"hold_s": 0.5})
            if handle is None:
                break
            handles.append(handle)
            assert harness.executor.free_resources()["cpu"] >= -1e-9, "the ledger went below zero"
        assert 1 <= len(handles) <= total, f"{len(handles)} attempts of cpu=1 were launched on {total:g} CPUs"
        for handle in handles:  # each one launched really runs now, not queued by the engine
            harness.wait(handle, "started")
        for handle in handles:
            harness.finish(handle)
        _free_equals_total(harness.executor)
    finally:
        harness.close()


def check_executor_gpu_ids(factory: ExecutorFactory, folder: Any) -> None:
    """``CUDA_VISIBLE_DEVICES``: empty without GPUs, one id per whole GPU, halves packed two per id."""
    harness = _harness(factory, folder)
    try:
        gpus = int(harness.executor.total_resources().get("gpu", 0))
        cpu_only = harness.launch(report_environment, {"cpu": 1})
        assert cpu_only is not None
        seen = harness.wait(cpu_only, "result").payload[1]["cuda"]
        assert seen == "", f"an attempt without GPUs must see CUDA_VISIBLE_DEVICES='', got {seen!r}"
        harness.finish(cpu_only)
        if gpus == 0:
            return
        for share, per_device in ((1.0, 1), (0.5, 2)):
            handles = []
            while len(handles) < gpus * per_device + 1:
                handle = harness.launch(report_environment, {"cpu": 0, "gpu": share}, {"hold_s": 0.3})
                if handle is None:
                    break
                handles.append(handle)
            assert len(handles) <= gpus * per_device, f"{len(handles)} attempts of gpu={share} on {gpus} GPUs"
            ids = collections.Counter()
            for handle in handles:
                cuda = harness.wait(handle, "result").payload[1]["cuda"]
                assert cuda and len(cuda.split(",")) == 1, f"gpu={share} must see one device, got {cuda!r}"
                ids[(handle.allocation.node, cuda)] += 1
            assert max(ids.values()) <= per_device, f"gpu={share}: a device was given out too often: {dict(ids)}"
            for handle in handles:
                harness.finish(handle)
        _free_equals_total(harness.executor)
    finally:
        harness.close()


def check_executor_infeasible(factory: ExecutorFactory, folder: Any) -> None:
    """``infeasible_reason`` names requests no node could meet, at once, and passes the rest."""
    harness = _harness(factory, folder)
    try:
        executor = harness.executor
        total = executor.total_resources()
        assert executor.infeasible_reason({"cpu": 1}) is None, "cpu=1 must be feasible"
        too_many = executor.infeasible_reason({"cpu": total["cpu"] + 1})
        assert too_many and "cpu" in too_many, f"cpu={total['cpu'] + 1:g} must be infeasible, got {too_many!r}"
        unknown = executor.infeasible_reason({"cpu": 1, "unicorn": 1})
        assert unknown and "unicorn" in unknown, f"an unknown resource must be infeasible, got {unknown!r}"
        assert executor.launch("contract_none", 0, {"cpu": total["cpu"] + 1}) is None
    finally:
        harness.close()


def check_executor(factory: ExecutorFactory, folder: Any) -> None:
    """Run every executor check, each on a new executor."""
    checks = [check_executor_runs_attempt, check_executor_kill, check_executor_exit_codes,
              check_executor_no_overcommit, check_executor_gpu_ids, check_executor_infeasible]
    for check in checks:
        sub = os.path.join(str(folder), check.__name__)
        os.makedirs(sub, exist_ok=True)
        check(factory, sub)
