"""The experiment of Ray Tune's ``lightgbm_example.py``, written for tunesmith: tune a
LightGBM classifier on the breast-cancer data that ships with scikit-learn, with ASHA
stopping bad trials early.

Needs: pip install "tunesmith[lightgbm]" scikit-learn
Run:   python examples/lightgbm_example.py --smoke-test
"""

import argparse
from typing import Optional

import lightgbm as lgb
import numpy as np
import sklearn.datasets
import sklearn.metrics
from sklearn.model_selection import train_test_split

import tunesmith as tune
from tunesmith.integration.lightgbm import TuneReportCheckpointCallback
from tunesmith.schedulers import ASHAScheduler


def train_breast_cancer(config: dict) -> None:
    data, target = sklearn.datasets.load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(data, target, test_size=0.25, random_state=0)
    train_set = lgb.Dataset(train_x, label=train_y)
    test_set = lgb.Dataset(test_x, label=test_y, reference=train_set)
    params = dict(config)
    gbm = lgb.train(
        params,
        train_set,
        num_boost_round=params.pop("num_boost_round"),
        valid_sets=[test_set],
        valid_names=["eval"],
        callbacks=[
            # Report LightGBM's "eval-binary_error" as "binary_error", and so on.
            TuneReportCheckpointCallback(
                {"binary_error": "eval-binary_error", "binary_logloss": "eval-binary_logloss"}
            )
        ],
    )
    predictions = np.rint(gbm.predict(test_x))
    print(f"Trial accuracy: {sklearn.metrics.accuracy_score(test_y, predictions):.4f}")


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args(argv)

    config = {
        "objective": "binary",
        "metric": ["binary_error", "binary_logloss"],
        "verbose": -1,
        "num_threads": 1,
        "boosting_type": tune.grid_search(["gbdt", "dart"]),
        "num_leaves": tune.randint(10, 1000),
        "learning_rate": tune.loguniform(1e-8, 1e-1),
        "num_boost_round": 5 if args.smoke_test else 100,
    }
    tuner = tune.Tuner(
        train_breast_cancer,
        tune_config=tune.TuneConfig(
            metric="binary_error",
            mode="min",
            num_samples=1 if args.smoke_test else 2,
            scheduler=ASHAScheduler(),
        ),
        param_space=config,
    )
    results = tuner.fit()
    best_result = results.get_best_result()
    print(f"Best hyperparameters found were: {best_result.config}")
    booster = TuneReportCheckpointCallback.get_model(best_result.checkpoint)
    print(f"Best model has {booster.current_iteration()} trees")


if __name__ == "__main__":
    main()
