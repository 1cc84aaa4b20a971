"""The experiment of Ray Tune's ``optuna_multiobjective_example.py``, written for tunesmith:
Optuna searches for configs that keep ``loss`` low and ``gain`` high at once (a Pareto
front); ``hidden`` is only recorded (mode ``"obs"``).

Run: python examples/optuna_multiobjective_example.py --smoke-test
Needs: pip install "tunesmith[optuna]"
"""

import argparse
import time

import tunesmith as tune
from tunesmith.search import ConcurrencyLimiter
from tunesmith.search.optuna import OptunaSearch


def evaluate(step, width, height, activation):
    time.sleep(0.05)
    activation_boost = 10 if activation == "relu" else 0
    return (0.1 + width * step / 100) ** (-1) + height * 0.1 + activation_boost


def objective(config):
    # Both objectives fall with height: a lower loss costs gain.
    for step in range(config["steps"]):
        loss = evaluate(step, config["width"], config["height"], config["activation"])
        gain = evaluate(step, config["width"], -config["height"], config["activation"])
        tune.report({"iterations": step, "loss": loss, "gain": gain, "hidden": 42})


def run_optuna_tune(smoke_test=False):
    searcher = OptunaSearch(metric=["loss", "gain", "hidden"], mode=["min", "max", "obs"], seed=0)
    tuner = tune.Tuner(
        objective,
        tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(searcher, max_concurrent=4),
                                    num_samples=10 if smoke_test else 100),
        param_space={
            "steps": 5 if smoke_test else 100,
            "width": tune.uniform(0, 20),
            "height": tune.uniform(-100, 100),
            "activation": tune.choice(["relu", "tanh"]),
        },
    )
    results = tuner.fit()
    print("Best hyperparameters for loss found were: ", results.get_best_result("loss", "min").config)
    print("Best hyperparameters for gain found were: ", results.get_best_result("gain", "max").config)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()
    run_optuna_tune(smoke_test=args.smoke_test)
