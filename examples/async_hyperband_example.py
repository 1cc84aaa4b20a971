"""The experiment of Ray Tune's ``async_hyperband_example.py``, written for tunesmith: ASHA
stops the trials whose intermediate loss is not in the top part of a rung.

Run: python examples/async_hyperband_example.py --smoke-test
"""

import argparse
import time

import tunesmith as tune
from tunesmith.schedulers import AsyncHyperBandScheduler


def evaluation_fn(step, width, height):
    # a made-up loss that falls with the steps, faster for wider "models"
    time.sleep(0.01)
    return (0.1 + width * step / 100) ** (-1) + height * 0.1


def easy_objective(config):
    width, height = config["width"], config["height"]
    for step in range(config["steps"]):
        tune.report({"iterations": step, "mean_loss": evaluation_fn(step, width, height)})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()

    scheduler = AsyncHyperBandScheduler(grace_period=5, max_t=100)
    tuner = tune.Tuner(
        tune.with_resources(easy_objective, {"cpu": 1, "gpu": 0}),
        run_config=tune.RunConfig(
            name="asha_test",
            stop={"training_iteration": 10 if args.smoke_test else 9999},
            verbose=1,
        ),
        tune_config=tune.TuneConfig(metric="mean_loss", mode="min", scheduler=scheduler, num_samples=6 if args.smoke_test else 20),
        param_space={
            "steps": 100,
            "width": tune.uniform(10, 100),
            "height": tune.uniform(0, 100),
        },
    )
    results = tuner.fit()
    print("Best hyperparameters found were: ", results.get_best_result().config)
