import importlib
import os
import sys

import pytest

import tunesmith as tune

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")
datasets = pytest.importorskip("sklearn.datasets")

from tunesmith.integration.pytorch_lightning import (  # noqa: E402
    HOOKS,
    TuneCallback,
    TuneReportCallback,
    TuneReportCheckpointCallback,
)

from _framework_runs import assert_stopped_after_two, checkpoints  # noqa: E402

FINISHED = "training_finished"

# Lightning's advice on a 2-core machine (more dataloader workers, a logger) is noise here.
pytestmark = [pytest.mark.filterwarnings("ignore:The '(train|val)_dataloader' does not have many workers"),
              pytest.mark.filterwarnings("ignore:.*LightningModule.log.*no logger configured"),
              pytest.mark.filterwarnings("ignore:.*isinstance.treespec, LeafSpec.. is deprecated")]


def loaders():
    x, y = datasets.load_iris(return_X_y=True)
    order = [i for start in range(5) for i in range(start, 150, 5)]
    x, y = torch.tensor(x[order], dtype=torch.float32), torch.tensor(y[order])
    train = torch.utils.data.TensorDataset(x[:120], y[:120])
    valid = torch.utils.data.TensorDataset(x[120:], y[120:])
    return torch.utils.data.DataLoader(train, batch_size=40), torch.utils.data.DataLoader(valid, batch_size=30)


class IrisModule(pl.LightningModule):
    def __init__(self, lr=0.05):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
        self.log("val_accuracy", (logits.argmax(dim=1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def trainer(callbacks, epochs):
    return pl.Trainer(max_epochs=epochs, callbacks=callbacks, accelerator="cpu", devices=1, logger=False,
                      enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)


def train_iris(config):
    torch.set_num_threads(1)  # one CPU per trial; torch would take every core
    callback = TuneReportCheckpointCallback(metrics={"loss": "val_loss", "accuracy": "val_accuracy"})
    trainer([callback], config["epochs"]).fit(IrisModule(), *loaders())
    open(os.path.join(tune.get_context().get_trial_dir(), FINISHED), "w").close()


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """One trial of 5 epochs, stopped after its second report."""
    tuner = tune.Tuner(train_iris, param_space={"epochs": 5}, run_config=tune.RunConfig(
        storage_path=str(tmp_path_factory.mktemp("lightning")), verbose=0, stop={"training_iteration": 2}))
    return tuner.fit()


@pytest.mark.slow
def test_each_validation_is_reported_with_the_chosen_names(stopped):
    rows = stopped[0].metrics_dataframe
    assert {"loss", "accuracy"} <= set(rows.columns)
    assert "val_loss" not in rows.columns and "train_loss" not in rows.columns
    assert rows["loss"].dtype.kind == "f" and 0 <= rows["accuracy"].iloc[-1] <= 1


@pytest.mark.slow
def test_a_stopped_trial_ends_fit_after_two_epochs(stopped):
    # the sanity-check validation before training is not reported; trainer.fit did not return
    assert_stopped_after_two(stopped, FINISHED)


@pytest.mark.slow
def test_every_validation_is_checkpointed_and_the_module_loads(stopped):
    result = stopped[0]
    assert checkpoints(result) == ["checkpoint_000000", "checkpoint_000001"]
    with result.checkpoint.as_directory() as folder:
        assert os.listdir(folder) == ["checkpoint"]
        module = IrisModule.load_from_checkpoint(os.path.join(folder, "checkpoint"))
        state = torch.load(os.path.join(folder, "checkpoint"), weights_only=False)
    assert state["epoch"] == 1 and module.hparams.lr == 0.05
    _, valid = loaders()
    x, y = next(iter(valid))
    loss = torch.nn.functional.cross_entropy(module.net(x), y).item()
    assert loss == pytest.approx(result.metrics["loss"], rel=1e-4)


class Recorder:
    """Stands in for ``tunesmith.report`` inside a direct ``fit`` (no trial)."""

    def __init__(self):
        self.reports = []

    def __call__(self, metrics, checkpoint=None):
        self.reports.append((sorted(metrics), sorted(os.listdir(checkpoint.path)) if checkpoint else None))


@pytest.mark.parametrize(
    ("callback", "expected"),
    [
        (lambda: TuneReportCheckpointCallback(filename="ckpt"),
         [(["train_loss", "val_accuracy", "val_loss"], ["ckpt"])] * 2),
        (lambda: TuneReportCheckpointCallback("val_loss", save_checkpoints=False, on="train_epoch_end"),
         [(["val_loss"], None)] * 2),
        (lambda: TuneReportCheckpointCallback(["val_loss", "nope"], on=["validation_end", "train_end"]),
         [(["val_loss"], ["checkpoint"])] * 3),
    ],
)
def test_hooks_metrics_and_checkpoints(callback, expected, monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr("tunesmith.integration.pytorch_lightning.report", recorder)
    trainer([callback()], epochs=2).fit(IrisModule(), *loaders())
    assert recorder.reports == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"on": "epoch_end"}, r"on must be one or more of \['fit_start'.*got 'epoch_end'"),
        ({"on": []}, r"on must be one or more of .*got \[\]"),
        ({"filename": ""}, r"filename=...\) must be a non-empty file name; got ''"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TuneReportCheckpointCallback(**kwargs)


def test_every_hook_is_a_lightning_hook():
    for hook in HOOKS:
        assert callable(getattr(pl.Callback, f"on_{hook}")), hook
        assert getattr(TuneCallback, f"on_{hook}").__name__ == f"on_{hook}"


def test_report_callback_is_deprecated_but_works():
    with pytest.warns(FutureWarning, match="TuneReportCallback is deprecated"):
        callback = TuneReportCallback(metrics="val_loss", on="train_epoch_end")
    assert isinstance(callback, pl.Callback)
    assert not callback._save_checkpoints and callback._on == ["train_epoch_end"]


BLOCK_BOTH = ["lightning", "lightning.pytorch", "pytorch_lightning"]


def test_without_lightning_the_import_names_the_extra(monkeypatch):
    for name in BLOCK_BOTH:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "tunesmith.integration.pytorch_lightning")
    with pytest.raises(ImportError, match=r'needs lightning: pip install "tunesmith\[lightning\]"'):
        importlib.import_module("tunesmith.integration.pytorch_lightning")


@pytest.mark.slow
def test_the_legacy_pytorch_lightning_package_is_used_when_lightning_is_missing(monkeypatch):
    legacy = pytest.importorskip("pytorch_lightning")
    for name in BLOCK_BOTH[:2]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "tunesmith.integration.pytorch_lightning")
    module = importlib.import_module("tunesmith.integration.pytorch_lightning")
    assert module.pl is legacy and issubclass(module.TuneReportCheckpointCallback, legacy.Callback)
