"""The experiment of Ray Tune's ``xgboost_example.py``, written for tunesmith: tune an
XGBoost classifier on the breast-cancer data that ships with scikit-learn, stop bad trials
early with ASHA, and load the best booster from its checkpoint.

Needs: pip install "tunesmith[xgboost]" scikit-learn
Run:   python examples/xgboost_example.py --smoke-test   (add --use-cv for xgboost.cv)
"""

import argparse
from typing import Optional

import sklearn.datasets
import sklearn.metrics
import xgboost as xgb
from sklearn.model_selection import train_test_split

import tunesmith as tune
from tunesmith.integration.xgboost import TuneReportCheckpointCallback
from tunesmith.schedulers import ASHAScheduler


def train_breast_cancer(config: dict) -> None:
    data, labels = sklearn.datasets.load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(data, labels, test_size=0.25, random_state=0)
    train_set = xgb.DMatrix(train_x, label=train_y)
    test_set = xgb.DMatrix(test_x, label=test_y)
    params = dict(config)
    # One report per boosting round ("eval-logloss", "eval-error"), a checkpoint every round.
    xgb.train(params, train_set, num_boost_round=params.pop("num_boost_round"), evals=[(test_set, "eval")],
              verbose_eval=False, callbacks=[TuneReportCheckpointCallback(frequency=1)])


def train_breast_cancer_cv(config: dict) -> None:
    data, labels = sklearn.datasets.load_breast_cancer(return_X_y=True)
    params = dict(config)
    # Under xgboost.cv each round reports the folds' mean and standard deviation,
    # e.g. "test-logloss-mean"; there is no single booster to checkpoint.
    xgb.cv(params, xgb.DMatrix(data, label=labels), num_boost_round=params.pop("num_boost_round"), nfold=3,
           seed=0, callbacks=[TuneReportCheckpointCallback()])


def get_best_model_checkpoint(best_result: tune.Result) -> xgb.Booster:
    best_booster = TuneReportCheckpointCallback.get_model(best_result.checkpoint)
    data, labels = sklearn.datasets.load_breast_cancer(return_X_y=True)
    _, test_x, _, test_y = train_test_split(data, labels, test_size=0.25, random_state=0)
    predictions = best_booster.predict(xgb.DMatrix(test_x)) > 0.5
    accuracy = sklearn.metrics.accuracy_score(test_y, predictions)
    print(f"Best model parameters: {best_result.config}")
    print(f"Best model total accuracy: {accuracy:.4f}")
    return best_booster


def tune_xgboost(smoke_test: bool = False, use_cv: bool = False) -> tune.ResultGrid:
    search_space = {
        "objective": "binary:logistic",
        "eval_metric": ["logloss", "error"],
        "max_depth": tune.randint(1, 9),
        "min_child_weight": tune.choice([1, 2, 3]),
        "subsample": tune.uniform(0.5, 1.0),
        "eta": tune.loguniform(1e-4, 1e-1),
        "nthread": 1,
        "num_boost_round": 3 if smoke_test else 10,
    }
    # Stop the worst trials early, and give the better ones more rounds.
    scheduler = ASHAScheduler(max_t=10, grace_period=1, reduction_factor=2)
    tuner = tune.Tuner(
        train_breast_cancer_cv if use_cv else train_breast_cancer,
        tune_config=tune.TuneConfig(
            metric="test-logloss-mean" if use_cv else "eval-logloss",
            mode="min",
            scheduler=scheduler,
            num_samples=2 if smoke_test else 10,
        ),
        param_space=search_space,
    )
    return tuner.fit()


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    parser.add_argument("--use-cv", action="store_true", help="Use `xgb.cv` instead of `xgb.train`.")
    args, _ = parser.parse_known_args(argv)

    results = tune_xgboost(smoke_test=args.smoke_test, use_cv=args.use_cv)
    best_result = results.get_best_result()
    if args.use_cv:
        print(f"Best model parameters: {best_result.config}")
        print(f"Best mean test logloss: {best_result.metrics['test-logloss-mean']:.4f}")
    else:
        get_best_model_checkpoint(best_result)


if __name__ == "__main__":
    main()
