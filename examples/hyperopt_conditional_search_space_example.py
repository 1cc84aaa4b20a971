"""The experiment of Ray Tune's ``hyperopt_conditional_search_space_example.py``, written
for tunesmith: a HyperOpt space written with ``hp`` expressions, where ``mult`` exists only
for ``relu``.

HyperOpt samples ``mult`` only when the ``relu`` branch is chosen, and models the two
branches apart.

Run: python examples/hyperopt_conditional_search_space_example.py --smoke-test
Needs: pip install "tunesmith[hyperopt]"
"""

import argparse
import time

from hyperopt import hp

import tunesmith as tune
from tunesmith.search import ConcurrencyLimiter
from tunesmith.search.hyperopt import HyperOptSearch


def f_unpack_dict(dct):
    """Flatten the chosen branch into the config: ``{"activation": {"activation": "relu", "mult": 1.5}}``
    becomes ``{"activation": "relu", "mult": 1.5}``."""
    flat = {}
    for key, value in dct.items():
        if isinstance(value, dict):
            flat.update(f_unpack_dict(value))
        else:
            flat[key] = value
    return flat


def evaluate(step, width, height, mult=1):
    time.sleep(0.05)
    return (0.1 + width * step / 100) ** (-1) + height * 0.1 * mult


def objective(config_in):
    config = f_unpack_dict(config_in)
    for step in range(config["steps"]):
        score = evaluate(step, config["width"], config["height"], config.get("mult", 1))
        tune.report({"iterations": step, "mean_loss": score})


def run_hyperopt_tune(smoke_test=False):
    space = {
        "steps": 5 if smoke_test else 100,
        "width": hp.uniform("width", 0, 20),
        "height": hp.uniform("height", -100, 100),
        "activation": hp.choice("activation", [
            {"activation": "relu", "mult": hp.uniform("mult", 1, 2)},
            {"activation": "tanh"},
        ]),
    }
    searcher = HyperOptSearch(space, metric="mean_loss", mode="min", random_state_seed=0,
                              n_initial_points=5 if smoke_test else 20)
    tuner = tune.Tuner(
        objective,
        tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(searcher, max_concurrent=4),
                                    num_samples=10 if smoke_test else 100),
    )
    results = tuner.fit()
    print("Best hyperparameters found were: ", results.get_best_result("mean_loss", "min").config)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()
    run_hyperopt_tune(smoke_test=args.smoke_test)
