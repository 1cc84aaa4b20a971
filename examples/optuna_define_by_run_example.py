"""The experiment of Ray Tune's ``optuna_define_by_run_example.py``, written for tunesmith:
the search space is a function of the Optuna trial, so which parameters exist depends on
earlier choices.

Run: python examples/optuna_define_by_run_example.py --smoke-test
Needs: pip install "tunesmith[optuna]"
"""

import argparse
import functools
import time
from typing import Any, Dict, Optional

import tunesmith as tune
from tunesmith.search import ConcurrencyLimiter
from tunesmith.search.optuna import OptunaSearch


def evaluate(step, width, height, mult=1):
    time.sleep(0.05)
    return (0.1 + width * step / 100) ** (-1) + height * 0.1 * mult


def objective(config):
    for step in range(config["steps"]):
        score = evaluate(step, config["width"], config["height"], config.get("mult", 1))
        tune.report({"iterations": step, "mean_loss": score})


def define_by_run_func(trial, steps=100) -> Optional[Dict[str, Any]]:
    """Suggest parameters with the Optuna trial; return the constants to add to the config.

    Only ``relu`` trials have a ``mult`` parameter: a conditional space.
    """
    activation = trial.suggest_categorical("activation", ["relu", "tanh"])
    trial.suggest_float("width", 0, 20)
    trial.suggest_float("height", -100, 100)
    if activation == "relu":
        trial.suggest_float("mult", 1, 2)
    return {"steps": steps}


def run_optuna_tune(smoke_test=False):
    space = functools.partial(define_by_run_func, steps=5 if smoke_test else 100)
    searcher = ConcurrencyLimiter(OptunaSearch(space=space, metric="mean_loss", mode="min", seed=0), max_concurrent=4)
    tuner = tune.Tuner(
        objective,
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=10 if smoke_test else 100),
    )
    results = tuner.fit()
    print("Best hyperparameters for loss found were: ", results.get_best_result("mean_loss", "min").config)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()
    run_optuna_tune(smoke_test=args.smoke_test)
