"""The experiment of Ray Tune's ``hyperband_function_example.py``, written for tunesmith:
synchronous HyperBand pauses trials at each milestone and resumes the best ones from their
checkpoints.

Run: python examples/hyperband_function_example.py --smoke-test
"""

import argparse
import json
import os
import tempfile

import numpy as np

import tunesmith as tune
from tunesmith.schedulers import HyperBandScheduler


def train_func(config):
    step = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:  # resumed after a pause: go on where the checkpoint left off
        with checkpoint.as_directory() as folder, open(os.path.join(folder, "checkpoint.json")) as f:
            step = json.load(f)["timestep"] + 1

    for timestep in range(step, 100):
        v = np.tanh(float(timestep) / config.get("width", 1))
        v *= config.get("height", 1)
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "checkpoint.json"), "w") as f:
                json.dump({"timestep": timestep}, f)
            # every report counts as one training_iteration, which HyperBand budgets
            tune.report({"episode_reward_mean": v}, checkpoint=tune.Checkpoint.from_directory(folder))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()

    # Hyperband early stopping, configured with `episode_reward_mean` as the objective and
    # `training_iteration` as the time unit, which is automatically filled by Tune.
    hyperband = HyperBandScheduler(max_t=9 if args.smoke_test else 200)

    tuner = tune.Tuner(
        train_func,
        run_config=tune.RunConfig(
            name="hyperband_test",
            stop={"training_iteration": 10 if args.smoke_test else 99999},
            failure_config=tune.FailureConfig(fail_fast=True),
            verbose=1,
        ),
        tune_config=tune.TuneConfig(
            num_samples=5 if args.smoke_test else 20,
            metric="episode_reward_mean",
            mode="max",
            scheduler=hyperband,
            reuse_actors=True,
        ),
        param_space={"height": tune.uniform(0, 100), "width": tune.uniform(1, 10)},
    )
    results = tuner.fit()
    print("Best hyperparameters found were: ", results.get_best_result().config)
