"""Keras + HyperOpt: HyperOpt's TPE chooses the activation of a Keras network's first layer
(with its width and learning rate) on the 8x8 digits that ship with scikit-learn, so nothing
is downloaded.

Each epoch reports the validation accuracy through
``tunesmith.integration.keras.TuneReportCheckpointCallback``; trials stop at 99 % accuracy
or after the last epoch. Keras runs on PyTorch here (``KERAS_BACKEND=torch``, set before
Keras is imported; the trial processes inherit it), so TensorFlow is not needed.

Run:   python examples/keras_hyperopt.py --smoke-test
Needs: pip install "tunesmith[keras,hyperopt]" torch scikit-learn
"""

import argparse
import os

os.environ["KERAS_BACKEND"] = "torch"  # before the first "import keras", here and in every trial

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import tunesmith as tune  # noqa: E402
from tunesmith.integration.keras import TuneReportCheckpointCallback  # noqa: E402
from tunesmith.search.hyperopt import HyperOptSearch  # noqa: E402


def load_data():
    images, labels = load_digits(return_X_y=True)
    return train_test_split(images.astype("float32") / 16.0, labels, test_size=0.25, random_state=0)


def train_digits(config):
    import torch

    torch.set_num_threads(1)  # one CPU per trial; by default torch takes every core
    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = load_data()
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(config["hidden"], activation=config["activation"]),  # the tuned first layer
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(config["lr"]),
                  metrics=["accuracy"])
    model.fit(
        x_train, y_train, batch_size=64, epochs=config["epochs"], verbose=0, validation_data=(x_test, y_test),
        # Report every epoch; no model checkpoints (this search only compares configs).
        callbacks=[TuneReportCheckpointCallback(checkpoint_on=[], metrics={"mean_accuracy": "val_accuracy"})],
    )


def tune_digits(smoke_test=False):
    searcher = HyperOptSearch(
        random_state_seed=0,
        n_initial_points=3 if smoke_test else 10,
        points_to_evaluate=[{"activation": "relu", "hidden": 64, "lr": 0.01}],  # a known good start
    )
    tuner = tune.Tuner(
        train_digits,
        tune_config=tune.TuneConfig(metric="mean_accuracy", mode="max", search_alg=searcher,
                                    num_samples=4 if smoke_test else 30),
        run_config=tune.RunConfig(name="keras_hyperopt", stop={"mean_accuracy": 0.99}),
        param_space={
            "activation": tune.choice(["relu", "tanh", "elu", "sigmoid"]),
            "hidden": tune.randint(16, 129),
            "lr": tune.loguniform(1e-3, 1e-1),
            "epochs": 3 if smoke_test else 30,
        },
    )
    return tuner.fit()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args(argv)
    best = tune_digits(smoke_test=args.smoke_test).get_best_result()
    print(f"Best first-layer activation: {best.config['activation']} "
          f"(hidden={best.config['hidden']}, lr={best.config['lr']:.4f}): "
          f"validation accuracy {best.metrics['mean_accuracy']:.4f}")


if __name__ == "__main__":
    main()
