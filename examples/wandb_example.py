"""Weights & Biases, offline: every trial becomes a W&B run without an account.

Two ways, as in Ray Tune's ``wandb_example.py``: ``WandbLoggerCallback`` logs each
trial's results from the driver; ``setup_wandb`` inside the trainable gives the trial a
run of its own to log to. Offline runs are written into each trial's folder
(``<trial>/wandb/offline-run-*``); ``wandb sync <folder>`` uploads them later.

Run: python examples/wandb_example.py --smoke-test
     python examples/wandb_example.py --mode online      (needs WANDB_API_KEY)
"""

import argparse
import glob
import os
import time

import tunesmith as tune
from tunesmith.integration.wandb import WandbLoggerCallback, setup_wandb


def train_function(config):
    for step in range(config["steps"]):
        tune.report({"loss": config["mean"] + config["sd"] / (step + 1)})
        time.sleep(0.05)


def train_with_setup_wandb(config):
    run = setup_wandb(config, project="tunesmith-wandb-example", mode=config["mode"])
    for step in range(config["steps"]):
        loss = config["mean"] + config["sd"] / (step + 1)
        run.log({"loss": loss})
        tune.report({"loss": loss})


def offline_runs(results):
    return sorted(glob.glob(os.path.join(glob.escape(results.experiment_path), "*", "wandb", "offline-run-*")))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    parser.add_argument("--mode", default="offline", choices=["offline", "online"])
    args, _ = parser.parse_known_args(argv)
    os.environ.setdefault("WANDB_SILENT", "true")
    space = {"mean": tune.grid_search([1, 2]), "sd": tune.uniform(0.2, 0.8),
             "steps": 3 if args.smoke_test else 30, "mode": args.mode}

    results = tune.Tuner(
        train_function, param_space=space,
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(name="wandb_callback", verbose=0, callbacks=[
            WandbLoggerCallback(project="tunesmith-wandb-example", mode=args.mode)]),
    ).fit()
    print(f"WandbLoggerCallback: {len(results)} trials, best loss {results.get_best_result().metrics['loss']:.3f}")
    if args.mode == "offline":
        print(f"  offline runs: {len(offline_runs(results))}")

    results = tune.Tuner(
        train_with_setup_wandb, param_space=space,
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(name="wandb_setup", verbose=0),
    ).fit()
    print(f"setup_wandb: {len(results)} trials, {results.num_errors} errors")
    if args.mode == "offline":
        print(f"  offline runs: {len(offline_runs(results))}")


if __name__ == "__main__":
    main()
