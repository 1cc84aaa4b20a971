"""The experiment of Ray Tune's ``pbt_function.py``, written for tunesmith: population based
training of a toy problem whose best learning rate changes as training goes on.

The "accuracy" grows fastest when ``lr`` is close to an optimal rate that rises from
0.001 to 0.01 while the accuracy climbs to 100, then falls back to 0.001 by 200 (a
triangle, like many real learning-rate schedules). A fixed ``lr`` gets stuck; PBT's
exploit/explore steps track the triangle with a population of a few trials.

Run: python examples/pbt_function.py --smoke-test
"""

import argparse
import json
import os
import tempfile
import zlib

import numpy as np

import tunesmith as tune
from tunesmith.schedulers import PopulationBasedTraining

MIDPOINT = 100  # the optimal lr peaks here, and training is done at twice this accuracy
TOLERANCE = 3  # an lr further than this factor from the optimum makes things worse
NOISE = 2.0


def optimal_lr(accuracy):
    rising = 0.01 * accuracy / MIDPOINT
    falling = 0.01 - 0.01 * (accuracy - MIDPOINT) / MIDPOINT
    return min(0.01, max(0.001, rising if accuracy < MIDPOINT else falling))


def pbt_function(config):
    lr = config["lr"]
    accuracy, step = 0.0, 1
    checkpoint = tune.get_checkpoint()
    if checkpoint:  # a restart: our own checkpoint after a pause, or a better trial's after an exploit
        with checkpoint.as_directory() as folder, open(os.path.join(folder, "state.json")) as f:
            state = json.load(f)
        accuracy, step = state["accuracy"], state["step"] + 1
    rng = np.random.default_rng([step, zlib.crc32(tune.get_context().get_trial_id().encode())])
    interval = config.get("checkpoint_interval", 1)
    while True:
        best = optimal_lr(accuracy)
        ratio = max(lr, best) / min(lr, best)
        if ratio < TOLERANCE:
            accuracy += rng.random() / ratio
        elif lr > best:
            accuracy -= (ratio - TOLERANCE) * rng.random()
        accuracy = max(0.0, accuracy + NOISE * rng.normal())
        metrics = {"mean_accuracy": accuracy, "cur_lr": lr, "optimal_lr": best, "q_err": ratio}
        if step % interval == 0:
            with tempfile.TemporaryDirectory() as folder:
                with open(os.path.join(folder, "state.json"), "w") as f:
                    json.dump({"accuracy": accuracy, "step": step}, f)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
        else:
            tune.report(metrics)
        step += 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()

    perturbation_interval = 5
    pbt = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=perturbation_interval,
        hyperparam_mutations={
            # distribution for resampling
            "lr": tune.uniform(0.0001, 0.02),
            # allow perturbations within this set of categorical values
            "some_other_factor": [1, 2],
        },
    )

    tuner = tune.Tuner(
        pbt_function,
        run_config=tune.RunConfig(
            name="pbt_function_api_example",
            verbose=False,
            stop={"mean_accuracy": 2 * MIDPOINT, "training_iteration": 20 if args.smoke_test else 1000},
            failure_config=tune.FailureConfig(fail_fast=True),
            checkpoint_config=tune.CheckpointConfig(checkpoint_score_attribute="mean_accuracy", num_to_keep=4),
        ),
        tune_config=tune.TuneConfig(
            scheduler=pbt,
            metric="mean_accuracy",
            mode="max",
            num_samples=4 if args.smoke_test else 8,
            reuse_actors=True,
        ),
        param_space={
            "lr": 0.0001,
            # a hyperparameter the function ignores: PBT perturbs it all the same
            "some_other_factor": 1,
            # checkpoint at each perturbation, so exploits copy the latest state
            "checkpoint_interval": perturbation_interval,
        },
    )
    results = tuner.fit()
    best = results.get_best_result()
    print("Best hyperparameters found were: ", best.config)
    print(f"Best mean_accuracy: {best.metrics['mean_accuracy']:.2f}")
