"""The experiment of Ray Tune's ``xgboost_dynamic_resources_example.py``, written for
tunesmith: trials get more CPUs as other trials finish.

``ResourceChangingScheduler`` wraps ASHA. After each result an allocation function may
give the trial a new resource request; the trial is then paused, restarted from its
latest checkpoint with the new resources, and reads them with
``tune.get_context().get_trial_resources()`` to set XGBoost's ``nthread``.

Needs: pip install "tunesmith[xgboost]" scikit-learn
Run:   python examples/xgboost_dynamic_resources_example.py --smoke-test
       (add --custom-allocation for the hand-written allocation function below)
"""

import argparse
from typing import Any, Optional

import sklearn.datasets
import sklearn.metrics
import xgboost as xgb
from sklearn.model_selection import train_test_split

import tunesmith as tune
from tunesmith.integration.xgboost import TuneReportCheckpointCallback
from tunesmith.schedulers import ASHAScheduler, ResourceChangingScheduler
from tunesmith.schedulers.resource_changing_scheduler import DistributeResources

CHECKPOINT_FILENAME = "booster-checkpoint.json"


def get_best_model_checkpoint(best_result: tune.Result) -> xgb.Booster:
    best_booster = TuneReportCheckpointCallback.get_model(best_result.checkpoint, filename=CHECKPOINT_FILENAME)
    data, labels = sklearn.datasets.load_breast_cancer(return_X_y=True)
    _, test_x, _, test_y = train_test_split(data, labels, test_size=0.25, random_state=0)
    accuracy = sklearn.metrics.accuracy_score(test_y, best_booster.predict(xgb.DMatrix(test_x)) > 0.5)
    print(f"Best model parameters: {best_result.config}")
    print(f"Best model total accuracy: {accuracy:.4f}")
    return best_booster


def train_breast_cancer(config: dict) -> None:
    data, labels = sklearn.datasets.load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(data, labels, test_size=0.25, random_state=0)
    train_set = xgb.DMatrix(train_x, label=train_y)
    test_set = xgb.DMatrix(test_x, label=test_y)

    params = dict(config)
    num_boost_round = params.pop("num_boost_round")
    # Use as many threads as this attempt was given CPUs; it changes between attempts.
    params["nthread"] = int(tune.get_context().get_trial_resources().required_resources["CPU"])
    print(f"nthread: {params['nthread']}")

    # After a resource change the trial restarts here: continue from the saved booster.
    booster = None
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        booster = TuneReportCheckpointCallback.get_model(checkpoint, filename=CHECKPOINT_FILENAME)
        num_boost_round -= booster.num_boosted_rounds()

    xgb.train(
        params,
        train_set,
        num_boost_round=num_boost_round,
        evals=[(test_set, "eval")],
        verbose_eval=False,
        xgb_model=booster,
        # A checkpoint every round, so a restarted trial loses nothing.
        callbacks=[TuneReportCheckpointCallback(filename=CHECKPOINT_FILENAME, frequency=1)],
    )


def example_resources_allocation_function(
    context: Any, trial: Any, result: dict, scheduler: ResourceChangingScheduler
) -> Optional[dict]:
    """Share the CPUs evenly among the live trials, never going below the base request.

    ``context`` answers ``get_live_trials()`` and holds ``total_resources`` (where Ray Tune
    passes its controller). Returning None, or the trial's current resources, changes
    nothing. :class:`DistributeResources` is the complete version of this idea.
    """
    if result["training_iteration"] < 1:
        return None
    base_cpus = scheduler.base_trial_resources["cpu"]
    live_trials = max(len(context.get_live_trials()), 1)
    cpus = max(base_cpus, context.total_resources["cpu"] // live_trials)
    return {"cpu": cpus, "gpu": 0}


def tune_xgboost(smoke_test: bool = False, custom_allocation: bool = False) -> tune.ResultGrid:
    search_space = {
        "objective": "binary:logistic",
        "eval_metric": ["logloss", "error"],
        "max_depth": tune.randint(1, 9),
        "min_child_weight": tune.choice([1, 2, 3]),
        "subsample": tune.uniform(0.5, 1.0),
        "eta": tune.loguniform(1e-4, 1e-1),
        "num_boost_round": 4 if smoke_test else 10,
    }
    base_scheduler = ASHAScheduler(max_t=16, grace_period=1, reduction_factor=2)
    allocation = example_resources_allocation_function if custom_allocation else DistributeResources(add_bundles=False)
    scheduler = ResourceChangingScheduler(base_scheduler=base_scheduler, resources_allocation_function=allocation)

    tuner = tune.Tuner(
        tune.with_resources(train_breast_cancer, resources={"cpu": 1}),
        tune_config=tune.TuneConfig(
            metric="eval-logloss",
            mode="min",
            num_samples=2 if smoke_test else 8,
            scheduler=scheduler,
        ),
        param_space=search_space,
    )
    return tuner.fit()


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    parser.add_argument("--custom-allocation", action="store_true",
                        help="Use example_resources_allocation_function instead of DistributeResources")
    args, _ = parser.parse_known_args(argv)

    # Four CPUs, whether or not the machine has them, so that resources visibly change.
    tune.init(num_cpus=4)
    results = tune_xgboost(smoke_test=args.smoke_test, custom_allocation=args.custom_allocation)
    for result in results:
        print(f"{result.path.rsplit('/', 1)[-1]}: {len(result.metrics_dataframe)} rounds, error={result.error!r}")
    get_best_model_checkpoint(results.get_best_result())


if __name__ == "__main__":
    main()
