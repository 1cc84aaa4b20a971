"""Tune a small PyTorch Lightning classifier on the 8x8 digits that ship with scikit-learn
(the experiment of Ray Tune's ``mnist_ptl_mini.py``, written for tunesmith, on data that
needs no download).

Every validation run reports ``loss`` and ``mean_accuracy`` and saves a Lightning
checkpoint; ASHA stops the worst trials early, and the best module is loaded back at the end.
Works with ``lightning`` (as here) and with the older ``pytorch_lightning`` package.

Needs: pip install "tunesmith[lightning]" scikit-learn
Run:   python examples/pytorch_lightning_example.py --smoke-test
"""

import argparse
import os
from typing import Optional

import lightning.pytorch as pl
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

import tunesmith as tune
from tunesmith.integration.pytorch_lightning import TuneReportCheckpointCallback
from tunesmith.schedulers import ASHAScheduler


class DigitsClassifier(pl.LightningModule):
    def __init__(self, layer_size: int = 32, lr: float = 1e-2) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(64, layer_size), torch.nn.ReLU(), torch.nn.Linear(layer_size, 10)
        )

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


def data_loaders(batch_size: int) -> tuple:
    images, labels = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(images / 16.0, labels, test_size=0.25, random_state=0)

    def dataset(x, y):
        return TensorDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(y))

    return (DataLoader(dataset(x_train, y_train), batch_size=batch_size, shuffle=True),
            DataLoader(dataset(x_test, y_test), batch_size=256))


def train_digits(config: dict) -> None:
    # As many torch threads as the trial has CPUs (by default torch takes every core).
    torch.set_num_threads(int(tune.get_context().get_trial_resources().required_resources["CPU"]))
    model = DigitsClassifier(layer_size=config["layer_size"], lr=config["lr"])
    trainer = pl.Trainer(
        max_epochs=config["epochs"],
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        callbacks=[TuneReportCheckpointCallback({"loss": "val_loss", "mean_accuracy": "val_accuracy"},
                                                on="validation_end")],
    )
    trainer.fit(model, *data_loaders(config["batch_size"]))


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args(argv)

    tuner = tune.Tuner(
        train_digits,
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", scheduler=ASHAScheduler(max_t=20, grace_period=2),
            num_samples=2 if args.smoke_test else 10,
        ),
        param_space={
            "epochs": 2 if args.smoke_test else 20,
            "layer_size": tune.choice([32, 64, 128]),
            "lr": tune.loguniform(1e-4, 1e-1),
            "batch_size": tune.choice([32, 64]),
        },
    )
    best = tuner.fit().get_best_result()
    print(f"Best hyperparameters found were: {best.config}")
    with best.checkpoint.as_directory() as folder:
        model = DigitsClassifier.load_from_checkpoint(os.path.join(folder, "checkpoint"))
    print(f"Best model reloaded from its checkpoint: layer_size={model.hparams.layer_size}, "
          f"mean_accuracy={best.metrics['mean_accuracy']:.4f}")


if __name__ == "__main__":
    main()
