import importlib
import os
import sys

import pytest

import tunesmith as tune

xgb = pytest.importorskip("xgboost")
datasets = pytest.importorskip("sklearn.datasets")

from tunesmith.integration.xgboost import (  # noqa: E402
    TuneReportCallback,
    TuneReportCheckpointCallback,
    flatten_evals_log,
)

from _framework_runs import assert_stopped_after_two, checkpoints, grid_and_stopped  # noqa: E402

FINISHED = "training_finished"


def add_accuracy(metrics):
    return {**metrics, "accuracy": 1.0 - metrics["eval-error"]}


CALLBACKS = {
    "default": lambda: TuneReportCheckpointCallback(),
    "renamed": lambda: TuneReportCheckpointCallback(
        metrics={"loss": "eval-logloss", "eval-error": "eval-error"}, filename="booster.json", frequency=2,
        results_postprocessing_fn=add_accuracy),
    "every_round": lambda: TuneReportCheckpointCallback(frequency=1),
}


def train_breast_cancer(config):
    x, y = datasets.load_breast_cancer(return_X_y=True)
    train, test = xgb.DMatrix(x[:400], label=y[:400]), xgb.DMatrix(x[400:], label=y[400:])
    params = {"objective": "binary:logistic", "eval_metric": ["logloss", "error"], "max_depth": 2, "nthread": 1}
    xgb.train(params, train, num_boost_round=config["rounds"], evals=[(train, "train"), (test, "eval")],
              verbose_eval=False, callbacks=[CALLBACKS[config["callback"]]()])
    open(os.path.join(tune.get_context().get_trial_dir(), FINISHED), "w").close()


def fit(storage, name, param_space, **run_config):
    tuner = tune.Tuner(train_breast_cancer, param_space=param_space,
                       run_config=tune.RunConfig(storage_path=storage, name=name, verbose=0, **run_config))
    return tuner.fit()


def accuracy(booster):
    x, y = datasets.load_breast_cancer(return_X_y=True)
    predictions = booster.predict(xgb.DMatrix(x[400:])) > 0.5
    return (predictions == y[400:]).mean()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return grid_and_stopped(fit, str(tmp_path_factory.mktemp("xgb")))


@pytest.mark.slow
def test_every_round_is_reported_with_xgboost_names_then_the_final_model(results):
    result = results["default"]
    assert result.error is None
    rows = result.metrics_dataframe
    assert list(rows["training_iteration"]) == [1, 2, 3, 4]  # three rounds, then the final checkpoint
    assert {"train-logloss", "train-error", "eval-logloss", "eval-error"} <= set(rows.columns)
    assert rows["eval-logloss"].iloc[2] < rows["eval-logloss"].iloc[0]
    assert checkpoints(result) == ["checkpoint_000000"]
    assert os.path.exists(os.path.join(result.path, FINISHED))


@pytest.mark.slow
def test_get_model_loads_a_working_booster(results):
    result = results["default"]
    booster = TuneReportCheckpointCallback.get_model(result.checkpoint)
    assert booster.num_boosted_rounds() == 3
    assert accuracy(booster) > 0.85
    assert os.listdir(result.checkpoint.path) == ["model.ubj"]


@pytest.mark.slow
def test_metrics_are_renamed_postprocessed_and_checkpointed_every_frequency_rounds(results):
    result = results["renamed"]
    rows = result.metrics_dataframe
    assert {"loss", "eval-error", "accuracy"} <= set(rows.columns)
    assert "train-logloss" not in rows.columns and "eval-logloss" not in rows.columns
    assert rows["accuracy"].iloc[-1] == pytest.approx(1 - rows["eval-error"].iloc[-1])
    # frequency=2 saves round 2; the end of training (round 3) saves once more
    assert checkpoints(result) == ["checkpoint_000000", "checkpoint_000001"]
    assert list(rows["checkpoint_dir_name"].fillna("")) == ["", "checkpoint_000000", "", "checkpoint_000001"]
    booster = TuneReportCheckpointCallback.get_model(result.checkpoint, filename="booster.json")
    assert booster.num_boosted_rounds() == 3


@pytest.mark.slow
def test_a_stopped_trial_ends_training_after_two_rounds(results):
    assert_stopped_after_two(results["stopped"], FINISHED)  # xgb.train did not return
    result = results["stopped"][0]
    assert checkpoints(result) == ["checkpoint_000000", "checkpoint_000001"]
    assert TuneReportCheckpointCallback.get_model(result.checkpoint).num_boosted_rounds() == 2


def test_continued_training_is_not_checkpointed_twice_at_the_end(monkeypatch):
    saved = []
    monkeypatch.setattr("tunesmith.integration._report.report", lambda metrics, checkpoint=None: saved.append(
        checkpoint is not None))
    x, y = datasets.load_breast_cancer(return_X_y=True)
    data, params = xgb.DMatrix(x, label=y), {"objective": "binary:logistic", "nthread": 1}
    first = xgb.train(params, data, num_boost_round=2)
    xgb.train(params, data, num_boost_round=2, xgb_model=first, evals=[(data, "eval")], verbose_eval=False,
              callbacks=[TuneReportCheckpointCallback(frequency=1)])
    assert saved == [True, True]  # rounds 3 and 4; the end of training adds nothing


def test_a_restored_booster_with_no_rounds_left_reports_nothing(monkeypatch):
    # A trial restarted from its last checkpoint (a resource change, a retry) may have no
    # round left to train; an empty result there failed the experiment's metric check.
    saved = []
    monkeypatch.setattr("tunesmith.integration._report.report", lambda metrics, checkpoint=None: saved.append(
        metrics))
    x, y = datasets.load_breast_cancer(return_X_y=True)
    data, params = xgb.DMatrix(x, label=y), {"objective": "binary:logistic", "nthread": 1}
    done = xgb.train(params, data, num_boost_round=2)
    xgb.train(params, data, num_boost_round=0, xgb_model=done, evals=[(data, "eval")], verbose_eval=False,
              callbacks=[TuneReportCheckpointCallback(frequency=1)])
    assert saved == []


@pytest.mark.parametrize(
    ("evals_log", "expected"),
    [
        ({}, {}),
        ({"eval": {"logloss": [0.6, 0.5]}}, {"eval-logloss": 0.5}),
        ({"train": {"rmse": [3.0]}, "eval": {"rmse": [4.0], "mae": [2.0]}},
         {"train-rmse": 3.0, "eval-rmse": 4.0, "eval-mae": 2.0}),
        ({"test": {"logloss": [(0.6, 0.1), (0.5, 0.05)]}}, {"test-logloss-mean": 0.5, "test-logloss-std": 0.05}),
    ],
)
def test_flatten_evals_log(evals_log, expected):
    assert flatten_evals_log(evals_log) == expected


@pytest.mark.filterwarnings("ignore:tune.report.. was called outside a trial")
def test_cv_results_are_reported_as_mean_and_std():
    reported = []
    x, y = datasets.load_breast_cancer(return_X_y=True)
    callback = TuneReportCheckpointCallback(results_postprocessing_fn=lambda m: reported.append(m) or m)
    xgb.cv({"objective": "binary:logistic", "eval_metric": "logloss", "nthread": 1}, xgb.DMatrix(x, label=y),
           num_boost_round=2, nfold=2, callbacks=[callback])
    assert set(reported[-1]) == {"train-logloss-mean", "train-logloss-std", "test-logloss-mean", "test-logloss-std"}


def test_a_missing_metric_names_the_available_ones():
    callback = TuneReportCheckpointCallback(metrics="eval-auc")
    with pytest.raises(KeyError, match=r"'eval-auc' must be one of .*\['eval-logloss'\]"):
        callback.after_iteration(None, 0, {"eval": {"logloss": [0.5]}})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"frequency": -1}, ValueError, r"frequency=...\) must be an int >= 0.*got -1"),
        ({"filename": ""}, ValueError, r"filename=...\) must be a non-empty file name; got ''"),
        ({"metrics": 3}, TypeError, r"metrics=...\) takes None, a metric name.*got 3"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        TuneReportCheckpointCallback(**kwargs)


def test_report_callback_is_deprecated_but_works():
    with pytest.warns(FutureWarning, match="TuneReportCallback is deprecated"):
        callback = TuneReportCallback(metrics="eval-logloss")
    assert isinstance(callback, xgb.callback.TrainingCallback)
    assert callback._frequency == 0 and not callback._checkpoint_at_end


def test_without_xgboost_the_import_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "xgboost", None)
    monkeypatch.delitem(sys.modules, "tunesmith.integration.xgboost")
    with pytest.raises(ImportError, match=r'needs xgboost: pip install "tunesmith\[xgboost\]"'):
        importlib.import_module("tunesmith.integration.xgboost")
