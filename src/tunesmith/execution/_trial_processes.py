"""Trial processes on a cluster worker (a Dask worker or a Ray runner actor).

The worker keeps warm trial processes, as the local executor does: each is started the
same way (:func:`tunesmith.execution._pool.start_process`) and runs the same entry
point (``tunesmith.execution._worker``), connected to the driver, taking attempts as JSON
lines on stdin and writing one byte to an acknowledgement pipe as each attempt ends. An
attempt takes an idle process with the same environment (driver, ``CUDA_VISIBLE_DEVICES``)
or a new one; one that is killed or dies is never reused. Each attempt runs in a child
the process forks for it, unless the driver says otherwise (``reuse_actors``), so no
attempt sees what an earlier one left. The driver's ``TrialServer``
sees the attempt's results; the worker sees only "ended" (and an exit code if it died).

Starting Python and importing tunesmith takes a few hundred milliseconds of CPU and about
17 MB that no other process shares. With ``fork_server`` (a Dask worker, which may run
hundreds of attempts at once) the worker starts Python once, as a template (the local
executor's fork server, :class:`tunesmith.execution._forkserver.ForkServer`), and forks its
trial processes from it, a few milliseconds each, sharing the template's pages; each
process gets its own environment and folder with the fork, so one template serves every
driver and ``CUDA_VISIBLE_DEVICES``. Without it (a Ray runner actor, which runs one attempt
at a time) each process is a new Python. Either way, whenever an attempt takes the last
idle process of its environment, a spare is started for the next::

    worker (Dask worker process)
      └── template        one per worker, started once (again if it dies)
            └── process   warm, one per running attempt and a few idle
                  └── child   one per attempt, forked by its process

All processes are started from one long-lived thread: Linux delivers
``PR_SET_PDEATHSIG`` when the *thread* that started a child ends, and the threads that run
Dask tasks end when their task does. The template dies with that thread (or the worker),
its processes with the template, and each attempt's child with its process.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import queue
import select
import subprocess
import sys
import threading
from typing import IO, Any

from tunesmith.execution import _forkserver
from tunesmith.execution._pool import start_process

__all__ = ["TrialProcesses", "attempt_environment", "driver_source_folders"]


def attempt_environment(driver: str, token: str, heartbeat_s: float, cuda: str | None = None) -> dict[str, str]:
    """The variables a trial process needs, as the driver sends them to a worker."""
    env = {"TUNESMITH_DRIVER": driver, "TUNESMITH_TOKEN": token, "TUNESMITH_HEARTBEAT_INTERVAL_S": f"{heartbeat_s:g}"}
    if cuda is not None:
        env["CUDA_VISIBLE_DEVICES"] = cuda
    return env


def driver_source_folders() -> list[str]:
    """The driver's own import folders (its script's, its project's), not installed packages.

    Sent with each attempt: where the same folders exist on a worker (a shared home, or the
    same machine), trial processes import the user's modules from them.
    """
    prefixes = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
    folders = [os.path.abspath(p or os.getcwd()) for p in sys.path]
    return [p for p in dict.fromkeys(folders) if os.path.isdir(p) and not p.startswith(prefixes)
            and "site-packages" not in p and "dist-packages" not in p]


@dataclasses.dataclass(eq=False)
class _Process:
    popen: subprocess.Popen | _forkserver.ForkedProcess  # a new Python, or a fork of the template
    acks: IO[bytes]  # one byte per finished attempt; end-of-file when the process is gone
    last_key: str = ""  # the attempt it ran last

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_for_ack(self) -> bool:
        """Block until the attempt ends: True, or the process died: False.

        A child the trial forked may hold the pipe open after the trial died, so the process
        is watched too: through a pidfd (no wake-ups while it runs: a worker may wait on
        hundreds at once), else by looking every half second.
        """
        exit_fd = None
        try:
            while True:
                if exit_fd is None:
                    exit_fd = self._exit_fd()
                watched = [self.acks] if exit_fd is None else [self.acks, exit_fd]
                # Until the template has said which pid its fork got, look again soon.
                timeout = None if exit_fd is not None else 0.5 if self.popen.pid is not None else 0.02
                ready = select.select(watched, [], [], timeout)[0]
                if self.acks in ready:
                    return self.acks.read(1) == b"\n"
                if exit_fd in ready or not self.alive():
                    return False
        finally:
            if exit_fd is not None:
                os.close(exit_fd)

    def _exit_fd(self) -> int | None:
        """A pidfd that becomes readable when the process ends; None where there are none,
        if it has ended already, or if its pid is not known yet (never waited for here: a
        wait for the template's reply would hold its socket from the other threads)."""
        return None if self.popen.pid is None else _forkserver.open_pidfd(self.popen.pid)

    def kill(self) -> None:
        self.popen.kill()



class TrialProcesses:
    """Runs attempts in warm child processes of this worker.

    Args:
        max_idle: Most idle processes kept per environment.
        fork_server: Fork the processes from a template started once (Linux; elsewhere
            each is a new Python).
    """

    def __init__(self, max_idle: int = 8, fork_server: bool = False) -> None:
        self.max_idle = max_idle
        self.fork_server = fork_server and _forkserver.available()
        self._template: _forkserver.ForkServer | None = None  # started and used by the starter thread
        self._lock = threading.Lock()
        self._idle: dict[tuple, list[_Process]] = {}
        self._running: dict[str, _Process] = {}
        self._killed: set[str] = set()  # attempts killed, maybe before they started
        self._requests: queue.Queue = queue.Queue()
        self._closed = False
        self._starter = threading.Thread(target=self._start_loop, name="tunesmith-trial-starter", daemon=True)
        self._starter.start()

    def run(self, key: str, attempt: dict[str, Any], env: dict[str, str], cwd: str | None = None,
            python_path: tuple[str, ...] = (), reuse: bool = False) -> int | None:
        """Run one attempt to its end: None if it ended as trials end, else the process's exit code.

        None means the attempt ended as trials end (its DONE or ERROR went to the driver):
        the driver learns how from the trial's connection, not from the worker. The process
        runs the attempt in a child it forks for it, or with ``reuse`` (``reuse_actors``)
        itself, so that it may leave state for a later attempt.

        Blocks; call it from the task's (or actor method's) own thread. ``attempt`` is
        ``{"trial_id": ..., "attempt": ...}``; ``env`` comes from :func:`attempt_environment`.
        ``cwd`` and ``python_path`` are the driver's working and source folders; those that
        exist on this worker are used, so modules next to the user's script import.
        """
        signature = (tuple(sorted(env.items())), cwd, tuple(python_path))
        process = self._take_idle(signature) or self._start(signature).result()
        with self._lock:
            killed = key in self._killed or self._closed
            if not killed:
                self._running[key] = process
                process.last_key = key
        if killed:
            process.kill()
            return process.popen.wait()
        try:
            try:
                process.popen.stdin.write(json.dumps(dict(attempt, fresh=not reuse)).encode() + b"\n")
                process.popen.stdin.flush()
            except OSError:
                pass  # it died already; its exit code says how
            self._refill(signature)
            ended = process.wait_for_ack()
        finally:
            with self._lock:
                self._running.pop(key, None)
                killed = key in self._killed
        if ended and not killed and self._keep(signature, process):
            return None
        process.kill()
        return process.popen.wait()

    def prewarm(self, env: dict[str, str], cwd: str | None = None, python_path: tuple[str, ...] = (),
                count: int = 1) -> None:
        """Start up to ``count`` idle processes for attempts that will run with ``env`` (returns at once)."""
        signature = (tuple(sorted(env.items())), cwd, tuple(python_path))
        with self._lock:
            missing = count - len(self._idle.get(signature, []))
        for _ in range(missing):
            self._start(signature).add_done_callback(lambda f: self._keep_started(signature, f))

    def kill(self, key: str) -> bool:
        """Kill attempt ``key``'s process, now or as soon as it starts; True if it was found.

        A process whose attempt already ended and that waits for the next one is killed
        too: a killed attempt's process is never reused (a retry gets a fresh one).
        """
        with self._lock:
            self._killed.add(key)
            process = self._running.get(key)
            if process is None:
                for idle in self._idle.values():
                    process = next((p for p in idle if p.last_key == key), None)
                    if process is not None:
                        idle.remove(process)
                        break
        if process is None:
            return False
        process.kill()
        return True

    def close(self) -> None:
        """Kill every idle and running process; no more are started."""
        with self._lock:
            self._closed = True
            processes = [p for idle in self._idle.values() for p in idle] + list(self._running.values())
            self._idle.clear()
        self._requests.put(None)
        for process in processes:
            process.kill()
        for process in processes:
            try:
                process.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._starter.join(timeout=5)
        if self._template is not None:
            self._template.close()

    def _take_idle(self, signature: tuple) -> _Process | None:
        with self._lock:
            idle = self._idle.get(signature, [])
            while idle:
                process = idle.pop()
                if process.alive():
                    return process
        return None

    def _keep(self, signature: tuple, process: _Process) -> bool:
        """Put a process whose attempt ended back in the pool; False if the pool is full or closed."""
        with self._lock:
            idle = self._idle.setdefault(signature, [])
            if self._closed or len(idle) >= self.max_idle or not process.alive():
                return False
            idle.append(process)
            return True

    def _refill(self, signature: tuple) -> None:
        with self._lock:
            if self._idle.get(signature):
                return
        self._start(signature).add_done_callback(lambda f: self._keep_started(signature, f))

    def _keep_started(self, signature: tuple, future: concurrent.futures.Future) -> None:
        if future.exception() is None and not self._keep(signature, future.result()):
            future.result().kill()

    def _start(self, signature: tuple) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._requests.put((signature, future))
        return future

    def _start_loop(self) -> None:
        while True:
            request = self._requests.get()
            if request is None:
                return
            signature, future = request
            try:
                future.set_result(_popen(*signature, template=self._running_template()))
            except Exception as exc:  # reported to whoever waits for this process
                future.set_exception(exc)

    def _running_template(self) -> _forkserver.ForkServer | None:
        """The template to fork from, started (again) if need be; None without ``fork_server``."""
        if not self.fork_server:
            return None
        if self._template is None or not self._template.alive:
            if self._template is not None:
                self._template.close()
            self._template = _forkserver.ForkServer(dict(os.environ))
        return self._template


def _popen(extra: tuple[tuple[str, str], ...], cwd: str | None, python_path: tuple[str, ...],
           template: _forkserver.ForkServer | None = None) -> _Process:
    """A new trial process: forked from ``template``, else a new Python."""
    env = dict(os.environ)
    env.update(extra)
    paths = [p for p in python_path if os.path.isdir(p)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    if cwd is None or not os.path.isdir(cwd):
        cwd = os.getcwd()
    read_end, write_end = os.pipe()
    try:
        if template is not None:
            popen = template.spawn(env, cwd, _forkserver.ProcessKind.WORKER, ack_fd=write_end)
        else:
            env["TUNESMITH_ACK_FD"] = str(write_end)
            popen = start_process(env, cwd, pass_fds=(write_end,))
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return _Process(popen, os.fdopen(read_end, "rb", buffering=0))
