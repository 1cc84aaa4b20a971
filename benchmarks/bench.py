"""tunesmith benchmarks.

Usage:
    python benchmarks/bench.py [workload ...] [--repeat N]

Workloads (default: all):
    quickstart     the README quickstart as a whole process (wall time, import included)
    trivial200     200 trials whose function returns at once (fit() time, trials/s, driver peak RSS)
    trivial10000   the same with 10,000 trials
    bookkeeping    40 trials of 10 reports 0.1 s apart on 2 CPUs (floor: 20 s)

Each workload runs in a fresh Python process, ``--repeat`` times; the report gives the
median and the ratio to the theoretical floor where there is one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

TRIVIAL = """
import json, resource, sys, tempfile, time
import tunesmith as tune

def trivial(config):
    return {{"x": config["i"]}}

n = {n}
start = time.perf_counter()
results = tune.Tuner(trivial, param_space={{"i": tune.grid_search(list(range(n)))}},
    tune_config=tune.TuneConfig(),
    run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(), name="trivial", verbose=0)).fit()
elapsed = time.perf_counter() - start
assert len(results) == n and results.num_errors == 0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": elapsed, "trials_per_s": n / elapsed, "driver_peak_rss_mb": rss}}))
"""

BOOKKEEPING = """
import json, tempfile, time
import tunesmith as tune

def train(config):
    for i in range(10):
        time.sleep(0.1)
        tune.report({"i": i})

tune.init(num_cpus=2)
start = time.perf_counter()
results = tune.Tuner(train, param_space={"t": tune.grid_search(list(range(40)))},
    run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(), name="bk", verbose=0)).fit()
elapsed = time.perf_counter() - start
assert len(results) == 40 and results.num_errors == 0
print(json.dumps({"seconds": elapsed, "floor_s": 20.0, "ratio_to_floor": elapsed / 20.0}))
"""


def _python(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def quickstart() -> dict:
    env = dict(os.environ, TUNESMITH_STORAGE_PATH=tempfile.mkdtemp())
    start = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, "examples", "quickstart.py")], check=True,
                   capture_output=True, env=env, cwd=ROOT)
    return {"seconds": time.perf_counter() - start}


WORKLOADS = {
    "quickstart": quickstart,
    "trivial200": lambda: _python(TRIVIAL.format(n=200)),
    "trivial10000": lambda: _python(TRIVIAL.format(n=10000)),
    "bookkeeping": lambda: _python(BOOKKEEPING),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    for name in args.workloads:
        runs = [WORKLOADS[name]() for _ in range(args.repeat)]
        summary = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        shown = ", ".join(f"{k}={v:.3g}" for k, v in summary.items())
        print(f"{name:14s} median of {args.repeat}: {shown}")


if __name__ == "__main__":
    main()
