"""The experiment of Ray Tune's ``bohb_example.py``, written for tunesmith: BOHB, that is
the HyperBandForBOHB scheduler (which trials go on, and for how long) with the TuneBOHB
searcher (a density model per budget proposes new configs), on a class trainable that
checkpoints.

HyperBandForBOHB pauses trials at each milestone and resumes the best from their
checkpoints, so the trainable saves and loads its state.

Run: python examples/bohb_example.py --smoke-test
Needs: pip install "tunesmith[bohb]"
"""

import argparse
import json
import os
import time

import numpy as np

import tunesmith as tune
from tunesmith.schedulers import HyperBandForBOHB
from tunesmith.search.bohb import TuneBOHB


class MyTrainableClass(tune.Trainable):
    """A toy trainable whose loss falls each step, faster for a good width/height."""

    def setup(self, config):
        self.timestep = 0

    def step(self):
        self.timestep += 1
        time.sleep(0.02)
        v = np.tanh(float(self.timestep) / self.config.get("width", 1))
        v *= self.config.get("height", 1)
        if self.config["activation"] == "relu":
            v *= 1.2
        # The value keeps changing with each step, so BOHB has something to compare per budget.
        return {"episode_reward_mean": v}

    def save_checkpoint(self, checkpoint_dir):
        path = os.path.join(checkpoint_dir, "checkpoint.json")
        with open(path, "w") as f:
            json.dump({"timestep": self.timestep}, f)

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "checkpoint.json")) as f:
            self.timestep = json.load(f)["timestep"]


def run_bohb_tune(smoke_test=False):
    max_t = 9 if smoke_test else 100
    scheduler = HyperBandForBOHB(time_attr="training_iteration", max_t=max_t, reduction_factor=3 if smoke_test else 4,
                                 stop_last_trials=False)
    searcher = TuneBOHB(seed=0)
    tuner = tune.Tuner(
        MyTrainableClass,
        tune_config=tune.TuneConfig(metric="episode_reward_mean", mode="max", scheduler=scheduler, search_alg=searcher,
                                    num_samples=8 if smoke_test else 100),
        run_config=tune.RunConfig(name="bohb_test", stop={"training_iteration": max_t}),
        param_space={
            "iterations": max_t,
            "width": tune.uniform(1, 20),
            "height": tune.uniform(-10, 10),
            "activation": tune.choice(["relu", "tanh"]),
        },
    )
    results = tuner.fit()
    print("Best hyperparameters found were: ", results.get_best_result().config)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()
    run_bohb_tune(smoke_test=args.smoke_test)
