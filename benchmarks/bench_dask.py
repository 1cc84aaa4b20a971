"""DaskExecutor against the local executor, on the same workloads.

Usage:
    python benchmarks/bench_dask.py [bookkeeping] [throughput] [--repeat N]

Workloads (default: both):
    bookkeeping   40 trials of 10 reports 0.1 s apart, 1 CPU each, on 2 CPUs (floor: 20 s)
    throughput    8 trials at 0.25 CPU, each 1,000 reports at 100/s (floor: 10 s)

Executors: ``LocalExecutor(num_cpus=2)`` and ``DaskExecutor.local(2)`` (two workers of 1
CPU each, in-process Dask workers; trials in their own processes). Each run is a fresh
Python process and times ``Tuner.fit()`` only (the cluster is started before the clock).
Results are logged as JSON and CSV; the TensorBoard logger (a fixed cost at experiment
end, the same for both) is left out to compare the executors alone.
Runs alternate local, dask, local, dask... so that load on the machine hits both alike;
the report gives each executor's median and dask's ratio to local (target: within 10%).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

RUN = """
import json, tempfile, time
import tunesmith as tune
from tunesmith.execution import DaskExecutor, LocalExecutor
from tunesmith.logger import CSVLoggerCallback, JsonLoggerCallback

def bookkeeping(config):
    for i in range(10):
        time.sleep(0.1)
        tune.report({{"i": i}})

def throughput(config):
    next_at = time.monotonic()
    for i in range(1000):
        next_at += 0.01
        time.sleep(max(0.0, next_at - time.monotonic()))
        tune.report({{"i": i}})

WORKLOADS = {{
    "bookkeeping": (bookkeeping, 40, {{"cpu": 1}}, 20.0),
    "throughput": (throughput, 8, {{"cpu": 0.25}}, 10.0),
}}
trainable, trials, resources, floor = WORKLOADS[{workload!r}]
executor = DaskExecutor.local(2) if {engine!r} == "dask" else LocalExecutor(num_cpus=2)
start = time.perf_counter()
results = tune.Tuner(tune.with_resources(trainable, resources),
    param_space={{"t": tune.grid_search(list(range(trials)))}},
    tune_config=tune.TuneConfig(executor=executor),
    run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(), name={workload!r}, verbose=0,
                              callbacks=[JsonLoggerCallback(), CSVLoggerCallback()])).fit()
elapsed = time.perf_counter() - start
executor.close()
assert len(results) == trials and results.num_errors == 0
print(json.dumps({{"seconds": elapsed, "floor_s": floor}}))
"""


def run(workload: str, engine: str) -> float:
    code = RUN.format(workload=workload, engine=engine)
    env = dict(os.environ, TUNE_DISABLE_AUTO_CALLBACK_LOGGERS="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", default=["bookkeeping", "throughput"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {load:.1f} at start")
    for workload in args.workloads:
        times: dict[str, list[float]] = {"local": [], "dask": []}
        for _ in range(args.repeat):
            for engine in ("local", "dask"):
                times[engine].append(run(workload, engine))
        local, dask = (statistics.median(times[e]) for e in ("local", "dask"))
        runs = " ".join(f"{e}={','.join(f'{t:.2f}' for t in ts)}" for e, ts in times.items())
        print(f"{workload:12s} median of {args.repeat}: local {local:.2f} s, dask {dask:.2f} s, "
              f"dask/local {dask / local:.3f}  ({runs})")


if __name__ == "__main__":
    main()
