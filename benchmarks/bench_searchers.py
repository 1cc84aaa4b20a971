"""Every searcher on the 6-D Hartmann function, through the real Tuner, and plain Optuna.

Usage:
    python benchmarks/bench_searchers.py [searcher ...] [--trials 100] [--seeds 3]
        [--slow-trials 30] [--slow-seeds 1] [--json FILE]

Searchers (default: all): random, optuna, hyperopt, ax, bayesopt, bohb, nevergrad, hebo,
zoopt, and ``optuna-study`` (the anchor: Optuna's own ``study.optimize`` in this process,
no Tuner, nothing on disk).

Each searcher minimizes Hartmann6 (six ``uniform(0, 1)`` parameters; minimum -3.32237) in
``--trials`` trials, one trial at a time (``max_concurrent_trials=1``, so model-based
searchers see every result before the next suggestion, as ``study.optimize`` does). Ax and
HEBO run ``--slow-trials`` trials with ``--slow-seeds`` seeds: each of their model-based
steps fits a Gaussian process and takes seconds (Ax: tens of seconds on 2 busy CPUs). Every (searcher, seed) pair runs in a fresh process; the table gives the
best value found (mean over seeds, and the worst seed) and the wall time of ``fit()`` (or
of ``study.optimize``), imports excluded. Each searcher runs with its defaults plus a seed:

    random       BasicVariantGenerator(random_state=seed)
    optuna       OptunaSearch(seed=seed)                      TPE
    hyperopt     HyperOptSearch(random_state_seed=seed)       TPE, 20 random trials first
    ax           AxSearch(random_seed=seed)                   Sobol, then BoTorch
    bayesopt     BayesOptSearch(random_state=seed)            GP-UCB, 10 random trials first
    bohb         TuneBOHB(seed=seed)                          FIFO scheduler (one budget)
    nevergrad    NevergradSearch("NGOpt", {"budget": trials}, seed=seed)
    hebo         HEBOSearch(random_state_seed=seed)
    zoopt        ZOOptSearch(budget=trials, seed=seed)        asynchronous RACOS
    optuna-study optuna.create_study(sampler=TPESampler(seed=seed)).optimize(f, trials)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SLOW = ("ax", "hebo")
SEARCHERS = ("random", "optuna", "hyperopt", "ax", "bayesopt", "bohb", "nevergrad", "hebo", "zoopt", "optuna-study")

# One run: a fresh process runs this with the searcher name, trials and seed filled in, and
# prints one JSON line. It ends with os._exit: Nevergrad's NGOpt may leave a non-daemon
# thread (a scipy optimizer waiting for its next point) that would keep the process alive.
RUN = r'''
import json, logging, os, sys, tempfile, time, warnings
import numpy as np
warnings.simplefilter("ignore")
logging.disable(logging.INFO)
NAME, TRIALS, SEED = {name!r}, {trials}, {seed}

ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
A = np.array([[10.0, 3.0, 17.0, 3.5, 1.7, 8.0], [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
              [3.0, 3.5, 1.7, 10.0, 17.0, 8.0], [17.0, 8.0, 0.05, 10.0, 0.1, 14.0]])
P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])

def hartmann6(x):
    return float(-ALPHA @ np.exp(-(A * (np.asarray(x) - P) ** 2).sum(axis=1)))

def report(best, seconds, trials):
    print(json.dumps({{"best": best, "seconds": seconds, "trials": trials}}), flush=True)
    os._exit(0)

if NAME == "optuna-study":
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=SEED))
    start = time.perf_counter()
    study.optimize(lambda t: hartmann6([t.suggest_float(f"x{{i}}", 0, 1) for i in range(1, 7)]), n_trials=TRIALS)
    report(study.best_value, time.perf_counter() - start, len(study.trials))

import tunesmith as tune
try:
    import tensorboardX  # the default TensorBoard logger imports it (and torch) during the first fit
except ImportError:
    pass

def objective(config):
    return {{"hartmann6": hartmann6([config[f"x{{i}}"] for i in range(1, 7)])}}

def searcher():
    if NAME == "random":
        from tunesmith.search import BasicVariantGenerator
        return BasicVariantGenerator(random_state=SEED)
    if NAME == "optuna":
        from tunesmith.search.optuna import OptunaSearch
        return OptunaSearch(seed=SEED)
    if NAME == "hyperopt":
        from tunesmith.search.hyperopt import HyperOptSearch
        return HyperOptSearch(random_state_seed=SEED)
    if NAME == "ax":
        from tunesmith.search.ax import AxSearch
        return AxSearch(random_seed=SEED)
    if NAME == "bayesopt":
        from tunesmith.search.bayesopt import BayesOptSearch
        return BayesOptSearch(random_state=SEED)
    if NAME == "bohb":
        from tunesmith.search.bohb import TuneBOHB
        return TuneBOHB(seed=SEED)
    if NAME == "nevergrad":
        from tunesmith.search.nevergrad import NevergradSearch
        return NevergradSearch("NGOpt", {{"budget": TRIALS}}, seed=SEED)
    if NAME == "hebo":
        from tunesmith.search.hebo import HEBOSearch
        return HEBOSearch(random_state_seed=SEED)
    if NAME == "zoopt":
        from tunesmith.search.zoopt import ZOOptSearch
        return ZOOptSearch(budget=TRIALS, seed=SEED)
    raise SystemExit(f"unknown searcher {{NAME}}")

tuner = tune.Tuner(
    objective,
    param_space={{f"x{{i}}": tune.uniform(0.0, 1.0) for i in range(1, 7)}},
    tune_config=tune.TuneConfig(metric="hartmann6", mode="min", search_alg=searcher(), num_samples=TRIALS,
                                max_concurrent_trials=1),
    run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(), verbose=0),
)
start = time.perf_counter()
results = tuner.fit()
seconds = time.perf_counter() - start
best = results.get_best_result().metrics["hartmann6"]
report(best, seconds, len(results))
'''


def run_one(name: str, trials: int, seed: int) -> dict:
    """Run one searcher once, in a fresh process; its JSON line as a dict."""
    code = RUN.format(name=name, trials=trials, seed=seed)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{name} (seed {seed}) failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("searchers", nargs="*", help=f"any of {', '.join(SEARCHERS)} (default: all)")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--slow-trials", type=int, default=30, help="trials for Ax and HEBO")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--slow-seeds", type=int, default=1, help="seeds for Ax and HEBO")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.searchers) - set(SEARCHERS))
    if unknown:
        parser.error(f"unknown searchers {unknown}; choose from {', '.join(SEARCHERS)}")
    rows = []
    print("Hartmann6 (minimum -3.32237), one trial at a time")
    print(f"{'searcher':<14}{'trials':>7}{'seeds':>6}{'best (mean)':>13}{'worst seed':>12}{'fit s (mean)':>14}{'s/trial':>9}")
    for name in args.searchers or SEARCHERS:
        trials, seeds = (args.slow_trials, args.slow_seeds) if name in SLOW else (args.trials, args.seeds)
        runs = [run_one(name, trials, seed) for seed in range(seeds)]
        row = {
            "searcher": name,
            "trials": trials,
            "seeds": seeds,
            "best_mean": statistics.mean(r["best"] for r in runs),
            "best_worst": max(r["best"] for r in runs),
            "seconds_mean": statistics.mean(r["seconds"] for r in runs),
            "runs": runs,
        }
        rows.append(row)
        print(f"{name:<14}{trials:>7}{seeds:>6}{row['best_mean']:>13.3f}{row['best_worst']:>12.3f}"
              f"{row['seconds_mean']:>14.1f}{row['seconds_mean'] / trials:>9.3f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"started": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
