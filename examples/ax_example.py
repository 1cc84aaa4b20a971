"""The experiment of Ray Tune's ``ax_example.py``, written for tunesmith: Ax minimizes the
6-D Hartmann function under a parameter constraint (``x1 + x2 <= 2.0``) and an outcome
constraint (``l2norm <= 1.25``), four trials at a time, with ASHA stopping the worst trials
early.

Run: python examples/ax_example.py --smoke-test
Needs: pip install "tunesmith[ax]"
"""

import argparse
import time

import numpy as np

import tunesmith as tune
from tunesmith.schedulers import AsyncHyperBandScheduler
from tunesmith.search import ConcurrencyLimiter
from tunesmith.search.ax import AxSearch

# The Hartmann 6-D test function: 4 Gaussian wells in the unit cube; minimum -3.32237 at
# (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573).
ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
A = np.array([
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
])
P = 1e-4 * np.array([
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
])


def hartmann6(x):
    return float(-ALPHA @ np.exp(-(A * (x - P) ** 2).sum(axis=1)))


def landscape(config):
    x = np.array([config[f"x{i}"] for i in range(1, 7)])
    for i in range(config["iterations"]):
        time.sleep(0.02)
        tune.report({"timesteps_total": i, "hartmann6": hartmann6(x), "l2norm": float(np.sqrt((x ** 2).sum()))})


def run_ax_tune(smoke_test=False):
    # The smoke test stays in Ax's quasi-random (Sobol) phase: each Bayesian-optimization
    # step fits a Gaussian process and can take minutes on a small, busy machine.
    budget = {"initialization_budget": 10} if smoke_test else {}
    searcher = AxSearch(parameter_constraints=["x1 + x2 <= 2.0"], outcome_constraints=["l2norm <= 1.25"],
                        random_seed=0, **budget)
    tuner = tune.Tuner(
        landscape,
        tune_config=tune.TuneConfig(metric="hartmann6", mode="min", search_alg=ConcurrencyLimiter(searcher, max_concurrent=4),
                                    scheduler=AsyncHyperBandScheduler(), num_samples=6 if smoke_test else 50),
        run_config=tune.RunConfig(name="ax", stop={"timesteps_total": 100}),
        param_space={
            "iterations": 5 if smoke_test else 100,
            "x1": tune.uniform(0.0, 1.0),
            "x2": tune.uniform(0.0, 1.0),
            "x3": tune.uniform(0.0, 1.0),
            "x4": tune.uniform(0.0, 1.0),
            "x5": tune.uniform(0.0, 1.0),
            "x6": tune.uniform(0.0, 1.0),
        },
    )
    results = tuner.fit()
    print("Best hyperparameters found were: ", results.get_best_result().config)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()
    run_ax_tune(smoke_test=args.smoke_test)
