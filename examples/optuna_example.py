"""The experiment of Ray Tune's ``optuna_example.py``, written for tunesmith: Optuna's TPE
sampler searches a width/height/activation space, four trials at a time.

Run: python examples/optuna_example.py --smoke-test
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
    for step in range(config["steps"]):
        score = evaluate(step, config["width"], config["height"], config["activation"])
        tune.report({"iterations": step, "mean_loss": score})


def run_optuna_tune(smoke_test=False):
    # Default sampler: TPESampler(seed=..., constant_liar=True), so the four trials that run
    # at once do not all get the same suggestion.
    searcher = ConcurrencyLimiter(OptunaSearch(seed=0), max_concurrent=4)
    tuner = tune.Tuner(
        objective,
        tune_config=tune.TuneConfig(metric="mean_loss", mode="min", search_alg=searcher,
                                    num_samples=10 if smoke_test else 100),
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
    run_optuna_tune(smoke_test=args.smoke_test)
