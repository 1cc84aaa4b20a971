"""A real Dask cluster for tests: ``dask scheduler`` and ``dask worker`` subprocesses on 127.0.0.1.

Every process listens on 127.0.0.1 only and is stopped by pid (its children first
collected with psutil), so nothing outlives the test module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil


class CliCluster:
    """A scheduler and workers started as the ``dask`` command line does.

    Args:
        folder: Where the scheduler file and the logs go.
        scheduler_env: Extra environment for the scheduler (e.g. ``allowed-failures``).
    """

    def __init__(self, folder: str, scheduler_env: dict[str, str] | None = None) -> None:
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self.scheduler_file = os.path.join(folder, "scheduler.json")
        self.processes: list[subprocess.Popen] = []
        self.workers: dict[str, subprocess.Popen] = {}  # name -> its nanny process
        env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0", **(scheduler_env or {}))
        self._spawn("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", self.scheduler_file], env)
        deadline = time.monotonic() + 60
        while not os.path.exists(self.scheduler_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(self.scheduler_file) as f:
            self.address = json.load(f)["address"]

    def add_worker(self, name: str, resources: str, cuda: str = "") -> None:
        env = dict(os.environ, CUDA_VISIBLE_DEVICES=cuda)
        self.workers[name] = self._spawn(name, [
            "distributed.cli.dask_worker", "--scheduler-file", self.scheduler_file, "--host", "127.0.0.1",
            "--no-dashboard", "--nthreads", "1", "--name", name, "--resources", resources,
        ], env)

    def wait_for_workers(self, client, n: int, timeout: float = 60) -> None:
        client.wait_for_workers(n, timeout=timeout)

    def worker_pids(self, client) -> dict[str, int]:
        """Worker name -> pid of its worker process (the nanny's child, the trials' parent)."""
        # Straight from the scheduler: scheduler_info()'s cache can be a worker-less summary.
        info = client.sync(client.scheduler.identity, n_workers=-1)["workers"]
        pids = client.run(os.getpid)
        return {info[address]["name"]: pid for address, pid in pids.items()}

    def stop_worker(self, name: str) -> None:
        self._stop([self.workers.pop(name)])

    def close(self) -> None:
        self._stop(self.processes)

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(os.path.join(self.folder, f"{name}.log"), "ab")
        process = subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def _stop(self, processes: list[subprocess.Popen]) -> None:
        victims = []
        for process in processes:
            try:
                parent = psutil.Process(process.pid)
                victims += parent.children(recursive=True) + [parent]
            except psutil.NoSuchProcess:
                pass
        for victim in victims:
            try:
                victim.send_signal(signal.SIGCONT)  # a stopped process cannot exit on SIGTERM
                victim.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(victims, timeout=10)
        for process in processes:
            process.wait(timeout=10)
