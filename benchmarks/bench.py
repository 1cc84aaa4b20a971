"""tunesmith's performance suite, side by side with Ray Tune and plain Optuna.

Usage:
    python benchmarks/bench.py [workload ...] [--repeat N] [--ray PYTHON] [--no-ray]

Workloads (default: all), 2 CPUs, one CPU per trial unless stated:
    quickstart     the README quickstart as a whole process (import included)
    trivial200     200 trials whose function returns at once: fit() time, trials/s, driver peak RSS
    trivial10000   the same with 10,000 trials (Ray Tune is not run: hours)
    trivial100000  the same with 100,000 trials (``--short``: 20,000), a fresh process per trial
                   (the default); ``trivial100000-reuse`` with ``reuse_actors=True``. Flat memory:
                   the driver's peak RSS must not grow with the finished trials (goal: < 200 MB)
    analysis100000 ``ExperimentAnalysis`` over a 100,000-trial folder (``--short``: 20,000), built
                   once by a tunesmith run and kept under /tmp: open time, then
                   ``ResultGrid(analysis).get_best_result``, ``analysis.dataframe()`` and
                   ``ResultGrid(analysis).get_dataframe()``, time and peak RSS after each, in a
                   fresh process (goal: open < 3 s, < 200 MB)
    restore100000  ``Tuner.restore`` + ``fit()`` of a finished 100,000-trial folder (``--short``: 20,000),
                   built once like analysis100000's and kept under /tmp (its top-level files are put
                   back after each run, so every run restores the same experiment): time, CPU, driver
                   peak RSS, in a fresh process (goal: near ``ExperimentAnalysis``'s open, < 200 MB)
    bookkeeping    40 trials x 10 reports 0.1 s apart (floor 20 s)
    throughput     8 trials at 0.25 CPU, 1,000 reports each at 100/s (floor 10 s)
    flatout        8 trials at 0.25 CPU reporting as fast as they can: results/s the driver absorbs
    checkpoints    8 trials x 20 reports, a 10 MB checkpoint every 5 reports, num_to_keep=2
    concurrent     1,000 sleep-bound trials at 0.002 CPU at once, each reporting once a second for a
                   minute (``--short``: 100 trials for 10 s; ``--trials``/``--seconds`` set either),
                   with a stopper, so every report waits for the driver: driver CPU per result and
                   in cores, p50/p99 of the report round trip (measured in the trials), memory per
                   running trial (PSS) at mid-run. ``--engine dask``: the same on a local Dask
                   cluster of 8 worker processes on 127.0.0.1 (``LocalCluster(processes=True)``,
                   Dask's profiler off, started before the clock; its scheduler runs in the driver
                   and is counted there). ``--engine dask-cli``: the same 8 workers and the
                   scheduler as ``dask worker``/``dask scheduler`` processes, as on a real
                   cluster; the scheduler's CPU is reported apart from the driver's
    asha           ASHA over 64 trials of up to 27 steps of 0.05 s (bench_asha.py's problem); the
                   floor is the steps ASHA ran x 0.05 s / 2 CPUs

Every workload runs in a fresh process. With ``--ray PYTHON`` (a Python that can import
``ray.tune``; see benchmarks/README.md) the same program runs on Ray Tune too, alternating
A B A B. ``trivial10000`` also runs plain Optuna (in process, nothing on disk) as an anchor.
The report gives medians, and the ratio to the floor where there is one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

IMPORTS = {
    # The Tuner is loaded before the clock starts, as `from ray import tune` loads Ray's.
    "tunesmith": "import tunesmith as tune\ntune.init(num_cpus=2)\ntune.Tuner\n",
    "ray": (
        "import ray\nfrom ray import tune\n"
        "ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level='ERROR',\n"
        "         _node_ip_address='127.0.0.1')\n"
    ),
}

PRELUDE = """
import json, os, resource, sys, tempfile, time
{imports}
STORAGE = tempfile.mkdtemp()

def finish(start, results, **extra):
    elapsed = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    errors = sum(1 for r in results if r.error is not None)
    print(json.dumps({{"seconds": elapsed, "driver_peak_rss_mb": rss, "errors": errors, **extra}}))
"""

WORKLOADS = {
    "trivial": """
def trivial(config):
    return {{"x": config["i"]}}

start = time.perf_counter()
results = tune.Tuner(trivial, param_space={{"i": tune.grid_search(list(range({n})))}},
                     tune_config=tune.TuneConfig(reuse_actors={reuse}),
                     run_config=tune.RunConfig(storage_path=STORAGE, name="trivial", verbose=0)).fit()
finish(start, results, trials_per_s={n} / (time.perf_counter() - start))
""",
    "analysis": """
from tunesmith import ExperimentAnalysis, ResultGrid

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def cpu():  # the machine may be shared: CPU time tells the work where wall time tells the wait
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

start, start_cpu = time.perf_counter(), cpu()
analysis = ExperimentAnalysis({path!r})
opened, opened_cpu = time.perf_counter(), cpu()
opened_rss = rss()
best = ResultGrid(analysis).get_best_result("x", "max")
found = time.perf_counter()
best_rss = rss()
import pandas  # dataframe() needs it; its import alone is ~90 MB of RSS here
pandas_rss = rss()
framing, framing_cpu = time.perf_counter(), cpu()
frame = analysis.dataframe()
framed, framed_cpu = time.perf_counter(), cpu()
frame_rss = rss()  # the whole session: open, best result, pandas, dataframe()
assert best.config["i"] == {n} - 1 and len(frame) == {n}, (best.config, len(frame))
del frame
grid_frame = ResultGrid(analysis).get_dataframe()
gridded, gridded_cpu = time.perf_counter(), cpu()
assert len(grid_frame) == {n} and list(grid_frame.columns)[-2:] == ["experiment_tag", "logdir"], grid_frame.columns
print(json.dumps({{"open_s": opened - start, "open_cpu_s": opened_cpu - start_cpu,
                  "get_best_result_s": found - opened, "dataframe_s": framed - framing,
                  "dataframe_cpu_s": framed_cpu - framing_cpu, "grid_dataframe_s": gridded - framed,
                  "grid_dataframe_cpu_s": gridded_cpu - framed_cpu,
                  "open_peak_rss_mb": opened_rss, "best_peak_rss_mb": best_rss, "pandas_rss_mb": pandas_rss,
                  "dataframe_peak_rss_mb": frame_rss, "peak_rss_mb": rss()}}))
""",
    "restore": """
from tunesmith import Tuner

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

def trivial(config):
    return {{"x": config["i"]}}

start, start_cpu = time.perf_counter(), cpu()
tuner = Tuner.restore({path!r}, trainable=trivial)
opened, opened_rss = time.perf_counter(), rss()
results = tuner.fit()
fitted, fitted_cpu, fitted_rss = time.perf_counter(), cpu(), rss()
best = results.get_best_result("x", "max")
assert best.config["i"] == {n} - 1 and len(results) == {n} and results.num_errors == 0, (best.config, len(results))
print(json.dumps({{"seconds": fitted - start, "cpu_s": fitted_cpu - start_cpu, "restore_s": opened - start,
                  "fit_s": fitted - opened, "restore_peak_rss_mb": opened_rss, "driver_peak_rss_mb": fitted_rss,
                  "best_s": time.perf_counter() - fitted, "load_average": os.getloadavg()[0]}}))
""",
    "bookkeeping": """
def train(config):
    for i in range(10):
        time.sleep(0.1)
        tune.report({{"i": i}})

start = time.perf_counter()
results = tune.Tuner(train, param_space={{"t": tune.grid_search(list(range(40)))}},
                     run_config=tune.RunConfig(storage_path=STORAGE, name="bk", verbose=0)).fit()
finish(start, results, floor_s=20.0)
""",
    "throughput": """
def train(config):
    next_at = time.perf_counter()
    for i in range(1000):
        next_at += 0.01
        delay = next_at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        tune.report({{"i": i}})

start = time.perf_counter()
results = tune.Tuner(tune.with_resources(train, {{"cpu": 0.25}}), param_space={{"t": tune.grid_search(list(range(8)))}},
                     run_config=tune.RunConfig(storage_path=STORAGE, name="tp", verbose=0)).fit()
finish(start, results, floor_s=10.0)
""",
    "flatout": """
def train(config):
    for i in range(2000):
        tune.report({{"i": i}})

start = time.perf_counter()
results = tune.Tuner(tune.with_resources(train, {{"cpu": 0.25}}), param_space={{"t": tune.grid_search(list(range(8)))}},
                     run_config=tune.RunConfig(storage_path=STORAGE, name="fo", verbose=0)).fit()
finish(start, results, results_per_s=16000 / (time.perf_counter() - start))
""",
    "checkpoints": """
def train(config):
    payload = os.urandom(10_000_000)
    for i in range(20):
        checkpoint = None
        if i % 5 == 4:
            folder = tempfile.mkdtemp()
            with open(os.path.join(folder, "weights.bin"), "wb") as f:
                f.write(payload)
            checkpoint = tune.Checkpoint.from_directory(folder)
        tune.report({{"i": i}}, checkpoint=checkpoint)

start = time.perf_counter()
results = tune.Tuner(train, param_space={{"t": tune.grid_search(list(range(8)))}},
                     run_config=tune.RunConfig(storage_path=STORAGE, name="ck", verbose=0,
                                               checkpoint_config=tune.CheckpointConfig(num_to_keep=2))).fit()
kept = sum(len([d for d in os.listdir(r.path) if d.startswith("checkpoint_")]) for r in results)
finish(start, results, checkpoints_kept=kept)
""",
    "concurrent": """
import threading
import psutil

N, SECONDS = {n}, {seconds}

def train(config):
    last, next_at = None, time.time()
    for i in range(SECONDS):
        next_at += 1.0
        delay = next_at - time.time()
        if delay > 0:
            time.sleep(delay)
        began = time.perf_counter()
        tune.report({{"round_trip_s": last}})
        last = time.perf_counter() - began

memory = {{}}

def sample_memory():  # at mid-run: every process under the driver but the driver itself
    time.sleep(SECONDS / 2 + 5)
    procs = psutil.Process().children(recursive=True)
    pss = rss = 0
    for p in procs:
        try:
            info = p.memory_full_info()
        except psutil.Error:
            continue
        pss, rss = pss + info.pss, rss + info.rss
    memory.update(processes=len(procs), pss_mb=pss / 2**20, rss_mb=rss / 2**20,
                  driver_rss_mb=psutil.Process().memory_info().rss / 2**20)

EXECUTOR = None  # the default local executor
SCHEDULER = None  # dask-cli: the scheduler's process
CLUSTER = []  # dask-cli: the scheduler and worker processes we started
if {dask!r} == "dask-cli":
    import math
    import subprocess
    import tempfile
    from distributed import Client
    from tunesmith.execution import DaskExecutor
    folder = tempfile.mkdtemp()
    scheduler_file = os.path.join(folder, "scheduler.json")
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED="False")
    def start(module, *args):
        process = subprocess.Popen([sys.executable, "-m", module, *args], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        CLUSTER.append(process)
        return process
    SCHEDULER = psutil.Process(start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                     "--no-dashboard", "--scheduler-file", scheduler_file).pid)
    while not os.path.exists(scheduler_file):
        time.sleep(0.05)
    for i in range(8):
        start("distributed.cli.dask_worker", "--scheduler-file", scheduler_file, "--host", "127.0.0.1",
              "--no-dashboard", "--nthreads", "1", "--memory-limit", "0", "--name", f"w{{i}}",
              "--resources", f"CPU={{math.ceil(N / 8) * 0.002 * 1.001}}")
    client = Client(scheduler_file=scheduler_file)
    client.wait_for_workers(8, timeout=120)
    EXECUTOR = DaskExecutor(client, min_workers=8, timeout_s=60)
elif {dask!r} == "dask":
    import math
    import dask
    from distributed import Client, LocalCluster
    from tunesmith.execution import DaskExecutor
    # 8 worker processes; attempts leave the worker's thread pool (they wait on their trial
    # process), so one thread each is enough. Each worker declares the CPU its share of the
    # trials asks for; the driver's ledger places them. Dask's profiler is off, as
    # docs/scaling_out.md advises for hundreds of trials per worker: it samples every thread
    # (one per running attempt) 100 times a second.
    with dask.config.set({{"distributed.worker.profile.enabled": False}}):
        cluster = LocalCluster(n_workers=8, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, memory_limit=0,
                               resources={{"CPU": math.ceil(N / 8) * 0.002 * 1.001}})
    EXECUTOR = DaskExecutor(Client(cluster), min_workers=8, timeout_s=60)

threading.Thread(target=sample_memory, daemon=True).start()
cpu_before = psutil.Process().cpu_times()
scheduler_before = SCHEDULER.cpu_times() if SCHEDULER else None
start = time.perf_counter()
results = tune.Tuner(tune.with_resources(train, {{"cpu": 0.002}}), param_space={{"t": tune.grid_search(list(range(N)))}},
                     tune_config=tune.TuneConfig(executor=EXECUTOR),
                     run_config=tune.RunConfig(storage_path=STORAGE, name="cc", verbose=0,
                                               stop={{"training_iteration": SECONDS}})).fit()
elapsed = time.perf_counter() - start
cpu_after = psutil.Process().cpu_times()
driver_cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
extra = {{}}
if SCHEDULER:
    scheduler_after = SCHEDULER.cpu_times()
    scheduler_cpu = (scheduler_after.user - scheduler_before.user) + (scheduler_after.system - scheduler_before.system)
    extra = dict(scheduler_cpu_s=scheduler_cpu, scheduler_cores=scheduler_cpu / elapsed)
trips = []
for r in results:
    with open(os.path.join(r.path, "result.json")) as f:
        trips += [row["round_trip_s"] for row in map(json.loads, f) if row.get("round_trip_s") is not None]
trips.sort()
n_results = N * SECONDS
finish(start, results, results_reported=n_results, driver_cpu_s=driver_cpu, driver_cores=driver_cpu / elapsed,
       driver_cpu_per_result_ms=1000 * driver_cpu / n_results, p50_ms=1000 * trips[len(trips) // 2],
       p99_ms=1000 * trips[int(len(trips) * 0.99)], max_ms=1000 * trips[-1],
       trial_processes=memory.get("processes", 0), pss_per_trial_mb=memory.get("pss_mb", 0) / N,
       rss_per_trial_mb=memory.get("rss_mb", 0) / N, driver_rss_mb=memory.get("driver_rss_mb", 0),
       load_average=os.getloadavg()[0], **extra)
if EXECUTOR is not None:
    EXECUTOR.close()
    if CLUSTER:
        client.close()
        for process in reversed(CLUSTER):  # the workers, then the scheduler, by pid
            process.terminate()
        for process in CLUSTER:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    else:
        cluster.close()
""",
    "asha": """
import math
import numpy as np

def objective(config):
    quality, tau = config["point"]["quality"], config["point"]["tau"]
    for step in range(1, 28):
        time.sleep(0.05)
        tune.report({{"score": quality * (1 - math.exp(-step / tau))}})

rng = np.random.default_rng(2024)  # the problem of bench_asha.py: 64 trials whose learning curves cross
points = [{{"quality": float(q), "tau": float(t)}} for q, t in zip(rng.uniform(0.2, 1.0, 64), rng.uniform(1.0, 12.0, 64))]
scheduler = tune.schedulers.ASHAScheduler(max_t=27, grace_period=1, reduction_factor=3)
start = time.perf_counter()
results = tune.Tuner(objective, param_space={{"point": tune.grid_search(points)}},
                     tune_config=tune.TuneConfig(metric="score", mode="max", scheduler=scheduler),
                     run_config=tune.RunConfig(storage_path=STORAGE, name="asha", verbose=0)).fit()
steps = sum(r.metrics["training_iteration"] for r in results)
finish(start, results, steps=steps, floor_s=steps * 0.05 / 2, best=max(r.metrics["score"] for r in results))
""",
}

OPTUNA_ANCHOR = """
import json, time, optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
start = time.perf_counter()
study.optimize(lambda trial: trial.suggest_int("i", 0, 10000), n_trials=10000)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def _environment(**extra: str) -> dict[str, str]:
    """A user's environment: default loggers on, and bytecode caching on (as after a pip
    install; PYTHONDONTWRITEBYTECODE would make every run compile every module again)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS")}
    return dict(env, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", **extra)


def _run_program(python: str, code: str, engine: str) -> dict:
    env = _environment(RAY_DEDUP_LOGS="0", PYTHONWARNINGS="ignore")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if out.returncode != 0:
        raise RuntimeError(f"{engine} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _workload(name: str, engine: str, python: str, args: argparse.Namespace) -> dict:
    if name == "quickstart":
        return _quickstart(engine, python)
    if name == "analysis100000":
        return _analysis(python, 20_000 if args.short else 100_000)
    if name == "restore100000":
        return _restore(python, 20_000 if args.short else 100_000)
    seconds = 0
    reuse = name.endswith("-reuse")
    name = name.removesuffix("-reuse")
    kind, n = ("trivial", name[len("trivial"):]) if name.startswith("trivial") else (name, "")
    if kind == "concurrent":
        n, seconds = (100, 10) if args.short else (1000, 60)
        n, seconds = args.trials or n, args.seconds or seconds
    if name == "trivial100000" and args.short:
        n = 20_000
    code = PRELUDE.format(imports=IMPORTS[engine]) + WORKLOADS[kind].format(
        n=n or 0, seconds=seconds, dask=args.engine, reuse=reuse)
    return _run_program(python, code, engine)


def _trivial_folder(python: str, kind: str, n: int) -> tuple[str, dict]:
    """A folder of ``n`` finished trivial trials under /tmp (built by the first call, then kept)."""
    path = os.path.join(tempfile.gettempdir(), f"tunesmith_bench_{kind}{n}", "trivial")
    if os.path.exists(os.path.join(path, ".complete")):
        return path, {}
    code = (PRELUDE.format(imports=IMPORTS["tunesmith"]).replace("STORAGE = tempfile.mkdtemp()",
                                                                    f"STORAGE = {os.path.dirname(path)!r}")
            + WORKLOADS["trivial"].format(n=n, reuse=True))
    shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    run = _run_program(python, code, "tunesmith")  # the trivial workload with reuse_actors=True
    open(os.path.join(path, ".complete"), "w").close()
    return path, {"build_s": run["seconds"], "build_driver_peak_rss_mb": run["driver_peak_rss_mb"]}


def _analysis(python: str, n: int) -> dict:
    """Open a folder of ``n`` trivial trials (built by the first call, then kept) in a fresh process."""
    path, built = _trivial_folder(python, "analysis", n)
    code = PRELUDE.format(imports="import tunesmith as tune\n") + WORKLOADS["analysis"].format(path=path, n=n)
    return {**_run_program(python, code, "tunesmith"), **built}


def _restore(python: str, n: int) -> dict:
    """Restore and fit a folder of ``n`` finished trivial trials in a fresh process; the folder's
    top-level files (journal, searcher state) are put back afterwards, so each run restores the
    same experiment (a restore that re-runs nothing writes nothing in the trial folders)."""
    path, built = _trivial_folder(python, "restore", n)
    pristine = os.path.join(os.path.dirname(path), "pristine")
    if not os.path.isdir(pristine):
        os.makedirs(pristine + ".tmp", exist_ok=True)
        for entry in os.scandir(path):
            if entry.is_file():
                shutil.copy2(entry.path, pristine + ".tmp")
        os.rename(pristine + ".tmp", pristine)
    _put_back(pristine, path)  # after a run that died half-way too
    code = PRELUDE.format(imports="import tunesmith as tune\n") + WORKLOADS["restore"].format(path=path, n=n)
    try:
        return {**_run_program(python, code, "tunesmith"), **built}
    finally:
        _put_back(pristine, path)


def _put_back(pristine: str, path: str) -> None:
    for entry in os.scandir(path):
        if entry.is_file() and not os.path.exists(os.path.join(pristine, entry.name)):
            os.remove(entry.path)
    for entry in os.scandir(pristine):
        shutil.copy2(entry.path, path)


def _quickstart(engine: str, python: str) -> dict:
    with open(os.path.join(ROOT, "examples", "quickstart.py")) as f:
        code = f.read()
    if engine == "ray":
        code = code.replace("import tunesmith as tune", "import ray\nfrom ray import tune\n"
                            "ray.init(include_dashboard=False, _node_ip_address='127.0.0.1')  # stays on 127.0.0.1")
    env = _environment(TUNESMITH_STORAGE_PATH=tempfile.mkdtemp())
    start = time.perf_counter()
    subprocess.run([python, "-c", code], check=True, capture_output=True, env=env, cwd=tempfile.gettempdir())
    return {"seconds": time.perf_counter() - start}


def _summary(runs: list[dict]) -> dict:
    keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float))]
    summary = {k: statistics.median(r[k] for r in runs) for k in keys}
    if "floor_s" in summary:
        summary["ratio_to_floor"] = summary["seconds"] / summary["floor_s"]
    return summary


def _fmt(summary: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in summary.items() if k not in ("errors", "floor_s"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", default=["quickstart", "trivial200", "trivial10000", "bookkeeping",
                                                        "throughput", "flatout", "checkpoints", "asha"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--short", action="store_true", help="concurrent: 100 trials for 10 s; trivial100000, "
                        "analysis100000 and restore100000: 20,000 trials (a quick check)")
    parser.add_argument("--trials", type=int, default=None, help="concurrent: this many trials")
    parser.add_argument("--seconds", type=int, default=None, help="concurrent: this many reports, one a second")
    parser.add_argument("--engine", choices=["local", "dask", "dask-cli"], default="local",
                        help="concurrent: the local executor, or a local Dask cluster of 8 worker processes "
                             "(dask: LocalCluster, its scheduler in the driver; dask-cli: dask scheduler/worker "
                             "processes)")
    parser.add_argument("--ray", default=None, help="a Python interpreter that can import ray.tune")
    parser.add_argument("--ray-repeat", type=int, default=None, help="repeats for Ray Tune (default: --repeat)")
    args = parser.parse_args()
    if args.ray and os.sep in args.ray:
        args.ray = os.path.abspath(args.ray)  # the programs run in the temporary folder
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    for name in args.workloads:
        engines = {"tunesmith": sys.executable}
        if args.ray and name not in ("trivial10000", "trivial100000", "trivial100000-reuse", "analysis100000",
                                     "restore100000", "concurrent"):
            engines["ray"] = args.ray
        runs: dict[str, list[dict]] = {engine: [] for engine in engines}
        for i in range(args.repeat):  # A B A B
            for engine, python in engines.items():
                if engine == "ray" and args.ray_repeat is not None and i >= args.ray_repeat:
                    continue
                runs[engine].append(_workload(name, engine, python, args))
        for engine, engine_runs in runs.items():
            print(f"{name:13s} {engine:9s} median of {len(engine_runs)}: {_fmt(_summary(engine_runs))}", flush=True)
        if name == "trivial10000":
            anchor = [_run_program(sys.executable, OPTUNA_ANCHOR, "optuna") for _ in range(args.repeat)]
            print(f"{name:13s} {'optuna':9s} median of {len(anchor)}: {_fmt(_summary(anchor))} "
                  "(in process, nothing written)", flush=True)


if __name__ == "__main__":
    main()
