"""The experiment of Ray Tune's ``logging_example.py``, written for tunesmith: a custom
logger callback, custom trial names and folders, and a search over five samples.

Run: python examples/logging_example.py --smoke-test
"""

import argparse
import time

import tunesmith as tune
from tunesmith.logger import LoggerCallback, pretty_print


class PrintingLoggerCallback(LoggerCallback):
    """Prints each result of each trial as it arrives."""

    def log_trial_result(self, iteration, trial, result):
        shown = pretty_print(result, exclude=["date", "hostname", "node_ip", "pid", "timestamp"])
        print(f"PrintingLogger, trial {trial}:\n{shown}")


def trial_str_creator(trial):
    return f"{trial.trainable_name}_{trial.trial_id}_123"


def evaluation_fn(step, width, height):
    time.sleep(0.1)
    return (0.1 + width * step / 100) ** (-1) + height * 0.1


def easy_objective(config):
    width, height = config["width"], config["height"]
    for step in range(config["steps"]):
        tune.report({"iterations": step, "mean_loss": evaluation_fn(step, width, height)})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()

    tuner = tune.Tuner(
        easy_objective,
        run_config=tune.RunConfig(
            name="logging_example",
            callbacks=[PrintingLoggerCallback()],
            stop={"training_iteration": 1 if args.smoke_test else 100},
        ),
        tune_config=tune.TuneConfig(
            metric="mean_loss",
            mode="min",
            num_samples=5,
            trial_name_creator=trial_str_creator,
            trial_dirname_creator=trial_str_creator,
        ),
        param_space={
            "steps": 100,
            "momentum": tune.uniform(0.1, 0.9),
            "width": tune.randint(10, 100),
            "height": tune.loguniform(10, 100),
            "activation": tune.choice(["relu", "tanh"]),
        },
    )
    results = tuner.fit()
    print("Best hyperparameters: ", results.get_best_result().config)
