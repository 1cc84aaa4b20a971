"""The experiment of Ray Tune's ``pb2_example.py``, written for tunesmith: the toy problem
of ``pbt_function.py`` with PB2, whose explore step is a Gaussian-process bandit over
``hyperparam_bounds`` instead of random perturbations. Needs ``pip install
"tunesmith[pb2]"``.

Run: python examples/pb2_example.py --smoke-test
"""

import argparse
import os
import sys

import tunesmith as tune
from tunesmith.schedulers.pb2 import PB2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pbt_function import pbt_function  # noqa: E402  (the examples folder, also when run from elsewhere)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()

    pbt = PB2(
        time_attr="training_iteration",
        perturbation_interval=5 if args.smoke_test else 20,
        hyperparam_bounds={
            # hyperparameter bounds
            "lr": [0.0001, 0.02],
        },
    )

    tuner = tune.Tuner(
        pbt_function,
        run_config=tune.RunConfig(
            name="pbt_test",
            verbose=False,
            stop={"training_iteration": 20 if args.smoke_test else 30},
            failure_config=tune.FailureConfig(fail_fast=True),
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
            # a hyperparameter outside the bounds: PB2 leaves it alone
            "some_other_factor": 1,
            "checkpoint_interval": 5,
        },
    )
    results = tuner.fit()
    print("Best hyperparameters found were: ", results.get_best_result().config)
