"""The warm processes of this machine: one pool, one way to start a process.

Every process tunesmith runs trials or writes logs in locally comes from one template::

    driver
      └── template (the fork server: Python started and tunesmith imported once)
            ├── log writer      one per experiment            ProcessKind.LOG_WRITER
            └── worker          warm, one per CPU and GPU set ProcessKind.WORKER
                  └── child     one per trial attempt, forked by its worker
                                (none with reuse_actors: the worker runs the attempt)

:class:`ProcessPool` owns the template and the idle workers: :meth:`ProcessPool.spawn`
starts any kind of process (forked from the template, or a new Python where there is
none), :meth:`ProcessPool.take` gives a warm worker for an environment and
:meth:`ProcessPool.give_back` keeps it for the next attempt. Forks go through
:func:`tunesmith.execution._forkserver.fork`, in the template and in the workers alike.
The local executor (:mod:`tunesmith.execution._local`) only decides which worker runs
which attempt; trial processes on cluster workers start through :func:`start_process` too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import IO

from tunesmith.execution import _forkserver
from tunesmith.execution._forkserver import ProcessKind

__all__ = ["ProcessKind", "ProcessPool", "WarmProcess", "start_process"]

_WORKER_COMMAND = "from tunesmith.execution._worker import main; main()"

Process = subprocess.Popen | _forkserver.ForkedProcess


def start_process(env: dict[str, str], cwd: str, template: _forkserver.ForkServer | None = None,
                  pass_fds: tuple[int, ...] = ()) -> Process:
    """A new worker: forked from ``template``, else a new Python (its stdin is a pipe).

    Args:
        env: Its environment.
        cwd: Its working folder.
        template: The fork server to fork it from; None starts ``python -c``.
        pass_fds: File descriptors it inherits (only without a template).
    """
    if template is not None:
        return template.spawn(env, cwd, ProcessKind.WORKER)
    return subprocess.Popen(
        [sys.executable, "-c", _WORKER_COMMAND], stdin=subprocess.PIPE, env=env, cwd=cwd, pass_fds=pass_fds,
        # Its own session: a Ctrl-C in the terminal reaches the driver, which stops trials in order.
        start_new_session=True,
    )


class WarmProcess:
    """A worker: it runs attempts one after another while it lives, each sent as a JSON
    line on its stdin (see :mod:`tunesmith.execution._worker`).

    Args:
        env_key: The environment it was started for (its ``CUDA_VISIBLE_DEVICES``).
        process: The process.
    """

    def __init__(self, env_key: str, process: Process) -> None:
        self.env_key = env_key
        self.process = process
        self.stdin: IO[bytes] = process.stdin  # type: ignore[assignment]

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, trial_id: str, attempt: int, driver: str, token: str, fresh: bool = True) -> None:
        """Start an attempt: in a child forked for it (``fresh``), else in the worker itself."""
        self._send({"trial_id": trial_id, "attempt": attempt, "driver": driver, "token": token,
                    "python_path": [p for p in sys.path if p], "fresh": fresh})

    def disconnect(self) -> None:
        """Close the connection to this experiment's driver; stay warm for the next one."""
        self._send({"disconnect": True})

    def _send(self, message: dict) -> None:
        try:
            self.stdin.write(json.dumps(message).encode() + b"\n")
            self.stdin.flush()
        except OSError:
            pass  # it died; poll() finds its exit code, and the controller has seen its socket close

    def stop(self) -> None:
        """Close its stdin: it ends once its attempt has."""
        try:
            self.stdin.close()
        except OSError:
            pass

    def kill(self) -> int | None:
        self.process.kill()
        return self.process.wait()


class ProcessPool:
    """The template and the warm workers of the local executor.

    Args:
        environment: The environment of a new process, given its ``CUDA_VISIBLE_DEVICES``
            (``""``: none; the template's is ``environment("")``).
        max_idle: Most idle workers kept; the oldest go first.
    """

    def __init__(self, environment: Callable[[str], dict[str, str]], max_idle: int) -> None:
        self._environment = environment
        self.max_idle = max_idle
        self._idle: list[WarmProcess] = []
        self._template: _forkserver.ForkServer | None = None
        self._spawned_with: dict[str, str] = {}

    @property
    def idle(self) -> list[WarmProcess]:
        """The idle workers, oldest first."""
        return self._idle

    @property
    def running_template(self) -> _forkserver.ForkServer | None:
        """The template if one has been started (it may have died since), else None."""
        return self._template

    def template(self) -> _forkserver.ForkServer | None:
        """The warm process new processes are forked from, started (again) if needed; None
        where there is none (not Linux)."""
        if self._template is None or not self._template.alive:
            self._template = _forkserver.ForkServer(self._env("")) if _forkserver.available() else None
        return self._template

    def spawn(self, kind: ProcessKind, env_key: str = "", args: list | None = None) -> Process:
        """A new process of ``kind`` for ``env_key``, from the template when there is one.

        A log writer needs the template (there is no command for it here): callers start
        one themselves where :meth:`template` is None.
        """
        env = self._env(env_key)
        template = self.template()
        if kind is ProcessKind.WORKER:
            return start_process(env, os.getcwd(), template)
        if template is None:
            raise RuntimeError(f"a {kind.value} is forked from the template, and this platform has none")
        return template.spawn(env, os.getcwd(), kind, args)

    def take(self, env_key: str) -> WarmProcess:
        """An idle worker started for ``env_key``, or a new one."""
        for i, worker in enumerate(self._idle):
            if worker.env_key == env_key and worker.alive():
                return self._idle.pop(i)
        return WarmProcess(env_key, self.spawn(ProcessKind.WORKER, env_key))

    def give_back(self, worker: WarmProcess) -> None:
        """Keep ``worker`` idle for a later attempt, within ``max_idle``."""
        self._idle.append(worker)
        while len(self._idle) > self.max_idle:
            self._idle.pop(0).stop()

    def environment_changed(self) -> bool:
        """Whether the driver's environment changed since the last process was started
        (processes started before do not see it)."""
        return os.environ != self._spawned_with

    def prestart(self, count: int, env_key: str = "") -> None:
        """Have ``count`` idle workers for ``env_key``, started now if need be."""
        self._idle = [w for w in self._idle if w.alive()]
        wanted = count - sum(1 for w in self._idle if w.env_key == env_key)
        self._idle += [WarmProcess(env_key, self.spawn(ProcessKind.WORKER, env_key)) for _ in range(wanted)]

    def disconnect_idle(self) -> None:
        """Have the idle workers leave the experiment's driver (they stay warm)."""
        for worker in self._idle:
            worker.disconnect()

    def stop_idle(self) -> None:
        """Stop the idle workers (waiting up to 2 s each, then killing)."""
        for worker in self._idle:
            worker.stop()
        for worker in self._idle:
            try:
                worker.process.wait(2)
            except subprocess.TimeoutExpired:
                worker.kill()
        self._idle.clear()

    def close_template(self) -> None:
        """Stop the template; the processes it forked and that still run die with it."""
        if self._template is not None:
            self._template.close()
            self._template = None

    def _env(self, env_key: str) -> dict[str, str]:
        self._spawned_with = dict(os.environ)
        return self._environment(env_key)
