"""ASHA against FIFO on a synthetic multi-fidelity problem, on the real Tuner with 2 CPUs.

Usage:
    python benchmarks/bench_asha.py [--trials 64] [--max-t 27] [--step-s 0.05] [--repeat 1]

Each trial has a quality ``q`` and a learning speed ``tau`` (both drawn with a fixed seed)
and, after ``t`` steps of ``--step-s`` seconds each, scores ``q * (1 - exp(-t / tau))``;
slow learners that end well look poor early, so the curves cross. The target is 95% of
the best score any trial reaches at ``--max-t``. FIFO trains every trial to the end;
ASHA (``grace_period=1``, ``reduction_factor=3``) stops the trials that are not in the top
third of a rung.

For each scheduler the table gives, read from the ResultGrid (each trial's rows):
    to target   seconds from fit() to the first result at or above the target
    steps       training steps spent in all (the sum of the trials' last training_iteration)
    fit         seconds fit() took in all
    best        the best score reached
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time

import numpy as np

import tunesmith as tune
from tunesmith.schedulers import ASHAScheduler, FIFOScheduler


def curve(quality: float, tau: float, step: int) -> float:
    return quality * (1 - math.exp(-step / tau))


def objective(config: dict) -> None:
    point = config["point"]
    for step in range(1, config["max_t"] + 1):
        time.sleep(config["step_s"])
        tune.report({"score": curve(point["quality"], point["tau"], step), "wall": time.time()})


def problem(trials: int, max_t: int) -> tuple[list[dict], float]:
    """The trials' (quality, tau), in the order they are run, and the target score."""
    rng = np.random.default_rng(2024)
    points = [{"quality": float(q), "tau": float(tau)} for q, tau in zip(rng.uniform(0.2, 1.0, trials), rng.uniform(1.0, 12.0, trials))]
    best = max(curve(p["quality"], p["tau"], max_t) for p in points)
    return points, 0.95 * best


def run(scheduler_name: str, points: list[dict], target: float, max_t: int, step_s: float) -> dict:
    scheduler = ASHAScheduler(max_t=max_t, grace_period=1, reduction_factor=3) if scheduler_name == "ASHA" else FIFOScheduler()
    tune.init(num_cpus=2)
    tuner = tune.Tuner(
        objective,
        param_space={"point": tune.grid_search(points), "max_t": max_t, "step_s": step_s},
        tune_config=tune.TuneConfig(metric="score", mode="max", scheduler=scheduler),
        run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(), verbose=0),
    )
    start = time.time()
    grid = tuner.fit()
    fit_s = time.time() - start
    reached = [row["wall"] - start for r in grid for row in r.metrics_dataframe.to_dict("records") if row["score"] >= target]
    return {
        "scheduler": scheduler_name,
        "to_target_s": min(reached) if reached else math.nan,
        "steps": sum(r.metrics["training_iteration"] for r in grid),
        "fit_s": fit_s,
        "best": max(r.metrics["score"] for r in grid),
        "errors": grid.num_errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--max-t", type=int, default=27)
    parser.add_argument("--step-s", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    points, target = problem(args.trials, args.max_t)
    print(f"{args.trials} trials, up to {args.max_t} steps of {args.step_s} s, 2 CPUs; target score {target:.4f}")
    rows = []
    for name in ("FIFO", "ASHA"):
        runs = [run(name, points, target, args.max_t, args.step_s) for _ in range(args.repeat)]
        rows.append({k: (statistics.median(r[k] for r in runs) if k != "scheduler" else name) for k in runs[0]})
    print(f"{'scheduler':<10} {'to target (s)':>14} {'steps':>7} {'fit (s)':>8} {'best':>7}")
    for row in rows:
        print(f"{row['scheduler']:<10} {row['to_target_s']:>14.2f} {row['steps']:>7.0f} {row['fit_s']:>8.2f} {row['best']:>7.4f}")
    fifo, asha = rows
    print(f"ASHA reached the target {fifo['to_target_s'] / asha['to_target_s']:.1f}x sooner with "
          f"{fifo['steps'] / asha['steps']:.1f}x fewer steps")


if __name__ == "__main__":
    main()
