"""The experiment of Ray Tune's ``bayesopt_example.py``, written for tunesmith: a Gaussian
process (bayesian-optimization) proposes width/height, four trials at a time, and ASHA stops
the worst trials early.

Run: python examples/bayesopt_example.py --smoke-test
Needs: pip install "tunesmith[bayesopt]"
"""

import argparse
import time

import tunesmith as tune
from tunesmith.schedulers import AsyncHyperBandScheduler
from tunesmith.search import ConcurrencyLimiter
from tunesmith.search.bayesopt import BayesOptSearch


def evaluate(step, width, height):
    time.sleep(0.05)
    return (0.1 + width * step / 100) ** (-1) + height * 0.1


def objective(config):
    for step in range(config["steps"]):
        score = evaluate(step, config["width"], config["height"])
        tune.report({"iterations": step, "mean_loss": score})


def run_bayesopt_tune(smoke_test=False):
    searcher = BayesOptSearch(utility_kwargs={"kind": "ucb", "kappa": 2.5, "xi": 0.0},
                              random_search_steps=4 if smoke_test else 10)
    scheduler = AsyncHyperBandScheduler()
    tuner = tune.Tuner(
        objective,
        tune_config=tune.TuneConfig(metric="mean_loss", mode="min", search_alg=ConcurrencyLimiter(searcher, max_concurrent=4),
                                    scheduler=scheduler, num_samples=10 if smoke_test else 1000),
        param_space={
            "steps": 5 if smoke_test else 100,
            "width": tune.uniform(0, 20),
            "height": tune.uniform(-100, 100),
        },
    )
    results = tuner.fit()
    print("Best hyperparameters found were: ", results.get_best_result().config)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()
    run_bayesopt_tune(smoke_test=args.smoke_test)
