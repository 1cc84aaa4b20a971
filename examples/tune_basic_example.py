"""The experiment of Ray Tune's ``tune_basic_example.py``, written for tunesmith: a random
search that reports an intermediate score each step.

Run: python examples/tune_basic_example.py --smoke-test
"""

import argparse
import time

import tunesmith as tune


def evaluation_fn(step, width, height):
    time.sleep(0.1)
    return (0.1 + width * step / 100) ** (-1) + height * 0.1


def easy_objective(config):
    width, height = config["width"], config["height"]
    for step in range(config["steps"]):
        intermediate_score = evaluation_fn(step, width, height)
        tune.report({"iterations": step, "mean_loss": intermediate_score})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()

    tuner = tune.Tuner(
        easy_objective,
        tune_config=tune.TuneConfig(metric="mean_loss", mode="min", num_samples=5 if args.smoke_test else 50),
        param_space={
            "steps": 5 if args.smoke_test else 100,
            "width": tune.uniform(0, 20),
            "height": tune.uniform(-100, 100),
            "activation": tune.grid_search(["relu", "tanh"]),
        },
    )
    results = tuner.fit()
    print("Best hyperparameters found were: ", results.get_best_result().config)
