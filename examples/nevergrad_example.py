"""The experiment of Ray Tune's ``nevergrad_example.py``, written for tunesmith: Nevergrad's
(1+1) evolution strategy searches width/height/activation, four trials at a time, with ASHA
stopping the worst trials early.

``import nevergrad`` fails next to bayesian-optimization >= 2 (nevergrad 1.0 imports an API
that bayesian-optimization 2 removed; see docs/compatibility.md), so this example names the
optimizer (``"OnePlusOne"``) and lets ``NevergradSearch`` import nevergrad. Where
``import nevergrad as ng`` works, ``ng.optimizers.OnePlusOne`` is the same optimizer.

Run: python examples/nevergrad_example.py --smoke-test
Needs: pip install "tunesmith[nevergrad]"
"""

import argparse
import time

import tunesmith as tune
from tunesmith.schedulers import AsyncHyperBandScheduler
from tunesmith.search import ConcurrencyLimiter
from tunesmith.search.nevergrad import NevergradSearch


def evaluate(step, width, height, activation):
    time.sleep(0.05)
    activation_boost = 10 if activation == "relu" else 0
    return (0.1 + width * step / 100) ** (-1) + height * 0.1 + activation_boost


def objective(config):
    for step in range(config["steps"]):
        score = evaluate(step, config["width"], config["height"], config["activation"])
        tune.report({"iterations": step, "mean_loss": score})


def run_nevergrad_tune(smoke_test=False):
    searcher = ConcurrencyLimiter(NevergradSearch(optimizer="OnePlusOne"), max_concurrent=4)
    tuner = tune.Tuner(
        objective,
        tune_config=tune.TuneConfig(metric="mean_loss", mode="min", search_alg=searcher,
                                    scheduler=AsyncHyperBandScheduler(), num_samples=10 if smoke_test else 50),
        param_space={
            "steps": 5 if smoke_test else 100,
            "width": tune.uniform(0, 20),
            "height": tune.uniform(-100, 100),
            "activation": tune.choice(["relu", "tanh"]),
        },
    )
    results = tuner.fit()
    print("Best hyperparameters found were: ", results.get_best_result().config)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()
    run_nevergrad_tune(smoke_test=args.smoke_test)
