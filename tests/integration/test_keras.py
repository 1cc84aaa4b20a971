import importlib
import os
import sys

import pytest

import tunesmith as tune

# Keras 3 picks its backend at first import; tensorflow is not a test dependency.
os.environ.setdefault("KERAS_BACKEND", "torch")
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
datasets = pytest.importorskip("sklearn.datasets")

from tunesmith.integration.keras import (  # noqa: E402
    HOOKS,
    MODEL_FILENAME,
    TuneReportCallback,
    TuneReportCheckpointCallback,
)

from _framework_runs import assert_stopped_after_two, checkpoints  # noqa: E402

FINISHED = "training_finished"

# Keras's torch backend trips numpy 2's __array__(copy=...) deprecation; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def iris():
    x, y = datasets.load_iris(return_X_y=True)
    order = [i for start in range(5) for i in range(start, 150, 5)]  # classes mixed, split reproducible
    return x[order].astype("float32"), y[order]


def tiny_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train_iris(config):
    torch.set_num_threads(1)  # one CPU per trial; torch would take every core
    x, y = iris()
    callback = TuneReportCheckpointCallback(metrics=config["metrics"])
    tiny_model().fit(x, y, validation_split=0.2, epochs=config["epochs"], batch_size=32, verbose=0,
                     callbacks=[callback])
    open(os.path.join(tune.get_context().get_trial_dir(), FINISHED), "w").close()


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """One trial of 5 epochs, stopped after its second report."""
    space = {"epochs": 5, "metrics": {"loss": "val_loss", "accuracy": "val_accuracy", "train_loss": "loss"}}
    tuner = tune.Tuner(train_iris, param_space=space, run_config=tune.RunConfig(
        storage_path=str(tmp_path_factory.mktemp("keras")), verbose=0, stop={"training_iteration": 2}))
    return tuner.fit()


@pytest.mark.slow
def test_each_epoch_is_reported_with_the_chosen_names(stopped):
    rows = stopped[0].metrics_dataframe
    assert {"loss", "accuracy", "train_loss"} <= set(rows.columns)
    assert "val_loss" not in rows.columns
    assert rows["loss"].dtype.kind == "f" and 0 <= rows["accuracy"].iloc[-1] <= 1


@pytest.mark.slow
def test_a_stopped_trial_ends_fit_after_two_epochs(stopped):
    assert_stopped_after_two(stopped, FINISHED)  # model.fit did not return


@pytest.mark.slow
def test_every_epoch_is_checkpointed_and_the_model_loads(stopped):
    result = stopped[0]
    assert checkpoints(result) == ["checkpoint_000000", "checkpoint_000001"]
    with result.checkpoint.as_directory() as folder:
        assert os.listdir(folder) == [MODEL_FILENAME]
        model = keras.models.load_model(os.path.join(folder, MODEL_FILENAME))
    x, y = iris()
    loss, accuracy = model.evaluate(x[120:], y[120:], verbose=0)
    assert loss == pytest.approx(result.metrics["loss"], rel=1e-4)
    assert accuracy == pytest.approx(result.metrics["accuracy"], rel=1e-4)


class Recorder:
    """Stands in for ``tunesmith.report`` inside a direct ``fit`` (no trial)."""

    def __init__(self):
        self.reports = []

    def __call__(self, metrics, checkpoint=None):
        files = sorted(os.listdir(checkpoint.path)) if checkpoint else None
        self.reports.append((metrics, files))


@pytest.mark.filterwarnings("ignore:tune.report.. was called outside a trial")
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, [("epoch_end", True)] * 2),
        ({"checkpoint_on": [], "report_metrics_on": ["train_batch_end", "epoch_end"]},
         [("batch", False)] * 2 + [("epoch_end", False)] + [("batch", False)] * 2 + [("epoch_end", False)]),
        ({"checkpoint_on": "train_end", "report_metrics_on": "epoch_end"},
         [("epoch_end", False)] * 2 + [("epoch_end", True)]),  # train_end gets the last epoch's logs
    ],
)
def test_hooks_decide_when_to_report_and_checkpoint(kwargs, expected, monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr("tunesmith.integration.keras.report", recorder)
    x, y = iris()
    tiny_model().fit(x[:60], y[:60], validation_data=(x[60:90], y[60:90]), epochs=2, batch_size=32, verbose=0,
                     callbacks=[TuneReportCheckpointCallback(**kwargs)])
    kinds = [("epoch_end" if "val_loss" in metrics else "batch", files == [MODEL_FILENAME])
             for metrics, files in recorder.reports]
    assert kinds == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"checkpoint_on": "validation_end"}, r"checkpoint_on must be one or more of \[.*'epoch_end'.*got 'validation_end'"),
        ({"report_metrics_on": ["epoch_end", "batch_end"]}, r"report_metrics_on must be one or more of .*got \['epoch_end', 'batch_end'\]"),
    ],
)
def test_unknown_hooks_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TuneReportCheckpointCallback(**kwargs)


def test_a_missing_metric_names_the_available_ones():
    callback = TuneReportCheckpointCallback(metrics="val_auc")
    with pytest.raises(KeyError, match=r"'val_auc' must be one of the metrics in the Keras logs at epoch_end; got only \['loss'\]"):
        callback.on_epoch_end(0, {"loss": 0.5})


def test_report_callback_is_deprecated_but_works():
    with pytest.warns(FutureWarning, match="TuneReportCallback is deprecated"):
        callback = TuneReportCallback(metrics="val_loss", on=["epoch_end", "train_end"])
    assert isinstance(callback, keras.callbacks.Callback)
    assert callback._checkpoint_on == [] and callback._report_on == ["epoch_end", "train_end"]
    assert set(HOOKS) >= {"epoch_end", "train_batch_end", "test_end"}


def test_without_keras_the_import_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)
    monkeypatch.delitem(sys.modules, "tunesmith.integration.keras")
    with pytest.raises(ImportError, match=r'needs keras: pip install "tunesmith\[keras\]"'):
        importlib.import_module("tunesmith.integration.keras")
