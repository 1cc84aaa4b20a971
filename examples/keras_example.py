"""Tune a small Keras network on the 8x8 digits that ship with scikit-learn (the experiment
of Ray Tune's ``tune_mnist_keras.py``, written for tunesmith, on data that needs no
download).

Each epoch reports ``mean_accuracy`` (Keras's ``val_accuracy``) and saves the model;
ASHA stops the worst trials early, and the best model is loaded back at the end.

Keras 3 runs on TensorFlow, JAX or PyTorch; this example uses PyTorch unless
``KERAS_BACKEND`` says otherwise.

Needs: pip install "tunesmith[keras]" torch scikit-learn
Run:   python examples/keras_example.py --smoke-test
"""

import argparse
import os
from typing import Optional

# Keras reads its backend when first imported; the trial processes inherit this setting.
os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import tunesmith as tune  # noqa: E402
from tunesmith.integration.keras import TuneReportCheckpointCallback  # noqa: E402
from tunesmith.schedulers import AsyncHyperBandScheduler  # noqa: E402


def load_data() -> tuple:
    images, labels = load_digits(return_X_y=True)
    return train_test_split(images.astype("float32") / 16.0, labels, test_size=0.25, random_state=0)


def train_digits(config: dict) -> None:
    if keras.backend.backend() == "torch":
        import torch

        # As many torch threads as the trial has CPUs (by default torch takes every core).
        torch.set_num_threads(int(tune.get_context().get_trial_resources().required_resources["CPU"]))
    x_train, x_test, y_train, y_test = load_data()
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(config["hidden"], activation="relu"),
        keras.layers.Dropout(config["dropout"]),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=keras.optimizers.SGD(learning_rate=config["lr"], momentum=config["momentum"]),
        metrics=["accuracy"],
    )
    model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=config["epochs"],
        verbose=0,
        validation_data=(x_test, y_test),
        callbacks=[TuneReportCheckpointCallback(metrics={"mean_accuracy": "val_accuracy"})],
    )


def tune_digits(smoke_test: bool = False) -> tune.ResultGrid:
    scheduler = AsyncHyperBandScheduler(max_t=100, grace_period=2)
    tuner = tune.Tuner(
        train_digits,
        tune_config=tune.TuneConfig(
            metric="mean_accuracy", mode="max", scheduler=scheduler, num_samples=2 if smoke_test else 10
        ),
        run_config=tune.RunConfig(stop={"mean_accuracy": 0.99}),
        param_space={
            "epochs": 2 if smoke_test else 20,
            "hidden": tune.randint(32, 128),
            "dropout": tune.uniform(0.0, 0.3),
            "lr": tune.uniform(0.01, 0.2),
            "momentum": tune.uniform(0.1, 0.9),
        },
    )
    return tuner.fit()


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args(argv)

    best = tune_digits(smoke_test=args.smoke_test).get_best_result()
    print(f"Best hyperparameters found were: {best.config}")
    with best.checkpoint.as_directory() as folder:
        model = keras.models.load_model(os.path.join(folder, "model.keras"))
    x_train, x_test, y_train, y_test = load_data()
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Best model accuracy, reloaded from its checkpoint: {accuracy:.4f}")


if __name__ == "__main__":
    main()
