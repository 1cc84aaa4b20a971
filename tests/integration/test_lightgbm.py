import importlib
import os
import sys

import pytest

import tunesmith as tune

lgb = pytest.importorskip("lightgbm")
datasets = pytest.importorskip("sklearn.datasets")

from tunesmith.integration.lightgbm import (  # noqa: E402
    TuneReportCallback,
    TuneReportCheckpointCallback,
    flatten_evaluation,
)

from _framework_runs import assert_stopped_after_two, checkpoints, grid_and_stopped  # noqa: E402

FINISHED = "training_finished"
PARAMS = {"objective": "regression", "metric": ["l2", "l1"], "num_leaves": 4, "num_threads": 1, "verbose": -1}

CALLBACKS = {
    "default": lambda: TuneReportCheckpointCallback(),
    "renamed": lambda: TuneReportCheckpointCallback(
        metrics={"mse": "eval-l2"}, filename="booster.txt", frequency=2, checkpoint_at_end=False,
        results_postprocessing_fn=lambda m: {**m, "rmse": m["mse"] ** 0.5}),
    "every_round": lambda: TuneReportCheckpointCallback(frequency=1),
}


def split():
    x, y = datasets.load_diabetes(return_X_y=True)
    return x[:350], y[:350], x[350:], y[350:]


def train_diabetes(config):
    x, y, x_test, y_test = split()
    train = lgb.Dataset(x, label=y)
    lgb.train(PARAMS, train, num_boost_round=config["rounds"],
              valid_sets=[train, lgb.Dataset(x_test, label=y_test, reference=train)], valid_names=["train", "eval"],
              callbacks=[CALLBACKS[config["callback"]]()])
    open(os.path.join(tune.get_context().get_trial_dir(), FINISHED), "w").close()


def fit(storage, name, param_space, **run_config):
    tuner = tune.Tuner(train_diabetes, param_space=param_space,
                       run_config=tune.RunConfig(storage_path=storage, name=name, verbose=0, **run_config))
    return tuner.fit()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return grid_and_stopped(fit, str(tmp_path_factory.mktemp("lgb")))


@pytest.mark.slow
def test_every_round_is_reported_with_lightgbm_names(results):
    result = results["default"]
    assert result.error is None
    rows = result.metrics_dataframe
    assert list(rows["training_iteration"]) == [1, 2, 3]
    assert {"train-l2", "train-l1", "eval-l2", "eval-l1"} <= set(rows.columns)
    assert rows["train-l2"].iloc[-1] < rows["train-l2"].iloc[0]
    # checkpoint_at_end saves on the last round itself
    assert list(rows["checkpoint_dir_name"].fillna("")) == ["", "", "checkpoint_000000"]
    assert os.path.exists(os.path.join(result.path, FINISHED))


@pytest.mark.slow
def test_get_model_loads_a_working_booster(results):
    booster = TuneReportCheckpointCallback.get_model(results["default"].checkpoint)
    assert booster.current_iteration() == 3
    x, y, x_test, y_test = split()
    assert ((booster.predict(x_test) - y_test) ** 2).mean() == pytest.approx(results["default"].metrics["eval-l2"])


@pytest.mark.slow
def test_metrics_are_renamed_postprocessed_and_checkpointed_every_frequency_rounds(results):
    result = results["renamed"]
    rows = result.metrics_dataframe
    assert {"mse", "rmse"} <= set(rows.columns) and "eval-l1" not in rows.columns
    assert rows["rmse"].iloc[-1] == pytest.approx(rows["mse"].iloc[-1] ** 0.5)
    assert checkpoints(result) == ["checkpoint_000000"]  # round 2 only: checkpoint_at_end=False
    booster = TuneReportCheckpointCallback.get_model(result.checkpoint, filename="booster.txt")
    assert booster.current_iteration() == 2


@pytest.mark.slow
def test_a_stopped_trial_ends_training_after_two_rounds(results):
    assert_stopped_after_two(results["stopped"], FINISHED)  # lgb.train did not return
    result = results["stopped"][0]
    assert checkpoints(result) == ["checkpoint_000000", "checkpoint_000001"]
    assert TuneReportCheckpointCallback.get_model(result.checkpoint).current_iteration() == 2


@pytest.mark.parametrize(
    ("evaluation", "expected"),
    [
        ([], {}),
        ([("valid_0", "l2", 3.0, False)], {"valid_0-l2": 3.0}),
        ([("train", "auc", 0.9, True), ("eval", "auc", 0.8, True)], {"train-auc": 0.9, "eval-auc": 0.8}),
        ([("valid", "l2", 3.0, False, 0.5)], {"valid-l2-mean": 3.0, "valid-l2-stdv": 0.5}),
    ],
)
def test_flatten_evaluation(evaluation, expected):
    assert flatten_evaluation(evaluation) == expected


@pytest.mark.filterwarnings("ignore:tune.report.. was called outside a trial")
def test_cv_results_are_reported_as_mean_and_stdv():
    reported = []
    x, y, _, _ = split()
    callback = TuneReportCheckpointCallback(checkpoint_at_end=False,
                                            results_postprocessing_fn=lambda m: reported.append(m) or m)
    lgb.cv({**PARAMS, "metric": "l2"}, lgb.Dataset(x, label=y), num_boost_round=2, nfold=2, stratified=False,
           callbacks=[callback])
    assert reported[-1].keys() == {"valid-l2-mean", "valid-l2-stdv"}


def test_runs_before_early_stopping():
    assert TuneReportCheckpointCallback.order < lgb.early_stopping(1).order


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"frequency": 1.5}, ValueError, r"frequency=...\) must be an int >= 0.*got 1.5"),
        ({"filename": None}, ValueError, r"filename=...\) must be a non-empty file name; got None"),
        ({"metrics": {"a": 1}}, TypeError, r"metrics=...\) takes None, a metric name.*got \{'a': 1\}"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        TuneReportCheckpointCallback(**kwargs)


def test_report_callback_is_deprecated_but_works():
    with pytest.warns(FutureWarning, match="TuneReportCallback is deprecated"):
        callback = TuneReportCallback(metrics="eval-l2")
    assert callback._frequency == 0 and not callback._checkpoint_at_end


def test_without_lightgbm_the_import_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    monkeypatch.delitem(sys.modules, "tunesmith.integration.lightgbm")
    with pytest.raises(ImportError, match=r'needs lightgbm: pip install "tunesmith\[lightgbm\]"'):
        importlib.import_module("tunesmith.integration.lightgbm")
